"""What the ``make bench`` scripts share: a RabbitMQ vhost of the run, a fresh platform on a
data directory of its own, requests signed as its admin, build contexts and waits.

The scripts import it as ``harness`` (``python tests/bench/<name>.py`` puts this directory first
on ``sys.path``).
"""
import io
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from urllib.parse import quote, urlparse

import docker
import requests

from ufop_common.auth import sign_qiniu
from ufop_common.config import DEFAULT_AMQP_URI
from ufop_common.launcher import Stack

MANAGEMENT_URL = os.environ.get("UFOP_RABBIT_MANAGEMENT", "http://guest:guest@127.0.0.1:15672")


class Timeout(RuntimeError):
    """``wait_for`` ran out of time."""


def say(text):
    print(f"bench: {text}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fresh_run_dir(name):
    """``$UFOP_DATA_DIR/<name>`` (``./var`` by default), emptied; SIGTERM then exits 143, so
    that the caller's ``finally`` clauses clean up."""
    run_dir = Path(os.environ.get("UFOP_DATA_DIR", "./var")).resolve() / name
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return run_dir


def close_run_dir(run_dir, remove):
    """Remove the run's directory, or say where its logs are kept."""
    if remove:
        shutil.rmtree(run_dir, ignore_errors=True)
    else:
        say(f"logs kept in {run_dir}")


class Vhost:
    """A RabbitMQ vhost made for this run through the management API, deleted at the end.

    Without the management API the run uses the vhost of ``amqp_uri`` (by default
    ``UFOP_AMQP_URI``) as it is.
    """

    def __init__(self, amqp_uri=None):
        amqp_uri = amqp_uri or os.environ.get("UFOP_AMQP_URI") or DEFAULT_AMQP_URI
        self.base, self.uri, self.name = urlparse(amqp_uri), amqp_uri, None

    def __enter__(self):
        name = "ufop_bench_" + secrets.token_hex(5)
        api = f"{MANAGEMENT_URL}/api"
        try:
            requests.put(f"{api}/vhosts/{name}", timeout=10).raise_for_status()
            self.name = name
            requests.put(f"{api}/permissions/{name}/{quote(self.base.username or 'guest')}",
                         json={"configure": ".*", "write": ".*", "read": ".*"},
                         timeout=10).raise_for_status()
            self.uri = f"{self.base.scheme}://{self.base.netloc}/{name}"
        except requests.RequestException as exc:
            say(f"no management API ({exc.__class__.__name__}); using {self.uri} as it is")
        return self

    def __exit__(self, *exc):
        if self.name:
            try:
                requests.delete(f"{MANAGEMENT_URL}/api/vhosts/{self.name}", timeout=10)
            except requests.RequestException:
                pass


def start_platform(data_dir, amqp_uri, **extra_env):
    """A started ``Stack`` on ``data_dir``: this environment without its UFOP_*_DB variables, a
    free port, random admin keys, and ``extra_env`` (values made strings)."""
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("UFOP_") and k.endswith("_DB"))}
    env.update(UFOP_DATA_DIR=str(data_dir), UFOP_AMQP_URI=amqp_uri,
               UFOP_GATEWAY_ADDR=f"127.0.0.1:{free_port()}",
               UFOP_ADMIN_AK="bench-admin-" + secrets.token_hex(4),
               UFOP_ADMIN_SK=secrets.token_urlsafe(24))
    env.update({key: str(value) for key, value in extra_env.items()})
    return Stack(env=env).start()


def signed_as(ak, sk, host, method, path, content_type=None, body=b""):
    """The headers of a request signed with ``ak``/``sk`` (``Qiniu``, no ``X-Qiniu-Date``)."""
    headers = {"Authorization": sign_qiniu(ak, sk, method, path, host, content_type, body)}
    if content_type:
        headers["Content-Type"] = content_type
    return headers


def signed(stack, method, path, content_type=None, body=b""):
    """The headers of a request to ``stack``'s gateway signed as its admin."""
    return signed_as(stack.env["UFOP_ADMIN_AK"], stack.env["UFOP_ADMIN_SK"],
                     urlparse(stack.gateway_url).netloc, method, path, content_type, body)


def call(stack, method, path, body=None, content_type="application/json", timeout=60):
    """A request signed as the admin; its ``data`` (raises unless 200). A dict body is sent as
    JSON, a str encoded; ``content_type`` goes with any body."""
    if isinstance(body, dict):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    headers = signed(stack, method, path, content_type if body is not None else None,
                     body or b"")
    answer = requests.request(method, stack.gateway_url + path, data=body, headers=headers,
                              timeout=timeout)
    if answer.status_code != 200:
        raise RuntimeError(f"{method} {path}: {answer.status_code} {answer.text}")
    return answer.json().get("data")


