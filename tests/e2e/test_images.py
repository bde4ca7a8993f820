"""Images and versions through HTTP, with real Docker builds (SPEC §4-5, issue 3).

Every ufop, image and container made here is removed at the end of the session, by name.
Build steps that must really run (not come from Docker's cache) carry a fresh token.
"""
import base64
import gzip
import hashlib
import hmac
import io
import os
import re
import tarfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import docker
import pytest
import requests

from support import BUILD_ENDED, OCTET, refused, save_image, wait_built, wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]
FILEINFO = REPO_ROOT / "examples" / "fileinfo"
BUSYBOX = Path("/bin/busybox")
BASE_IMAGE = "ufop-test-busybox:latest"
SAVED_IMAGE = "ufop-test-fileinfo:saved"
VICTIM_IMAGE = "ufop-test-victim:latest"
RUN_PREFIX = "ufop-test-images-"

BUILD_DEADLINE = 120
TRIVIAL = "FROM scratch\nLABEL ufop.test=trivial\n"  # FROM scratch alone makes no image


# -- archives --------------------------------------------------------------------------
def entry(name, data=b"", kind=tarfile.REGTYPE, linkname="", mode=0o644):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, linkname, mode
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data


def archive(*entries, gz=True):
    """The bytes of a tar (gzipped unless ``gz`` is false) holding ``entries``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return buf.getvalue()


def dockerfile_context(dockerfile, *entries, gz=True):
    return archive(entry("Dockerfile", dockerfile.encode()), *entries, gz=gz)


def token():
    return uuid.uuid4().hex


def sleeping_dockerfile(seconds, fail=False):
    """FROM the test base image, a RUN step that takes ``seconds`` (never from the cache) and
    prints when it started and ended (epoch seconds) into the build log."""
    step = (f"echo 'started {token()}' $(date +%s) && sleep {seconds} && "
            f"echo ended $(date +%s)")
    return f"FROM {BASE_IMAGE}\nRUN {step}{' && false' if fail else ''}\n"


def fileinfo_entries():
    return [entry("Dockerfile", (FILEINFO / "Dockerfile").read_bytes()),
            entry("handler.sh", (FILEINFO / "handler.sh").read_bytes(), mode=0o755),
            entry("busybox", BUSYBOX.read_bytes(), mode=0o755)]


def qiniu_package(gz=True):
    spec = ("image: " + BASE_IMAGE + "\n"
            "build_script:\n"
            "  - cp $RESOURCE/handler.sh /ufop/handler.sh\n"
            "  - chmod 755 /ufop/handler.sh\n"
            "  - test -f $RESOURCE/ufop.yaml && pwd > /ufop/built-in\n"
            "run: exec nc -ll -p 9100 -e /bin/sh /ufop/handler.sh\n")
    return archive(entry("ufop.yaml", spec.encode()),
                   entry("handler.sh", (FILEINFO / "handler.sh").read_bytes(), mode=0o755),
                   gz=gz)


def signed_raw(client, method, url, content_type, body):
    """Headers signing ``body`` byte for byte as SPEC §3 says. (The qiniu SDK decodes a
    signed body as UTF-8, so it cannot sign a gzip body.)"""
    parsed = urlparse(url)
    data = (f"{method} {parsed.path}?{parsed.query}\nHost: {parsed.netloc}\n"
            f"Content-Type: {content_type}\n\n").encode() + body
    sign = base64.urlsafe_b64encode(hmac.new(client.secret_key.encode(), data,
                                             hashlib.sha1).digest()).decode()
    return {"Authorization": f"Qiniu {client.access_key}:{sign}", "Content-Type": content_type}


# -- HTTP ------------------------------------------------------------------------------
def upload(client, name, version, body, content_type=OCTET, desc=None, **kwargs):
    params = {"ufop": name, "version": version}
    if desc is not None:
        params["desc"] = desc
    headers = {"Content-Type": content_type} if content_type else {}
    kwargs.setdefault("timeout", 180)
    return client.post("/api/images", params=params, data=body, headers=headers, **kwargs)


def accepted(answer, name, version):
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"code": 200, "data": {"ufop": name, "version": version,
                                                   "state": "building"}}


def versions(client, name):
    answer = client.get(f"/api/ufops/{name}/versions")
    assert answer.status_code == 200, answer.text
    return {v["version"]: v for v in answer.json()["data"]}


def build_log(client, name, version, deadline=30):
    """The build log, once the logs service has it (it follows the state by an event)."""
    end = time.monotonic() + deadline
    while True:
        answer = client.get(f"/api/ufops/{name}/versions/{version}/log")
        assert answer.status_code == 200, answer.text
        text = answer.json()["data"]["log"]
        if text and ("built in" in text or "build failed" in text):
            return text
        if time.monotonic() > end:
            pytest.fail(f"no build log for {name} {version} after {deadline} s: {text!r}")
        time.sleep(0.5)


def build(client, name, version, body, state="build success", **kwargs):
    """Upload, wait for the end of the build, check its state; the build log."""
    accepted(upload(client, name, version, body, **kwargs), name, version)
    record = wait_built(client, name, version, BUILD_DEADLINE)
    log = build_log(client, name, version)
    assert record["state"] == state, log
    return log


def events_of(client, name, kind, deadline=20):
    end = time.monotonic() + deadline
    while True:
        answer = client.get(f"/api/ufops/{name}/events")
        assert answer.status_code == 200, answer.text
        found = [e for e in answer.json()["data"] if e["type"] == kind]
        if found or time.monotonic() > end:
            return found
        time.sleep(0.3)


# -- Docker ----------------------------------------------------------------------------
def images_of(docker_client, name):
    """The ``ufop/<name>:*`` tags on the engine (one call: images may go while we look)."""
    return [tag for image in docker_client.api.images(name=f"ufop/{name}")
            for tag in image.get("RepoTags") or () if tag.startswith(f"ufop/{name}:")]


def image_of(docker_client, name, version):
    tags = [t for t in images_of(docker_client, name) if t.endswith(f".{version}")]
    assert len(tags) == 1, images_of(docker_client, name)
    repo, _, tag = tags[0].partition(":")
    ufop_id, _, tagged_version = tag.partition(".")
    assert repo == f"ufop/{name}" and ufop_id.isdigit() and tagged_version == version
    return tags[0]


def blob_files(platform):
    """Every file of the platform's blob store (``incoming/`` and ``sha256/``)."""
    root = Path(platform.stack.data_dir) / "blobs"
    return {p.relative_to(root) for p in root.rglob("*") if p.is_file()}


