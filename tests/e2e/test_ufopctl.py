"""``ufopctl`` end to end: the real executable, as a person or a script runs it, against the
whole platform (real RabbitMQ, Docker and HTTP). Every command, its ``--json`` and its failure
paths: a wrong key, an unknown ufop, a failed build, Ctrl-C during an upload.

Each run gets its own HOME and XDG_CONFIG_HOME, so ``login`` writes into a temporary folder.
One ufop (``fileinfo``: the example, PRIVATE, built from a folder, two instances) is shared by
the tests of this module to keep it fast; tests that change what others rely on come last.
"""
import hashlib
import io
import json
import os
import select
import shutil
import signal
import stat
import subprocess
import sys
import tarfile
import time
import uuid
from pathlib import Path

import docker
import pytest

from support import BUSYBOX, FILEINFO, new_name, save_image, served_on_the_bridge, wait_for
from ufop_common.client import Client

CTL = Path(sys.executable).with_name("ufopctl")
BASE_IMAGE = "ufop-test-ctl-busybox:latest"
SAVED_IMAGE = "ufop-test-ctl-fileinfo:saved"
RUN_TIMEOUT = 240  # seconds; a build or an instance operation, with room: only catches hangs
KEYS = ("UFOP_URL", "UFOP_AK", "UFOP_SK")


# -- running ufopctl -------------------------------------------------------------------------
class Result:
    def __init__(self, args, code, out, err):
        self.args, self.code, self.out, self.err = args, code, out, err

    def __repr__(self):
        return (f"ufopctl {' '.join(self.args)} -> {self.code}\n--- stdout\n{self.out}\n"
                f"--- stderr\n{self.err}")

    @property
    def json(self):
        return json.loads(self.out)


def env_of(home, **extra):
    """The environment of a ufopctl run: its own HOME, no keys but those given."""
    env = {k: v for k, v in os.environ.items() if k not in KEYS}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), COLUMNS="200")
    env.update(extra)
    return env


class Ctl:
    """Runs ``ufopctl`` with one HOME (and so one saved profile)."""

    def __init__(self, home, **env):
        self.home = Path(home)
        self.env = env

    def run(self, *args, stdin=None, env=None, timeout=RUN_TIMEOUT):
        # no terminal on stdin (as in a script): nothing asks a question
        stdin_kw = {"input": stdin} if stdin is not None else {"stdin": subprocess.DEVNULL}
        answer = subprocess.run([str(CTL), *map(str, args)], capture_output=True, **stdin_kw,
                                env=env_of(self.home, **{**self.env, **(env or {})}),
                                timeout=timeout)
        result = Result(list(map(str, args)), answer.returncode,
                        answer.stdout.decode(errors="replace"),
                        answer.stderr.decode(errors="replace"))
        assert "Traceback" not in result.err, result
        return result

    def ok(self, *args, **kwargs):
        result = self.run(*args, **kwargs)
        assert result.code == 0, result
        return result

    def json(self, *args, **kwargs):
        return self.ok(*args, "--json", **kwargs).json

    def fails(self, *args, code=1, mentions=(), **kwargs):
        """A failure: that exit code, ``Error: ...`` on stderr holding each of ``mentions``."""
        result = self.run(*args, **kwargs)
        assert result.code == code, result
        assert "Error: " in result.err, result
        for word in (mentions,) if isinstance(mentions, str) else mentions:
            assert word in result.err, result
        return result

    def popen(self, *args):
        return subprocess.Popen([str(CTL), *map(str, args)], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_of(self.home, **self.env))

    @property
    def config(self):
        return self.home / ".config" / "ufopctl" / "config.json"


def read_line(proc, timeout):
    """The next line ``proc`` prints on stdout, within ``timeout`` seconds."""
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, f"no line within {timeout} s"
    return proc.stdout.readline().decode()


def interrupt(proc):
    """Ctrl-C: SIGINT, then its exit code and stderr."""
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    return proc.returncode, err.decode()