def wait_for(predicate, what, deadline, interval=0.02):
    """The first true value of ``predicate()``, polled every ``interval`` s; ``Timeout`` after
    ``deadline`` s."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise Timeout(f"not within {deadline} s: {what}")


def wait_built(stack, ufop, version, deadline, interval):
    """The state of ``ufop``'s ``version`` once it is no longer ``building``."""
    def ended():
        for row in call(stack, "GET", f"/api/ufops/{ufop}/versions"):
            if row["version"] == version:
                return row["state"] != "building" and row["state"]
        raise RuntimeError(f"{ufop} has no version {version}")

    return wait_for(ended, "the build", deadline, interval)


def build_context(files):
    """A gzipped tar of ``(name, data, mode)`` files, as bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data, mode in files:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def remove_images(repo, deadline=30):
    """Wait for the registry to remove the run's images; remove what is left after that."""
    client = docker.from_env()
    end = time.monotonic() + deadline
    while (left := client.api.images(name=repo)) and time.monotonic() < end:
        time.sleep(0.5)
    for image in left:
        client.api.remove_image(image["Id"], force=True)
    client.close()


# -- wrk (HTTP load) ---------------------------------------------------------------------------------
UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def to_ms(text):
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * UNIT_MS[unit]


def parse_wrk(output):
    """Requests/s, p50 and p99 (ms) and the count of failed requests from ``wrk --latency``."""
    def find(pattern):
        match = re.search(pattern, output, re.MULTILINE)
        return match.group(1) if match else None

    errors = int(find(r"Non-2xx or 3xx responses:\s+(\d+)") or 0)
    socket_errors = find(r"Socket errors:(.*)$")
    if socket_errors:
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors))
    return {"requests": int(find(r"(\d+) requests in")),
            "rps": float(find(r"^Requests/sec:\s+([\d.]+)")),
            "p50": to_ms(find(r"^\s+50%\s+(\S+)")),
            "p99": to_ms(find(r"^\s+99%\s+(\S+)")),
            "errors": errors}


def cpu_seconds(pids):
    """User and system CPU time used so far by processes ``pids`` (Linux /proc)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def wrk(url, connections, seconds, headers=(), pids=(), script=None):
    """One ``wrk`` run; with ``pids``, also the CPU those processes spent per request; with
    ``script``, that ``wrk -s`` Lua script shapes the requests."""
    before = cpu_seconds(pids)
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "--latency"]
    for header in headers:
        command += ["-H", header]
    if script:
        command += ["-s", script]
    done = subprocess.run(command + [url], capture_output=True, text=True,
                          timeout=seconds + 30, check=True)
    result = parse_wrk(done.stdout)
    result["cpu"] = (cpu_seconds(pids) - before) * 1000 / max(result["requests"], 1)
    return result


def measure(targets, connections, rounds, seconds, warmup):
    """``wrk`` on every target, in turn, round after round (so that a machine busy with other
    work weighs on all alike) after a warm-up of each. ``targets``: ``{key: (url, wrk
    options)}``, a key a name or a tuple of names. The medians by ``(*key, connections)``, the
    load average before -> after as text, and the count of failed requests."""
    def name(key):
        return " ".join(key) if isinstance(key, tuple) else key

    for key, (url, options) in targets.items():
        say(f"warming up {name(key)} ({warmup} s)")
        wrk(url, max(connections), warmup, **options)
    runs = {}
    started_load = os.getloadavg()[0]
    for round_ in range(rounds):
        for conns in connections:
            for key, (url, options) in targets.items():
                say(f"round {round_ + 1}: {name(key)} at {conns} conn, {seconds} s")
                run = (*key, conns) if isinstance(key, tuple) else (key, conns)
                runs.setdefault(run, []).append(wrk(url, conns, seconds, **options))
    load = "{:.2f} -> {:.2f}".format(started_load, os.getloadavg()[0])
    errors = sum(r["errors"] for measured in runs.values() for r in measured)
    return {run: median_of(measured) for run, measured in runs.items()}, load, errors


def median_of(runs):
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def ensure_wrk():
    if shutil.which("wrk"):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        say("installing wrk (Debian package)")
        quiet = {"stdout": subprocess.DEVNULL, "env": dict(os.environ,
                                                           DEBIAN_FRONTEND="noninteractive")}
        subprocess.run(["apt-get", "update", "-qq"], check=True, **quiet)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, **quiet)
    if not shutil.which("wrk"):
        sys.exit("bench: wrk is missing; install it as root: apt-get install wrk")


FILEINFO = Path(__file__).resolve().parents[2] / "examples" / "fileinfo"
BUSYBOX = Path("/bin/busybox")


def fileinfo_context():
    """The example ufop's build context (examples/fileinfo with the static busybox)."""
    return build_context((("Dockerfile", (FILEINFO / "Dockerfile").read_bytes(), 0o644),
                          ("handler.sh", (FILEINFO / "handler.sh").read_bytes(), 0o755),
                          ("busybox", BUSYBOX.read_bytes(), 0o755)))