def answers_the_instance_contract(docker_client, name, version):
    """Run the version's image as an instance would run (SPEC §6) and call it."""
    container = docker_client.containers.run(
        image_of(docker_client, name, version), detach=True, name=RUN_PREFIX + token()[:12],
        ports={"9100/tcp": ("127.0.0.1", None)},
        environment={"UFOP_NAME": name, "UFOP_VERSION": version, "UFOP_INSTANCE": "1",
                     "UFOP_CONFIGURATION": ""})
    try:
        def port():
            container.reload()
            bound = container.ports.get("9100/tcp")
            return bound and bound[0]["HostPort"]
        wait_for(port, 20, "port 9100 not published")
        base = f"http://127.0.0.1:{port()}"

        def healthy():
            try:
                return requests.get(base + "/health", timeout=3).status_code == 200
            except requests.RequestException:
                return False
        wait_for(healthy, 30, f"{name} {version}: GET /health never answered 200")
        body = b"first line of the file\n" + os.urandom(3000) + b"\nlast\n"
        answer = requests.post(base + f"/handler?cmd={name}", data=body, timeout=10)
        assert answer.status_code == 200, answer.text
        result = answer.json()
        assert result["bytes"] == len(body)
        assert result["sha1"] == hashlib.sha1(body).hexdigest()
        assert result["firstLine"] == "first line of the file"
        assert result["cmd"] == name and result["version"] == version
    finally:
        container.remove(force=True)


# -- fixtures --------------------------------------------------------------------------
@pytest.fixture(scope="session")
def docker_client():
    client = docker.from_env(timeout=300)
    yield client
    for container in client.containers.list(all=True, filters={"name": RUN_PREFIX}):
        container.remove(force=True)
    client.close()


@pytest.fixture(scope="session")
def fileinfo_context(tmp_path_factory):
    """The example ufop's build context (tar.gz): examples/fileinfo with /bin/busybox in it."""
    assert BUSYBOX.is_file(), "Debian's busybox-static is needed (make test installs it)"
    path = tmp_path_factory.mktemp("archives") / "fileinfo.tar.gz"
    path.write_bytes(archive(*fileinfo_entries()))
    return path