# -- fixtures ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ctl(platform, tmp_path_factory):
    """ufopctl logged in as the admin (a saved profile)."""
    ctl = Ctl(tmp_path_factory.mktemp("ctl-home"))
    ctl.ok("login", "--url", platform.url, "--ak", platform.admin.access_key,
           "--sk", platform.admin.secret_key)
    return ctl


@pytest.fixture
def fresh_home(tmp_path):
    return Ctl(tmp_path / "home")


@pytest.fixture(scope="module")
def made(ctl):
    """Names of ufops made here; each is unregistered at the end."""
    names = []
    yield names
    for name in names:
        ctl.run("unreg", name, "--yes")


@pytest.fixture(scope="module")
def fileinfo_dir(tmp_path_factory):
    """examples/fileinfo as a folder to build: Dockerfile, handler.sh and a static busybox,
    as examples/fileinfo/package.sh packs it."""
    assert BUSYBOX.is_file(), "Debian's busybox-static is needed (make test installs it)"
    folder = tmp_path_factory.mktemp("fileinfo")
    shutil.copy(FILEINFO / "Dockerfile", folder)
    shutil.copy(FILEINFO / "handler.sh", folder)
    shutil.copy(BUSYBOX, folder / "busybox")
    return folder


@pytest.fixture(scope="module")
def fileinfo(ctl, made, fileinfo_dir):
    """The shared ufop: PRIVATE, v1 built from the folder by ``ufopctl build``, current.
    Returns its name and the result of that build."""
    name = new_name("ctl")
    made.append(name)
    ctl.ok("reg", name, "-m", "private", "-d", "size, sha1 and first line")
    built = ctl.run("build", name, fileinfo_dir, "-v", "v1", "-d", "the example")
    assert built.code == 0, built
    ctl.ok("ver", name, "-c", "v1")
    return name, built


@pytest.fixture(scope="module")
def running(ctl, fileinfo):
    """The shared ufop with two Running instances (1 and 2)."""
    name, _ = fileinfo
    listed = ctl.json("add", name, "-n", "2")
    assert [(i["index"], i["state"]) for i in listed] == [(1, "Running"), (2, "Running")]
    return name


@pytest.fixture(scope="module")
def saved_archive(docker_client, fileinfo_dir, tmp_path_factory):
    """A ``docker save`` archive of the example ufop, built locally."""
    docker_client.images.build(path=str(fileinfo_dir), tag=SAVED_IMAGE, rm=True, pull=False)
    yield save_image(docker_client, SAVED_IMAGE,
                     tmp_path_factory.mktemp("saved") / "fileinfo-saved.tar")
    remove_image(docker_client, SAVED_IMAGE)


@pytest.fixture(scope="module")
def base_image(docker_client, tmp_path_factory):
    """A local base image for ``ufop.yaml`` packages: scratch, busybox and its applets."""
    folder = tmp_path_factory.mktemp("base")
    (folder / "Dockerfile").write_text(
        'FROM scratch\nCOPY busybox /bin/busybox\n'
        'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
        'RUN mkdir -p /tmp && chmod 1777 /tmp\nCMD ["/bin/sh"]\n')
    shutil.copy(BUSYBOX, folder / "busybox")
    docker_client.images.build(path=str(folder), tag=BASE_IMAGE, rm=True, pull=False)
    yield BASE_IMAGE
    remove_image(docker_client, BASE_IMAGE)


def remove_image(docker_client, image):
    try:
        docker_client.images.remove(image, force=True)
    except docker.errors.APIError:
        pass  # gone already, or still used by a container being removed


