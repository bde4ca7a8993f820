"""Where ufopctl finds the gateway and the keys: flags, then ``UFOP_URL``/``UFOP_AK``/
``UFOP_SK``, then the file ``ufopctl login`` wrote (``<config dir>/ufopctl/config.json``,
mode 0600: it holds a secret key)."""
import json
import os
from dataclasses import dataclass
from pathlib import Path

import click

DEFAULT_URL = "http://127.0.0.1:8080"
ENV = {"url": "UFOP_URL", "ak": "UFOP_AK", "sk": "UFOP_SK"}


def config_path():
    return Path(click.get_app_dir("ufopctl")) / "config.json"


def load_saved():
    """What ``login`` saved, or {} (a file that cannot be read is an error worth saying)."""
    path = config_path()
    if not path.exists():
        return {}
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot read {path}: {exc}; run `ufopctl login` again")
    return saved if isinstance(saved, dict) else {}


def save(url, ak, sk):
    """Write the profile readable by its owner only (0600, also when the file existed)."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"url": url, "ak": ak, "sk": sk}, out, indent=2)
        out.write("\n")
    return path


@dataclass
class Profile:
    url: str
    ak: str | None
    sk: str | None

    @property
    def has_keys(self):
        return bool(self.ak and self.sk)


def resolve(url=None, ak=None, sk=None):
    """Each value from the first of: the flag, the environment, the saved profile."""
    saved = load_saved()
    flags = {"url": url, "ak": ak, "sk": sk}
    chosen = {}
    for key, variable in ENV.items():
        chosen[key] = flags[key] or os.environ.get(variable) or saved.get(key)
    return Profile(normalize_url(chosen["url"] or DEFAULT_URL), chosen["ak"], chosen["sk"])


def normalize_url(url):
    """``127.0.0.1:8080`` -> ``http://127.0.0.1:8080``; no trailing slash."""
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = "http://" + url
    return url