@pytest.fixture(scope="session")
def base_image(docker_client, tmp_path_factory):
    """``ufop-test-busybox:latest``: scratch, a static busybox and its applets, /tmp."""
    existed = bool(docker_client.images.list(name=BASE_IMAGE))
    context = archive(
        entry("Dockerfile", b"FROM scratch\nCOPY busybox /bin/busybox\n"
                            b"RUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n"
                            b"RUN mkdir -p /tmp && chmod 1777 /tmp\nCMD [\"/bin/sh\"]\n"),
        entry("busybox", BUSYBOX.read_bytes(), mode=0o755))
    docker_client.images.build(fileobj=io.BytesIO(context), custom_context=True,
                               encoding="gzip", tag=BASE_IMAGE, rm=True, pull=False)
    yield BASE_IMAGE
    if not existed:  # another suite may have made it first and still use it
        remove_image(docker_client, BASE_IMAGE)


@pytest.fixture(scope="session")
def saved_archive(docker_client, fileinfo_context, tmp_path_factory):
    """A ``docker save`` archive of the example ufop, built locally with the SDK."""
    with open(fileinfo_context, "rb") as context:
        docker_client.images.build(fileobj=context, custom_context=True, encoding="gzip",
                                   tag=SAVED_IMAGE, rm=True, pull=False)
    yield save_image(docker_client, SAVED_IMAGE,
                     tmp_path_factory.mktemp("archives") / "fileinfo-saved.tar")
    remove_image(docker_client, SAVED_IMAGE)


def remove_image(docker_client, image):
    try:
        docker_client.images.remove(image, force=True)
    except docker.errors.ImageNotFound:
        pass


@pytest.fixture(scope="session")
def made_ufops(docker_client):
    """(platform, client, name) of every ufop made here: deleted, images removed at the end."""
    made = []
    yield made
    for platform, client, name in made:
        try:
            client.delete(f"/api/ufops/{name}")
        except requests.RequestException:
            pass  # its platform may be stopped already; its images go below
    for _, _, name in made:
        for tag in images_of(docker_client, name):
            remove_image(docker_client, tag)


@pytest.fixture
def new_ufop(platform, made_ufops):
    """``new_ufop(client=admin, acl="PRIVATE", on=platform)``: a fresh ufop's name."""
    def make(client=None, acl="PRIVATE", on=None):
        on = on or platform
        client = client or on.admin
        name = on.register(client, acl=acl)
        made_ufops.append((on, client, name))
        return name
    return make


# -- each kind builds, is logged and works ---------------------------------------------
def test_a_build_context_builds_and_answers_the_contract(platform, new_ufop, docker_client,
                                                         fileinfo_context):
    name = new_ufop()
    log = build(platform.admin, name, "1.0", fileinfo_context.read_bytes())
    assert f"ufop/{name}:" in log and "built in" in log
    assert "busybox --install" in log or "Step" in log  # the engine's own output is kept
    record = versions(platform.admin, name)["1.0"]
    assert set(record) == {"version", "state", "createAt", "desc"}
    time.strptime(record["createAt"], "%Y-%m-%d %H:%M:%S")
    answers_the_instance_contract(docker_client, name, "1.0")


def test_a_qiniu_package_builds_and_answers_the_contract(platform, new_ufop, docker_client,
                                                         base_image):
    name = new_ufop()
    log = build(platform.admin, name, "q1", qiniu_package())
    assert "generated Dockerfile from ufop.yaml" in log
    assert f"FROM {BASE_IMAGE}" in log
    answers_the_instance_contract(docker_client, name, "q1")
    # build_script ran in the work directory, with the package in $RESOURCE
    image = image_of(docker_client, name, "q1")
    out = docker_client.containers.run(image, ["cat", "/ufop/built-in"], remove=True,
                                       name=RUN_PREFIX + token()[:12])
    assert out.decode().strip() == "/ufop/app"


def test_a_plain_tar_package_builds(platform, new_ufop, base_image):
    name = new_ufop()
    build(platform.admin, name, "q2", qiniu_package(gz=False), content_type="application/x-tar")