# -- login and keys -----------------------------------------------------------------------------
def test_login_checks_and_saves_the_keys_for_the_owner_only(platform, fresh_home):
    account = platform.new_account()
    result = fresh_home.ok("login", "--url", platform.url, "--ak", account.access_key,
                           "--sk", account.secret_key)
    assert f"as uid {account.uid}" in result.err
    assert stat.S_IMODE(fresh_home.config.stat().st_mode) == 0o600
    assert json.loads(fresh_home.config.read_text()) == {
        "url": platform.url, "ak": account.access_key, "sk": account.secret_key}
    # the saved profile is used from now on, no flags, no environment: what it registers is
    # the account's (the platform is shared with other tests: their ufops are listed too)
    name = new_name("login")
    fresh_home.ok("reg", name, "-m", "private")
    try:
        assert fresh_home.json("info", name)["owner"] == account.uid
        assert name in [u["name"] for u in fresh_home.json("list")]
    finally:
        fresh_home.ok("unreg", name, "--yes")
    # logging in again keeps the mode, even when the file was opened up meanwhile
    fresh_home.config.chmod(0o644)
    again = fresh_home.json("login", "--url", platform.url.removeprefix("http://"),
                            "--ak", account.access_key, "--sk", account.secret_key)
    assert again == {"url": platform.url, "uid": account.uid, "admin": False,
                     "config": str(fresh_home.config)}
    assert stat.S_IMODE(fresh_home.config.stat().st_mode) == 0o600


def test_login_with_a_wrong_key_says_why_and_saves_nothing(platform, fresh_home):
    fresh_home.fails("login", "--url", platform.url, "--ak", platform.admin.access_key,
                     "--sk", "not-the-secret", mentions=("Unauthorized", "401"))
    fresh_home.fails("login", "--url", platform.url, "--ak", "nobody", "--sk", "x",
                     mentions="Unauthorized")
    assert not fresh_home.config.exists()


def test_login_reads_the_keys_from_the_environment_or_stdin(platform, fresh_home):
    admin = platform.admin
    fresh_home.ok("login", env={"UFOP_URL": platform.url, "UFOP_AK": admin.access_key,
                                "UFOP_SK": admin.secret_key})
    assert json.loads(fresh_home.config.read_text())["ak"] == admin.access_key
    fresh_home.config.unlink()
    typed = f"{admin.access_key}\n{admin.secret_key}\n".encode()
    fresh_home.ok("login", "--url", platform.url, stdin=typed)
    assert json.loads(fresh_home.config.read_text())["sk"] == admin.secret_key


def test_flags_override_the_environment_which_overrides_the_profile(platform, fresh_home):
    admin, account = platform.admin, platform.new_account()
    fresh_home.ok("login", "--url", platform.url, "--ak", account.access_key,
                  "--sk", account.secret_key)
    as_admin = {"UFOP_AK": admin.access_key, "UFOP_SK": admin.secret_key}
    assert fresh_home.json("login", env=as_admin)["admin"] is True  # env over the profile
    fresh_home.ok("login", "--ak", account.access_key, "--sk", account.secret_key)
    name = new_name("ctl")
    fresh_home.ok("reg", name, "-m", "private", env=as_admin)  # the admin's, by env
    try:
        assert fresh_home.json("info", name, env=as_admin)["owner"] != account.uid
        fresh_home.fails("info", name, mentions="UfopNotfound")  # the profile's: not visible
        fresh_home.fails("info", name, "--sk", "wrong", env=as_admin,
                         mentions=("Unauthorized", "401"))  # a flag over the environment
        fresh_home.ok("info", name, "--ak", admin.access_key, "--sk", admin.secret_key)
        # the URL too: a flag over the environment over the profile
        fresh_home.fails("list", env={"UFOP_URL": "http://127.0.0.1:1"},
                         mentions="cannot reach the gateway at http://127.0.0.1:1")
        fresh_home.ok("list", "--url", platform.url, env={"UFOP_URL": "http://127.0.0.1:1"})
    finally:
        fresh_home.ok("unreg", name, "--yes", env=as_admin)


def test_without_keys_or_gateway_it_says_what_to_do(platform, fresh_home):
    fresh_home.fails("list", "--url", platform.url, mentions="ufopctl login")
    fresh_home.fails("list", "--url", "http://127.0.0.1:1", "--ak", "a", "--sk", "b",
                     mentions="cannot reach the gateway")
    broken = fresh_home.config
    broken.parent.mkdir(parents=True)
    broken.write_text("{not json")
    fresh_home.fails("list", mentions=("cannot read", "ufopctl login"))


