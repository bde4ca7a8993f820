"""Checks shared by the end-to-end tests (imported by name: pytest puts this folder on the path)."""
import http.server
import io
import tarfile
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import requests
from qiniu.auth import QiniuMacAuth

#: generous deadlines that only catch hangs (the platform runs with UFOP_RPC_TIMEOUT=3)
RPC_TIMEOUT = 3
HANG = RPC_TIMEOUT + 5


def new_name(prefix="t"):
    return prefix + uuid.uuid4().hex[:12]


def assert_ok(answer):
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    body = answer.json()
    assert body["code"] == 200
    return body.get("data")


def assert_error(answer, status, name=None, mentions=None):
    """An error answer of SPEC §2: that status, JSON, exactly ``{code, error, message}``."""
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/json"), answer.headers
    assert "<html" not in answer.text.lower() and "Traceback" not in answer.text
    body = answer.json()
    assert set(body) == {"code", "error", "message"}, body
    assert body["code"] == status
    assert isinstance(body["message"], str) and body["message"]
    if name is not None:
        assert body["error"] == name, body
    if mentions is not None:
        assert mentions in body["message"], body
    return body


def refused(answer, status, error, *words):
    """``assert_error`` with that error name, its message holding every one of ``words``."""
    body = assert_error(answer, status, error)
    for word in words:
        assert word in body["message"], body
    return body


def wait_for(predicate, timeout=20, what="the condition", interval=0.1):
    """Poll until ``predicate()`` is truthy and return it; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"not within {timeout} s: {what} (last: {str(last)[:2000]})")


def tar_gz(files):
    """``files``: {name: (bytes, mode)} -> the bytes of a tar.gz."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, (data, mode) in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


OCTET = "application/octet-stream"
BUILD_ENDED = ("build success", "build failed")


def wait_built(client, name, version, deadline=180):
    """Poll the version until its build ends; its record."""
    def ended():
        listed = {v["version"]: v for v in assert_ok(client.get(f"/api/ufops/{name}/versions"))}
        record = listed.get(version)
        assert record is not None, f"version {version} of {name} is not listed"
        assert record["state"] in ("building", *BUILD_ENDED), record
        return record if record["state"] in BUILD_ENDED else None
    return wait_for(ended, deadline, f"{name} {version} built", interval=0.5)


def upload_built(client, name, versions, context, deadline=180):
    """Upload ``context`` as each of ``versions`` and wait until every build succeeded."""
    for version in versions:
        assert_ok(client.post("/api/images", params={"ufop": name, "version": version},
                              data=context, headers={"Content-Type": OCTET}, timeout=180))
    for version in versions:
        record = wait_built(client, name, version, deadline)
        assert record["state"] == "build success", assert_ok(client.get(
            f"/api/ufops/{name}/versions/{version}/log"))


def qiniu_date(offset_seconds=0):
    return datetime.fromtimestamp(time.time() + offset_seconds, timezone.utc).strftime(
        "%Y%m%dT%H%M%SZ")


def sdk_authorization(client, method, url, headers=None, body=None, sign_url=None):
    """The ``Authorization`` the official SDK computes for a request (optionally for another
    URL than the one it is sent to); ``headers`` are the request's own."""
    headers = headers or {}
    mac = QiniuMacAuth(client.access_key, client.secret_key,
                       disable_qiniu_timestamp_signature=True)
    token = mac.token_of_request(method, None, sign_url or url, mac.qiniu_headers(headers),
                                 headers.get("Content-Type"), body)
    return f"Qiniu {token}"


def send_signed(client, method, path, headers=None, body=None, sign_path=None, timeout=30):
    """A request signed by the SDK with exactly ``headers`` (no automatic X-Qiniu-Date)."""
    url = client.base_url + path
    headers = dict(headers or {})
    sign_url = client.base_url + sign_path if sign_path else None
    headers["Authorization"] = sdk_authorization(client, method, url, headers, body, sign_url)
    return requests.request(method, url, headers=headers, data=body, timeout=timeout)


def page(client, limit=None, marker=None):
    params = {}
    if limit is not None:
        params["limit"] = limit
    if marker is not None:
        params["marker"] = marker
    answer = client.get("/api/ufops", params=params)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) <= {"code", "data", "marker"}
    for item in body["data"]:
        assert set(item) == {"name", "aclMode", "desc"}
    return body["data"], body.get("marker")


def walk(client, limit):
    """The names on every page with ``limit``, checking that a marker comes exactly when more
    remain: a page with one is full and is followed by a non-empty page."""
    seen, marker = [], None
    while True:
        items, next_marker = page(client, limit, marker)
        if marker is not None:
            assert items, f"marker {marker!r} was given but nothing remained"
        seen += [i["name"] for i in items]
        if next_marker is None:
            return seen
        assert len(items) == limit and next_marker == items[-1]["name"]
        marker = next_marker