def test_a_docker_save_archive_is_loaded_and_answers_the_contract(platform, new_ufop,
                                                                  docker_client, saved_archive):
    name = new_ufop()
    log = build(platform.admin, name, "s1", saved_archive.read_bytes())
    assert "loaded image sha256:" in log
    image = image_of(docker_client, name, "s1")
    assert docker_client.images.get(image).id == docker_client.images.get(SAVED_IMAGE).id
    answers_the_instance_contract(docker_client, name, "s1")


def test_loading_never_moves_a_tag_of_the_engine(platform, new_ufop, docker_client,
                                                 base_image, saved_archive, tmp_path):
    """The archive says it is ``ufop-test-victim:latest``; that tag stays where it was."""
    docker_client.images.get(SAVED_IMAGE).tag(VICTIM_IMAGE)
    try:
        path = tmp_path / "victim.tar"
        with open(path, "wb") as out:
            for chunk in docker_client.images.get(VICTIM_IMAGE).save(named=VICTIM_IMAGE):
                out.write(chunk)
        docker_client.images.get(BASE_IMAGE).tag(VICTIM_IMAGE)  # the tag moves elsewhere
        name = new_ufop()
        build(platform.admin, name, "s2", path.read_bytes())
        assert docker_client.images.get(VICTIM_IMAGE).id == \
            docker_client.images.get(BASE_IMAGE).id
        assert docker_client.images.get(image_of(docker_client, name, "s2")).id == \
            docker_client.images.get(SAVED_IMAGE).id
    finally:
        remove_image(docker_client, VICTIM_IMAGE)


def test_a_gzip_body_signed_byte_for_byte(platform, new_ufop, fileinfo_context):
    name = new_ufop()
    body = fileinfo_context.read_bytes()
    url = f"{platform.url}/api/images?ufop={name}&version=g1"
    answer = requests.post(url, data=body, timeout=60,
                           headers=signed_raw(platform.admin, "POST", url, "application/gzip",
                                              body))
    accepted(answer, name, "g1")
    assert wait_built(platform.admin, name, "g1", BUILD_DEADLINE)["state"] == "build success"


def test_a_chunked_body_is_accepted(platform, new_ufop, fileinfo_context):
    name = new_ufop()
    data = fileinfo_context.read_bytes()
    chunks = (data[i:i + 65536] for i in range(0, len(data), 65536))
    build(platform.admin, name, "c1", chunks)


def test_the_description_is_kept(platform, new_ufop):
    name = new_ufop()
    desc = "first cut — с описанием & 版本 ?x=1"
    accepted(upload(platform.admin, name, "d1", dockerfile_context(TRIVIAL),
                    desc=desc), name, "d1")
    assert versions(platform.admin, name)["d1"]["desc"] == desc
    assert wait_built(platform.admin, name, "d1", BUILD_DEADLINE)["desc"] == desc
    accepted(upload(platform.admin, name, "d2", dockerfile_context(TRIVIAL)),
             name, "d2")
    assert versions(platform.admin, name)["d2"]["desc"] == ""


# -- failed builds ---------------------------------------------------------------------
def test_a_failing_step_ends_build_failed_and_says_why(platform, new_ufop, base_image):
    name = new_ufop()
    log = build(platform.admin, name, "bad1", dockerfile_context(sleeping_dockerfile(0, True)),
                state="build failed")
    assert "returned a non-zero code" in log, log
    assert "build failed" in log


def test_an_unknown_instruction_ends_build_failed_and_says_why(platform, new_ufop):
    name = new_ufop()
    log = build(platform.admin, name, "bad2",
                dockerfile_context("FROM scratch\nFROBNICATE the file\n"), state="build failed")
    assert "unknown instruction" in log.lower() and "frobnicate" in log.lower(), log


def test_a_missing_base_image_ends_build_failed(platform, new_ufop):
    """No registry is reachable: a base image that is not here fails, it does not hang."""
    name = new_ufop()
    log = build(platform.admin, name, "bad3",
                dockerfile_context(f"FROM ufop-test-absent-{token()}:latest\n"),
                state="build failed")
    assert "ufop-test-absent-" in log


def test_a_failed_version_may_be_uploaded_again(platform, new_ufop, fileinfo_context,
                                                docker_client):
    name = new_ufop()
    build(platform.admin, name, "2.0", dockerfile_context("FROM scratch\nNOPE\n"),
          state="build failed")
    log = build(platform.admin, name, "2.0", fileinfo_context.read_bytes(), desc="fixed")
    assert "unknown instruction" not in log.lower()  # the log is the new build's
    assert versions(platform.admin, name)["2.0"]["desc"] == "fixed"
    assert len(versions(platform.admin, name)) == 1
    image_of(docker_client, name, "2.0")