# -- ufops: reg, list, info, update, unreg ---------------------------------------------------------
def test_reg_list_info_update_unreg(ctl, platform, made):
    name = new_name("ctl")
    made.append(name)
    result = ctl.ok("reg", name, "-m", "Protected", "-d", "a test ufop", "--config", "k=v")
    assert name in result.out and "PROTECTED" in result.out and "a test ufop" in result.out

    listed = ctl.ok("list").out
    line = next(line for line in listed.splitlines() if name in line)
    assert line.split() == [name, "PROTECTED", "a", "test", "ufop"]
    assert {"name": name, "aclMode": "PROTECTED", "desc": "a test ufop"} in ctl.json("list")

    block = dict(line.split(None, 1) for line in ctl.ok("info", name).out.splitlines()
                 if line.strip() and not line.startswith(("access", "description")))
    assert block["name"].strip() == name and block["acl"].strip() == "PROTECTED"
    assert block["configuration"].strip() == "k=v"
    detail = ctl.json("info", name)
    assert detail["description"] == "a test ufop" and detail["version"] == ""

    other = platform.new_account()
    config = Path(ctl.home / "ufop.conf")
    config.write_text("from a file\n")
    changed = ctl.json("update", name, "--desc", "changed", "-m", "private",
                       "--access-list", f"{other.uid}", "--flavor", "default",
                       "--max-instances", "3", "--config", f"@{config}")
    assert (changed["description"], changed["aclMode"], changed["accessList"],
            changed["flavor"], changed["maxInstanceNum"], changed["configuration"]) == (
        "changed", "PRIVATE", [other.uid], "default", 3, "from a file\n")
    assert ctl.json("update", name, "--access-list", "")["accessList"] == []
    assert "changed" in ctl.ok("update", name, "--desc", "changed").out
    ctl.fails("update", name, "--flavor", "huge", mentions=("InvalidArgs", "flavor"))

    assert ctl.json("unreg", name) == {"name": name, "deleted": True}
    assert name not in [u["name"] for u in ctl.json("list")]
    ctl.fails("info", name, mentions=("UfopNotfound", "404"))


def test_list_shows_what_the_account_may_see_page_after_page(ctl, platform):
    owner, other = platform.new_account(), platform.new_account()
    as_owner = {"UFOP_AK": owner.access_key, "UFOP_SK": owner.secret_key}
    as_other = {"UFOP_AK": other.access_key, "UFOP_SK": other.secret_key}
    names = sorted(new_name("ctl") for _ in range(3))
    for name in names:
        ctl.ok("reg", name, "-m", "private", env=as_owner)
    try:
        assert set(names) <= {u["name"] for u in ctl.json("list", env=as_owner)}
        assert not set(names) & {u["name"] for u in ctl.json("list", env=as_other)}
        # the client behind it follows the markers to the last page
        client = Client(platform.url, owner.access_key, owner.secret_key)
        assert set(names) <= {u["name"] for u in client.iter_ufops(page_size=2)}
        items, marker = client.list_ufops(limit=1)
        assert len(items) == 1 and marker == items[0]["name"]
    finally:
        for name in names:
            ctl.ok("unreg", name, "--yes", env=as_owner)


def test_reg_refuses_what_the_server_refuses(ctl, made):
    name = new_name("ctl")
    made.append(name)
    ctl.ok("reg", name, "-m", "public")
    ctl.fails("reg", name, "-m", "public", mentions=("already exists", "UfopExists", "409"))
    ctl.fails("reg", "Bad Name!", "-m", "public", mentions="InvalidArgs")


@pytest.mark.parametrize("args", [
    ("reg", "NAME"),                       # -m missing
    ("reg", "NAME", "-m", "secret"),       # not an ACL mode
    ("update", "NAME"),                    # nothing to change
    ("add", "NAME", "-n", "0"),
    ("switch", "NAME"),                    # neither INDEX nor --all
    ("switch", "NAME", "1", "--all"),
    ("start", "NAME", "x"),
    ("invoke", "NAME", "/etc/hostname", "--url", "http://example.com/x"),
    ("build", "NAME", "/nonexistent", "-v", "v1"),
    ("build", "NAME", "/tmp"),             # -v missing
    ("frobnicate",),
])
def test_usage_errors_exit_2(ctl, args):
    ctl.fails(*[new_name("ctl") if a == "NAME" else a for a in args], code=2)