# -- ufops with instances (the instances, data plane and ufopctl tests) ---------------------
REPO_ROOT = Path(__file__).resolve().parents[2]
FILEINFO = REPO_ROOT / "examples" / "fileinfo"
BUSYBOX = Path("/bin/busybox")
BUILD_DEADLINE = 180  # seconds; every deadline here only catches a hang
STATE_DEADLINE = 90
ACTION_TIMEOUT = 120  # an instance operation waits for health, bounded by the platform


def fileinfo_context():
    """examples/fileinfo with the static busybox it copies in."""
    assert BUSYBOX.is_file(), "Debian's busybox-static is needed (make test installs it)"
    return tar_gz({"Dockerfile": ((FILEINFO / "Dockerfile").read_bytes(), 0o644),
                   "handler.sh": ((FILEINFO / "handler.sh").read_bytes(), 0o755),
                   "busybox": (BUSYBOX.read_bytes(), 0o755)})


def probe_context():
    """tests/e2e/probe: echoes, answers late or never, as its call's params say."""
    probe = Path(__file__).parent / "probe"
    return tar_gz({"Dockerfile": ((probe / "Dockerfile").read_bytes(), 0o644),
                   "handler.sh": ((probe / "handler.sh").read_bytes(), 0o755),
                   "busybox": (BUSYBOX.read_bytes(), 0o755)})


def sleeper_context():
    """A ufop that never answers: no server, just ``sleep 1000``."""
    dockerfile = (b'FROM scratch\nCOPY busybox /bin/busybox\n'
                  b'CMD ["/bin/busybox", "sleep", "1000"]\n')
    return tar_gz({"Dockerfile": (dockerfile, 0o644), "busybox": (BUSYBOX.read_bytes(), 0o755)})


# -- small helpers -------------------------------------------------------------------------
def clone(client):
    """Another client with the same keys (a ``requests.Session`` per thread)."""
    return type(client)(client.base_url, client.access_key, client.secret_key, uid=client.uid)


def platform_id(platform):
    return (platform.stack.data_dir / "platform-id").read_text().strip()


def listing(client, name):
    return assert_ok(client.get(f"/api/ufops/{name}/instances"))


def states(client, name):
    return {i["index"]: i["state"] for i in listing(client, name)}


def all_running(client, name, count):
    current = states(client, name)
    return len(current) == count and set(current.values()) == {"Running"} and current


def add(client, name, size, **fields):
    return client.post(f"/api/ufops/{name}/instances", json=dict(size=size, **fields),
                       timeout=ACTION_TIMEOUT)


def act(client, name, index, action):
    return client.post(f"/api/ufops/{name}/instances/{index}/{action}", json={},
                       timeout=ACTION_TIMEOUT)


def call(client, name, rest="", **kwargs):
    """The data plane: GET (or POST with ``data=``) /ufop/<name>[/<rest>]."""
    method = "POST" if "data" in kwargs else "GET"
    path = f"/ufop/{name}" + (f"/{rest}" if rest else "")
    kwargs.setdefault("timeout", 30)
    return client.request(method, path, **kwargs)


class Docker:
    """The containers one platform made, seen through the Docker engine."""

    def __init__(self, client, platform):
        self.client = client
        self.platform_id = platform_id(platform)

    def containers(self, name=None):
        """``[{Id, Labels, State, ...}]`` as ``docker ps -a`` lists them (no inspect each,
        which would race with removals)."""
        labels = [f"ufop.platform={self.platform_id}"]
        if name:
            labels.append(f"ufop.name={name}")
        return self.client.api.containers(all=True, filters={"label": labels})

    def by_index(self, name):
        found = {}
        for container in self.containers(name):
            found.setdefault(int(container["Labels"]["ufop.index"]), []).append(container)
        return found

    def one(self, name, index):
        """The one container of instance ``index``, inspected."""
        (container,) = self.by_index(name)[index]
        return self.client.containers.get(container["Id"])


@contextmanager
def served_on_the_bridge(docker_client, content):
    """An HTTP server on the Docker bridge's gateway address that answers ``content`` to any
    GET (a file for a ufop's ``?url=``): yields its base URL and the paths it was asked for."""
    gateway_ip = docker_client.networks.get("bridge").attrs["IPAM"]["Config"][0]["Gateway"]
    asked = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer((gateway_ip, 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://{gateway_ip}:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()


def save_image(docker_client, image, path):
    """``docker save`` of ``image`` (its tags kept) into the file ``path``; ``path``."""
    with open(path, "wb") as out:
        for chunk in docker_client.images.get(image).save(named=True):
            out.write(chunk)
    return path