def test_an_existing_version_is_409(platform, new_ufop):
    name = new_ufop()
    build(platform.admin, name, "v1", dockerfile_context(TRIVIAL))
    before = blob_files(platform)
    context = dockerfile_context(f"FROM scratch\nLABEL x={token()}\n")
    refused(upload(platform.admin, name, "v1", context), 409, "VersionExists", "v1")
    # a signed body is read before it is refused: still nothing kept
    url = f"{platform.url}/api/images?ufop={name}&version=v1"
    answer = requests.post(url, data=context, timeout=60,
                           headers=signed_raw(platform.admin, "POST", url, "application/gzip",
                                              context))
    refused(answer, 409, "VersionExists")
    assert blob_files(platform) == before
    assert [v["state"] for v in versions(platform.admin, name).values()] == ["build success"]


# -- refused archives: 400 and nothing stored ------------------------------------------
HOSTILE = {
    "absolute path": dockerfile_context("FROM scratch\n", entry("/etc/cron.d/evil", b"x")),
    "dot-dot": dockerfile_context("FROM scratch\n", entry("../evil", b"x")),
    "dot-dot inside": dockerfile_context("FROM scratch\n", entry("a/../../evil", b"x")),
    "absolute symlink": dockerfile_context(
        "FROM scratch\n", entry("passwd", kind=tarfile.SYMTYPE, linkname="/etc/passwd")),
    "relative symlink leaving": dockerfile_context(
        "FROM scratch\n", entry("sub/up", kind=tarfile.SYMTYPE, linkname="../../etc")),
    "symlink chain leaving": dockerfile_context(
        "FROM scratch\n", entry("t", kind=tarfile.SYMTYPE, linkname="."),
        entry("s", kind=tarfile.SYMTYPE, linkname="t/t/..")),
    "hardlink leaving": dockerfile_context(
        "FROM scratch\n", entry("hard", kind=tarfile.LNKTYPE, linkname="../outside")),
    "absolute hardlink": dockerfile_context(
        "FROM scratch\n", entry("hard", kind=tarfile.LNKTYPE, linkname="/etc/shadow")),
    "char device": dockerfile_context("FROM scratch\n", entry("null", kind=tarfile.CHRTYPE)),
    "block device": dockerfile_context("FROM scratch\n", entry("sda", kind=tarfile.BLKTYPE)),
    "fifo": dockerfile_context("FROM scratch\n", entry("pipe", kind=tarfile.FIFOTYPE)),
    "no marker at the root": archive(entry("app/Dockerfile", b"FROM scratch\n"),
                                     entry("app/ufop.yaml", b"image: a\nrun: b\n")),
    "plain tar without marker": archive(entry("README", b"hello"), gz=False),
    "not an archive": os.urandom(20000),
    "gzip of no tar": gzip.compress(b"FROM scratch\n" * 100),
    "truncated": dockerfile_context("FROM scratch\n", entry("big", os.urandom(50000)))[:20000],
    "ufop.yaml not yaml": archive(entry("ufop.yaml", b"image: [unclosed\n")),
    "ufop.yaml without image": archive(entry("ufop.yaml", b"run: ./x\n")),
    "ufop.yaml without run": archive(entry("ufop.yaml", b"image: base\n")),
    "ufop.yaml build_script not a list": archive(
        entry("ufop.yaml", b"image: base\nbuild_script: make\nrun: ./x\n")),
}


@pytest.fixture(scope="module")
def hostile_ufop(platform, made_ufops):
    name = platform.register(platform.admin, acl="PRIVATE")
    made_ufops.append((platform, platform.admin, name))
    return name


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_a_hostile_archive_is_refused_and_nothing_stored(platform, hostile_ufop, kind):
    before = blob_files(platform)
    refused(upload(platform.admin, hostile_ufop, "h1", HOSTILE[kind]), 400, "InvalidArgs")
    assert versions(platform.admin, hostile_ufop) == {}
    assert blob_files(platform) == before