@pytest.mark.parametrize("args", [
    ("info",), ("unreg", "--yes"), ("update", "--desc", "x"), ("versions",),
    ("ver",), ("ver", "-c", "v1"), ("instances",), ("add", "-n", "1"), ("rm", "1"),
    ("start", "1"), ("stop", "1"), ("reboot", "1"), ("switch", "1"), ("switch", "--all"),
    ("log", "1"), ("log", "1", "-f"), ("invoke",),
])
def test_an_unknown_ufop_is_404_for_every_command(ctl, args):
    name = new_name("nosuch")
    ctl.fails(args[0], name, *args[1:], mentions=(f"'{name}' not found", "UfopNotfound", "404"))


def test_an_unknown_ufop_is_404_for_build(ctl, fileinfo_dir):
    ctl.fails("build", new_name("nosuch"), fileinfo_dir, "-v", "v1",
              mentions=("UfopNotfound", "404"))


# -- builds ---------------------------------------------------------------------------------------
def test_build_of_a_dockerfile_folder_prints_its_log(fileinfo, ctl):
    name, built = fileinfo
    assert "Step 1/" in built.out and f"ufop/{name}:" in built.out
    assert "uploading" in built.err and f"Built {name} v1" in built.err
    (v1,) = ctl.json("versions", name)
    assert (v1["version"], v1["state"], v1["desc"]) == ("v1", "build success", "the example")
    line = next(line for line in ctl.ok("versions", name).out.splitlines() if "v1" in line)
    assert line.split()[:4] == ["*", "v1", "build", "success"]  # * marks the current one


def test_build_of_a_qiniu_package_folder(ctl, made, base_image, tmp_path):
    name = new_name("ctl")
    made.append(name)
    ctl.ok("reg", name, "-m", "private")
    (tmp_path / "ufop.yaml").write_text(
        f"image: {base_image}\n"
        "build_script:\n"
        "  - cp $RESOURCE/handler.sh /ufop/handler.sh\n"
        "  - chmod 755 /ufop/handler.sh\n"
        "run: exec nc -ll -p 9100 -e /bin/sh /ufop/handler.sh\n")
    shutil.copy(FILEINFO / "handler.sh", tmp_path)
    result = ctl.json("build", name, tmp_path, "-v", "q1")
    assert result["state"] == "build success", result["log"]
    assert "generated Dockerfile from ufop.yaml" in result["log"]
    assert (result["ufop"], result["version"]) == (name, "q1")


def test_build_of_a_docker_save_archive_file(ctl, fileinfo, saved_archive):
    name, _ = fileinfo
    result = ctl.ok("build", name, saved_archive, "-v", "v2")
    assert "loaded image sha256:" in result.out
    assert {v["version"]: v["state"] for v in ctl.json("versions", name)}["v2"] == \
        "build success"


def test_a_failed_build_prints_its_log_and_exits_1(ctl, made, tmp_path):
    name = new_name("ctl")
    made.append(name)
    ctl.ok("reg", name, "-m", "private")
    (tmp_path / "Dockerfile").write_text(
        f'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "false"]\n'
        f'LABEL token={uuid.uuid4().hex}\n')
    shutil.copy(BUSYBOX, tmp_path / "busybox")
    result = ctl.fails("build", name, tmp_path, "-v", "bad", mentions="build of")
    assert "/bin/busybox false" in result.out and "non-zero code" in result.out
    assert ctl.json("versions", name)[0]["state"] == "build failed"
    as_json = ctl.run("build", name, tmp_path, "-v", "bad2", "--json")  # scripts see it too
    assert as_json.code == 1 and as_json.json["state"] == "build failed", as_json
    assert "non-zero code" in as_json.json["log"]