def test_an_empty_body_is_400(platform, new_ufop):
    name = new_ufop()
    before = blob_files(platform)
    refused(upload(platform.admin, name, "e1", b""), 400, "InvalidArgs", "empty")
    refused(upload(platform.admin, name, "e1", iter([])), 400, "InvalidArgs", "empty")
    assert versions(platform.admin, name) == {}
    assert blob_files(platform) == before


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "image/png",
                                          None])
def test_a_wrong_content_type_is_400(platform, new_ufop, content_type):
    name = new_ufop()
    before = blob_files(platform)
    body = b'{"a": 1}' if content_type == "application/json" else b"FROM scratch\n"
    refused(upload(platform.admin, name, "t1", body, content_type=content_type), 400,
            "InvalidArgs", "Content-Type")
    assert versions(platform.admin, name) == {}
    assert blob_files(platform) == before


@pytest.mark.parametrize("query, field", [({"version": "1"}, "ufop"),
                                          ({"ufop": "PLACEHOLDER"}, "version"),
                                          ({"ufop": "PLACEHOLDER", "version": "bad version!"},
                                           "version"),
                                          ({"ufop": "PLACEHOLDER", "version": "v" * 33},
                                           "version"),
                                          ({"ufop": "Bad Name", "version": "1"}, "ufop")])
def test_bad_query_is_400(platform, new_ufop, query, field):
    name = new_ufop()
    params = {k: (name if v == "PLACEHOLDER" else v) for k, v in query.items()}
    answer = platform.admin.post("/api/images", params=params, data=b"x" * 100,
                                 headers={"Content-Type": OCTET})
    refused(answer, 400, "InvalidArgs", field)


def test_an_unknown_ufop_is_404(platform):
    refused(upload(platform.admin, "nosuchufop" + token()[:8], "1",
                   dockerfile_context(TRIVIAL)), 404, "UfopNotfound")


# -- size limit ------------------------------------------------------------------------
LIMIT = 4096


@pytest.fixture(scope="module")
def small_platform(make_platform):
    return make_platform(UFOP_MAX_IMAGE_BYTES=LIMIT)


def test_the_size_limit_holds(small_platform, new_ufop):
    name = new_ufop(on=small_platform)
    client = small_platform.admin
    big = os.urandom(LIMIT * 16)

    refused(upload(client, name, "big1", big), 413, "PayloadTooLarge")
    chunks = (big[i:i + 1000] for i in range(0, len(big), 1000))  # no Content-Length
    refused(upload(client, name, "big2", chunks), 413, "PayloadTooLarge")
    # one byte past the limit, announced or not
    refused(upload(client, name, "big3", big[:LIMIT + 1]), 413, "PayloadTooLarge")
    refused(upload(client, name, "big4", iter([big[:LIMIT], b"x"])), 413, "PayloadTooLarge")
    assert versions(client, name) == {}
    assert blob_files(small_platform) == set()

    # an archive under the limit goes through, sent either way
    small = dockerfile_context("FROM scratch\nCOPY x /x\n", entry("x", b"x"))
    assert len(small) < LIMIT
    build(client, name, "ok1", small)
    build(client, name, "ok2", iter([small[:100], small[100:]]))


# -- who may upload and manage versions ------------------------------------------------
@pytest.mark.parametrize("acl, status, error", [("PRIVATE", 404, "UfopNotfound"),
                                                ("PROTECTED", 403, "Forbidden"),
                                                ("PUBLIC", 403, "Forbidden")])
def test_only_the_owner_uploads(platform, new_ufop, acl, status, error):
    owner, other = platform.new_account(), platform.new_account()
    name = new_ufop(owner, acl=acl)
    before = blob_files(platform)
    body = dockerfile_context(f"FROM scratch\nLABEL x={token()}\n")
    refused(upload(other, name, "o1", body), status, error)
    url = f"{platform.url}/api/images?ufop={name}&version=o1"
    answer = requests.post(url, data=body, timeout=60,
                           headers=signed_raw(other, "POST", url, "application/gzip", body))
    refused(answer, status, error)
    refused(other.get(f"/api/ufops/{name}/versions"), status, error)
    refused(upload(platform.anonymous, name, "o1", body), 401, "Unauthorized")
    assert blob_files(platform) == before

    build(owner, name, "o1", body)
    build(platform.admin, name, "o2", dockerfile_context(TRIVIAL))  # an admin may
    refused(other.get(f"/api/ufops/{name}/versions/o1/log"), status, error)
    refused(other.put(f"/api/ufops/{name}", json={"version": "o1"}), status, error)
    assert set(versions(owner, name)) == {"o1", "o2"}


def test_a_body_that_does_not_match_its_signature_is_401(platform, new_ufop):
    name = new_ufop()
    before = blob_files(platform)
    body = dockerfile_context(f"FROM scratch\nLABEL x={token()}\n")
    url = f"{platform.url}/api/images?ufop={name}&version=x1"
    headers = signed_raw(platform.admin, "POST", url, "application/gzip", body)
    tampered = dockerfile_context(f"FROM scratch\nLABEL y={token()}\n")
    answer = requests.post(url, data=tampered, headers=headers, timeout=60)
    refused(answer, 401, "Unauthorized", "signature")
    assert versions(platform.admin, name) == {}
    assert blob_files(platform) == before


# -- the current version ---------------------------------------------------------------
def test_current_version_rules(platform, new_ufop, base_image):
    client = platform.admin
    name = new_ufop()
    build(client, name, "good", dockerfile_context(TRIVIAL))
    build(client, name, "broken", dockerfile_context("FROM scratch\nBOGUS\n"),
          state="build failed")
    accepted(upload(client, name, "slow", dockerfile_context(sleeping_dockerfile(8))),
             name, "slow")

    refused(client.put(f"/api/ufops/{name}", json={"version": "slow"}), 400, "InvalidArgs",
            "building")
    refused(client.put(f"/api/ufops/{name}", json={"version": "broken"}), 400, "InvalidArgs",
            "build failed")
    refused(client.put(f"/api/ufops/{name}", json={"version": "nope"}), 404,
            "VersionNotFound")
    assert client.get(f"/api/ufops/{name}").json()["data"]["version"] == ""
    assert events_of(client, name, "current_version_changed", deadline=1) == []

    answer = client.put(f"/api/ufops/{name}", json={"version": "good"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["version"] == "good"
    assert client.get(f"/api/ufops/{name}").json()["data"]["version"] == "good"
    changed = events_of(client, name, "current_version_changed")
    assert len(changed) == 1 and changed[0]["detail"]["version"] == "good", changed
    assert changed[0]["detail"]["previous"] == ""

    assert wait_built(client, name, "slow", BUILD_DEADLINE)["state"] == "build success"
    answer = client.put(f"/api/ufops/{name}", json={"version": "slow"})
    assert answer.status_code == 200 and answer.json()["data"]["version"] == "slow"
    wait_for(lambda: len(events_of(client, name, "current_version_changed")) == 2, 20,
             "second current_version_changed not recorded")
    newest = events_of(client, name, "current_version_changed")[0]["detail"]
    assert (newest["version"], newest["previous"]) == ("slow", "good")


# -- builds in the background ----------------------------------------------------------
def started_ended(log):
    """The epoch seconds the sleeping step printed: ``(start, end)``."""
    start = re.search(r"^started \S+ (\d+)$", log, re.M)
    end = re.search(r"^ended (\d+)$", log, re.M)
    assert start and end, log
    return int(start.group(1)), int(end.group(1))


def test_two_builds_run_at_the_same_time(platform, new_ufop, base_image):
    client = platform.admin
    names = [new_ufop(), new_ufop()]
    bodies = [dockerfile_context(sleeping_dockerfile(4)) for _ in names]
    answers = [None, None]

    def send(i):
        answers[i] = upload(client, names[i], "p1", bodies[i])
    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for name, answer in zip(names, answers):
        accepted(answer, name, "p1")

    both_building = False
    end = time.monotonic() + BUILD_DEADLINE
    while time.monotonic() < end:
        states = [versions(client, name)["p1"]["state"] for name in names]
        both_building |= states == ["building", "building"]
        if all(state in BUILD_ENDED for state in states):
            break
        time.sleep(0.3)
    assert states == ["build success", "build success"]
    assert both_building
    (start1, end1), (start2, end2) = (started_ended(build_log(client, n, "p1")) for n in names)
    assert start1 < end2 and start2 < end1, "the two sleeping steps did not overlap"


def test_the_gateway_answers_during_a_long_build(platform, new_ufop, base_image):
    client = platform.admin
    name = new_ufop()
    started = time.monotonic()
    accepted(upload(client, name, "long", dockerfile_context(sleeping_dockerfile(10))),
             name, "long")
    assert time.monotonic() - started < 8, "the upload waited for the build"
    seen = 0
    while versions(client, name)["long"]["state"] == "building":
        t0 = time.monotonic()
        answer = client.get(f"/api/ufops/{name}", timeout=5)
        assert answer.status_code == 200, answer.text
        assert client.get("/healthz", timeout=5).status_code == 200
        assert time.monotonic() - t0 < 5
        seen += 1
        assert time.monotonic() - started < BUILD_DEADLINE
        time.sleep(0.5)
    assert seen >= 3, "the build ended before the gateway was asked anything"
    assert versions(client, name)["long"]["state"] == "build success"


def test_a_registry_restart_ends_the_build_failed(make_platform, new_ufop, base_image,
                                                  docker_client):
    own = make_platform()
    client = own.admin
    name = new_ufop(on=own)
    dockerfile = sleeping_dockerfile(30)
    marker = re.search(r"started \w+", dockerfile).group(0)

    def step_running():  # the build's container of the sleeping step
        return [c for c in docker_client.api.containers(all=True) if marker in c["Command"]]
    accepted(upload(client, name, "r1", dockerfile_context(dockerfile)), name, "r1")
    assert versions(client, name)["r1"]["state"] == "building"
    wait_for(step_running, 30, "the sleeping step never started")
    own.stack.stop_service("registry")
    own.stack.start_service("registry")
    own.stack.wait_healthy(60)
    record = wait_built(client, name, "r1", deadline=60)
    assert record["state"] == "build failed"
    log = build_log(client, name, "r1")
    assert "interrupted" in log, log
    # the engine dropped the build: no step left running, nothing tagged for the version
    wait_for(lambda: not step_running(), 30, "the interrupted step still runs on the engine")
    assert images_of(docker_client, name) == []
    # the version may be built again after the restart
    build(client, name, "r1", dockerfile_context(TRIVIAL))


# -- deleting a ufop -------------------------------------------------------------------
def test_deleting_a_ufop_removes_its_images_and_blobs(platform, new_ufop, docker_client,
                                                      base_image):
    client = platform.admin
    name = new_ufop()
    bodies = {"v1": dockerfile_context(f"FROM {BASE_IMAGE}\nRUN echo {token()} > /id\n"),
              "v2": dockerfile_context(f"FROM {BASE_IMAGE}\nRUN echo {token()} > /id\n"),
              "v3": dockerfile_context(f"FROM scratch\nNOPE {token()}\n")}
    build(client, name, "v1", bodies["v1"])
    build(client, name, "v2", bodies["v2"])
    build(client, name, "v3", bodies["v3"], state="build failed")
    blobs = Path(platform.stack.data_dir) / "blobs" / "sha256"
    paths = [blobs / hashlib.sha256(body).hexdigest() for body in bodies.values()]
    assert all(path.is_file() for path in paths)
    assert len(images_of(docker_client, name)) == 2

    answer = client.delete(f"/api/ufops/{name}")
    assert answer.status_code == 200, answer.text
    wait_for(lambda: images_of(docker_client, name) == [], 30, "images left after delete")
    wait_for(lambda: not any(path.exists() for path in paths), 30, "blobs left after delete")
    assert not docker_client.api.images(name=f"ufop/{name}")
    refused(client.get(f"/api/ufops/{name}/versions"), 404, "UfopNotfound")
    # the name is free again, with no versions
    platform.register(client, name=name, acl="PRIVATE")
    assert versions(client, name) == {}


def test_a_blob_shared_by_two_ufops_stays_while_one_uses_it(platform, new_ufop):
    client = platform.admin
    first, second = new_ufop(), new_ufop()
    body = dockerfile_context(f"FROM scratch\nLABEL shared={token()}\n")
    build(client, first, "1", body)
    build(client, second, "1", body)
    blob = Path(platform.stack.data_dir) / "blobs" / "sha256" / hashlib.sha256(body).hexdigest()
    assert client.delete(f"/api/ufops/{first}").status_code == 200
    time.sleep(3)
    assert blob.is_file()
    assert client.delete(f"/api/ufops/{second}").status_code == 200
    wait_for(lambda: not blob.exists(), 30, "the blob outlived both ufops")