def test_build_refuses_what_it_cannot_upload(ctl, fileinfo, tmp_path):
    name, _ = fileinfo
    (tmp_path / "README").write_text("no Dockerfile here\n")
    ctl.fails("build", name, tmp_path, "-v", "v9", code=2,
              mentions=("no Dockerfile and no ufop.yaml",))
    junk = tmp_path / "junk.tar"
    junk.write_bytes(os.urandom(4096))
    ctl.fails("build", name, junk, "-v", "v9", mentions=("InvalidArgs", "archive"))
    ctl.fails("build", name, junk, "-v", "v1", mentions=("VersionExists", "409"))
    assert "v9" not in [v["version"] for v in ctl.json("versions", name)]


def test_ctrl_c_during_an_upload_leaves_no_version(ctl, fileinfo, platform, tmp_path):
    """SIGINT to a real ``ufopctl build`` while it uploads a large archive: it exits 130, and
    the platform keeps no version, no blob and no partial file."""
    name, _ = fileinfo
    blobs = platform.stack.data_dir / "blobs"
    big = tmp_path / "big-save.tar"
    layer = os.urandom(1 << 20)
    with tarfile.open(big, "w") as tar:  # shaped like a `docker save` archive, but large
        manifest = b'[{"Config": "c.json", "RepoTags": [], "Layers": ["l/layer.tar"]}]'
        info = tarfile.TarInfo("manifest.json")
        info.size = len(manifest)
        tar.addfile(info, io.BytesIO(manifest))
        info = tarfile.TarInfo("l/layer.tar")
        info.size = 400 * len(layer)
        tar.addfile(info, io.BytesIO(layer * 400))
    before = set((blobs / "sha256").iterdir()) if (blobs / "sha256").exists() else set()

    proc = ctl.popen("build", name, big, "-v", "huge")
    try:
        partial = wait_for(lambda: [p for p in (blobs / "incoming").glob("*")
                                    if p.exists() and p.stat().st_size > (1 << 20)],
                           timeout=60, what="the upload has begun", interval=0.01)
        assert partial[0].stat().st_size < big.stat().st_size / 2, "the upload ended first"
        code, err = interrupt(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 130, err
    assert "Interrupted" in err and "Traceback" not in err
    wait_for(lambda: not list((blobs / "incoming").glob("*")), timeout=30,
             what="the partial upload removed")
    time.sleep(1)  # anything the gateway would still do with it, it would have done now
    assert "huge" not in [v["version"] for v in ctl.json("versions", name)]
    assert set((blobs / "sha256").iterdir()) == before


# -- versions --------------------------------------------------------------------------------------
def test_ver_shows_and_sets_the_current_version(ctl, fileinfo, made):
    name, _ = fileinfo
    assert ctl.ok("ver", name).out.strip() == "v1"
    assert ctl.json("ver", name) == {"name": name, "version": "v1"}
    ctl.fails("ver", name, "-c", "nosuch", mentions=("VersionNotFound", "404"))
    fresh = new_name("ctl")
    made.append(fresh)
    ctl.ok("reg", fresh, "-m", "private")
    assert ctl.ok("ver", fresh).out.strip() == "(none)"
    assert "no versions yet" in ctl.ok("versions", fresh).out
    assert ctl.json("versions", fresh) == []


# -- instances ------------------------------------------------------------------------------------
def test_instances_add_stop_start_reboot_rm(ctl, running):
    name = running
    table = ctl.ok("instances", name).out.splitlines()
    assert table[0].split() == ["INDEX", "VERSION", "STATE"]
    assert [line.split() for line in table[1:]] == [["1", "v1", "Running"],
                                                    ["2", "v1", "Running"]]
    added = ctl.ok("add", name, "-n", "1").out
    assert "3" in added.split()

    assert ctl.json("stop", name, 3) == {"index": 3, "version": "v1", "state": "Stopped"}
    assert "Stopped" in ctl.ok("instances", name).out
    assert ctl.ok("start", name, 3).err.strip() == f"{name} instance 3: Running (v1)"
    assert ctl.json("reboot", name, 3)["state"] == "Running"
    assert ctl.json("rm", name, 3) == {"name": name, "index": 3, "deleted": True}
    assert [i["index"] for i in ctl.json("instances", name)] == [1, 2]
    for action in ("start", "stop", "reboot", "switch", "rm"):
        ctl.fails(action, name, 9, mentions=("InstanceNotFound", "404"))
    ctl.fails("add", name, "-n", "10", mentions=("QuotaExceeded", "409"))


def test_another_account_cannot_manage_or_see_it(ctl, running, platform):
    other = platform.new_account()
    as_other = {"UFOP_AK": other.access_key, "UFOP_SK": other.secret_key}
    for args in (("info",), ("instances",), ("start", "1"), ("log", "1"), ("invoke",)):
        ctl.fails(args[0], running, *args[1:], env=as_other, mentions="UfopNotfound")
    ctl.fails("instances", running, "--sk", "wrong", mentions=("Unauthorized", "401"))


# -- logs ---------------------------------------------------------------------------------------------
def test_log_with_tail_and_since(ctl, running):
    name = running
    ctl.ok("invoke", name)  # a call, besides the health checks, that the instances log

    def last_two():
        lines = ctl.ok("log", name, 1, "--tail", 2).out.splitlines()
        return len(lines) == 2 and lines
    lines = wait_for(last_two, timeout=30, what="two lines in the log", interval=0.5)
    assert all("/health" in line or "/handler" in line for line in lines), lines
    assert len(ctl.json("log", name, 1, "--tail", 1)["log"].splitlines()) == 1
    assert len(ctl.json("log", name, 1)["log"].splitlines()) >= 2
    assert ctl.json("log", name, 1, "--since", "1h")["log"]
    assert ctl.json("log", name, 1, "--since", "2999-01-01T00:00:00Z") == {"log": ""}
    assert ctl.ok("log", name, 1, "--since", "2999-01-01T00:00:00Z").out == ""
    ctl.fails("log", name, 1, "--since", "yesterday", mentions=("InvalidArgs", "since"))
    ctl.fails("log", name, 9, mentions=("InstanceNotFound", "404"))


def test_log_follow_prints_lines_as_they_come_until_ctrl_c(ctl, running):
    name = running
    proc = ctl.popen("log", name, 1, "-f", "--tail", "0")
    try:
        for _ in range(3):  # the health checks and the calls keep writing to the log
            ctl.ok("invoke", name)
        line = read_line(proc, 30)
        assert "/health" in line or "/handler" in line, line
        code, err = interrupt(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 130 and "Traceback" not in err, err

    proc = ctl.popen("log", name, 1, "-f", "--tail", "1", "--json")
    try:
        item = json.loads(read_line(proc, 30))
        assert set(item) == {"time", "stream", "version", "line"}
        assert item["version"] == "v1" and item["stream"] in ("stdout", "stderr")
    finally:
        proc.kill()
        proc.wait()


# -- invoke --------------------------------------------------------------------------------------------
def fileinfo_answer(name, data, version="v1", params=""):
    return {"cmd": name + (f"/{params}" if params else ""), "version": version,
            "bytes": len(data), "sha1": hashlib.sha1(data).hexdigest(),
            "firstLine": data.split(b"\n")[0].decode()}


def without_instance(answer):
    return {k: v for k, v in answer.items() if k != "instance"}


def test_invoke_a_file_stdin_and_nothing(ctl, running, tmp_path):
    name = running
    data = b"first line\n" + os.urandom(300_000)
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    answer = json.loads(ctl.ok("invoke", f"{name}/resize/10x10", source).out)
    assert without_instance(answer) == fileinfo_answer(name, data, params="resize/10x10")
    assert answer["instance"] in ("1", "2")
    answer = json.loads(ctl.ok("invoke", name, "-", stdin=data).out)
    assert without_instance(answer) == fileinfo_answer(name, data)
    assert json.loads(ctl.ok("invoke", name).out)["bytes"] == 0

    out = tmp_path / "answer.json"
    result = ctl.json("invoke", name, source, "-o", out)
    assert result == {"status": 200, "contentType": "application/json", "output": str(out),
                      "bytes": out.stat().st_size}
    assert without_instance(json.loads(out.read_bytes())) == fileinfo_answer(name, data)
    assert f"wrote {out.stat().st_size} bytes to {out}" in \
        ctl.ok("invoke", name, source, "-o", out).err

    described = ctl.json("invoke", name, source)
    assert described["status"] == 200 and described["contentType"] == "application/json"
    assert without_instance(json.loads(described["body"])) == fileinfo_answer(name, data)


def test_invoke_with_url_has_the_ufop_fetch_the_file(ctl, running, docker_client):
    name = running
    source = b"fetched by url\nsecond line\n" * 50
    with served_on_the_bridge(docker_client, source) as (base, asked):
        url = f"{base}/source.txt?a=1&b=2"
        answer = json.loads(ctl.ok("invoke", name, "--url", url).out)
        assert without_instance(answer) == fileinfo_answer(name, source)
        assert asked == ["/source.txt?a=1&b=2"]


def test_invoke_errors(ctl, running, made, platform):
    name = running
    # the ufop's own error answer: its body on stderr, exit 1
    result = ctl.fails("invoke", name, "--url", "http://127.0.0.1:1/nothing-here",
                       mentions=("HTTP 400",))
    assert '{"error":"cannot fetch url"}' in result.err and result.out == ""
    as_json = ctl.run("invoke", name, "--url", "http://127.0.0.1:1/x", "--json")
    assert as_json.code == 1 and as_json.json == {
        "status": 400, "contentType": "application/json",
        "body": '{"error":"cannot fetch url"}'}
    # a private ufop: refused to anonymous callers (401, or 404 that hides it: the server's
    # message either way), and to a wrong key
    anonymous = Ctl(ctl.home / "anonymous")
    refused = anonymous.fails("invoke", name, "--gateway", platform.url)
    assert "(Unauthorized, 401)" in refused.err or "(UfopNotfound, 404)" in refused.err, refused
    ctl.fails("invoke", name, "--sk", "wrong", mentions=("Unauthorized", "401"))
    # no instance Running: the platform's message
    idle = new_name("ctl")
    made.append(idle)
    ctl.ok("reg", idle, "-m", "public")
    ctl.fails("invoke", idle, mentions=("NoInstance", "503"))
    anonymous.fails("invoke", idle, "--gateway", platform.url, mentions="NoInstance")
    ctl.fails("invoke", name, "/nonexistent/file", code=2)


# -- switch (last: it moves the shared ufop to another version) ----------------------------------------
def test_switch_one_then_all(ctl, running, saved_archive):
    name = running
    if "v2" not in [v["version"] for v in ctl.json("versions", name)]:
        ctl.ok("build", name, saved_archive, "-v", "v2")
    ctl.ok("ver", name, "-c", "v2")
    assert ctl.json("switch", name, 1) == {"index": 1, "version": "v2", "state": "Running"}
    assert json.loads(ctl.ok("invoke", name).out)["version"] in ("v1", "v2")
    ctl.ok("ver", name, "-c", "v1")
    result = ctl.ok("switch", name, "--all")
    assert result.err.splitlines()[-2:] == [f"{name} instance 1: Running (v1)",
                                           f"{name} instance 2: Running (v1)"]
    ctl.ok("ver", name, "-c", "v2")
    assert ctl.json("switch", name, "--all") == [
        {"index": 1, "version": "v2", "state": "Running"},
        {"index": 2, "version": "v2", "state": "Running"}]
    assert [i["version"] for i in ctl.json("instances", name)] == ["v2", "v2"]
    assert json.loads(ctl.ok("invoke", name).out)["version"] == "v2"


def test_switch_all_without_instances_says_so(ctl, made):
    name = new_name("ctl")
    made.append(name)
    ctl.ok("reg", name, "-m", "private")
    ctl.fails("switch", name, "--all", mentions="no instances")


def test_unreg_removes_the_ufop_with_its_instances(ctl, running):
    name = running
    assert "Deleted" in ctl.ok("unreg", name).err  # no terminal: no question asked
    ctl.fails("instances", name, mentions="UfopNotfound")
    ctl.fails("unreg", name, mentions="UfopNotfound")
