"""Fixtures shared by every tier.

unit/       no broker, no Docker: pure functions and services through ``worker_factory``
interface/  one real nameko container per service, real RabbitMQ (own vhost), real store
e2e/        the whole platform as ``nameko run`` processes, real RabbitMQ, real HTTP
"""
import eventlet

eventlet.monkey_patch()  # nameko's plugin no longer does this; services and tests need it

import os  # noqa: E402
import socket  # noqa: E402
import sqlite3  # noqa: E402
import uuid  # noqa: E402
from contextlib import closing  # noqa: E402
from urllib.parse import urlparse  # noqa: E402

import docker  # noqa: E402
import pytest  # noqa: E402
import requests  # noqa: E402
from qiniu.auth import QiniuMacAuth, QiniuMacRequestsAuth  # noqa: E402

from ufop_common.launcher import Stack  # noqa: E402

ADMIN_AK = "test-admin-ak"
ADMIN_SK = "test-admin-sk"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def in_ci():
    return os.environ.get("CI", "").lower() == "true"


class Client:
    """An HTTP client of the gateway that signs like the official qiniu SDK."""

    def __init__(self, base_url, access_key=None, secret_key=None, uid=None):
        self.base_url = base_url
        self.uid = uid
        self.access_key, self.secret_key = access_key, secret_key
        self.session = requests.Session()
        if access_key:
            self.session.auth = QiniuMacRequestsAuth(QiniuMacAuth(access_key, secret_key))

    def request(self, method, path, **kwargs):
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, self.base_url + path, **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


class Platform:
    """A running platform: its stack of processes, its URL, and clients for accounts."""

    def __init__(self, stack):
        self.stack = stack
        self.url = stack.gateway_url
        self.admin = Client(self.url, ADMIN_AK, ADMIN_SK)
        self.anonymous = Client(self.url)

    def new_account(self, admin=False):
        answer = self.admin.post("/api/accounts", json={"admin": admin})
        assert answer.status_code == 200, answer.text
        data = answer.json()["data"]
        return Client(self.url, data["accessKey"], data["secretKey"], uid=data["uid"])

    def register(self, client, name=None, acl="PUBLIC", **fields):
        name = name or "u" + uuid.uuid4().hex[:12]
        answer = client.post("/api/ufops", json=dict(name=name, aclMode=acl, **fields))
        assert answer.status_code == 200, answer.text
        return name


@pytest.fixture(scope="session")
def rabbit_amqp_uri(request):
    return request.config.getoption("RABBIT_AMQP_URI")


@pytest.fixture(scope="session")
def make_vhost(rabbit_manager, rabbit_amqp_uri):
    """Creates isolated RabbitMQ vhosts; returns the AMQP URI of each. Deleted at the end."""
    made = []
    parts = urlparse(rabbit_amqp_uri)

    def make():
        vhost = "ufop_test_" + uuid.uuid4().hex[:10]
        rabbit_manager.create_vhost(vhost)
        rabbit_manager.set_vhost_permissions(vhost, parts.username, ".*", ".*", ".*")
        made.append(vhost)
        return f"amqp://{parts.netloc}/{vhost}"

    yield make
    for vhost in made:
        try:
            rabbit_manager.delete_vhost(vhost)
        except Exception:
            pass


@pytest.fixture(scope="session")
def make_platform(tmp_path_factory, make_vhost):
    """Starts whole platforms (four ``nameko run`` processes each); stops them at the end."""
    started = []

    def make(**env):
        data_dir = tmp_path_factory.mktemp("platform")
        full_env = dict(os.environ,
                        UFOP_DATA_DIR=str(data_dir),
                        UFOP_AMQP_URI=make_vhost(),
                        UFOP_GATEWAY_ADDR=f"127.0.0.1:{free_port()}",
                        UFOP_ADMIN_AK=ADMIN_AK, UFOP_ADMIN_SK=ADMIN_SK,
                        UFOP_RPC_TIMEOUT="3")
        for key in [k for k in full_env if k.startswith("UFOP_") and k.endswith("_DB")]:
            del full_env[key]
        full_env.update({k: str(v) for k, v in env.items()})
        stack = Stack(env=full_env).start()
        started.append(stack)
        try:
            stack.wait_healthy(90)
        except Exception:
            stack.stop()
            raise
        return Platform(stack)

    yield make
    for stack in started:
        stack.stop()
        forget_docker_state(stack.data_dir)


def forget_docker_state(data_dir):
    """What a test platform left on the shared Docker engine: its containers (by its
    ``ufop.platform`` label) and the images its registry built (by its store's records)."""
    client = docker.from_env()
    platform_id = data_dir / "platform-id"
    if platform_id.exists():
        label = f"ufop.platform={platform_id.read_text().strip()}"
        for container in client.containers.list(all=True, filters={"label": label}):
            try:
                container.remove(force=True)
            except docker.errors.APIError:
                pass  # already going
    store = data_dir / "registry.db"
    images = []
    if store.exists():
        try:
            with closing(sqlite3.connect(store)) as db:
                images = [row[0] for row in
                          db.execute("SELECT image FROM version WHERE image != ''")]
        except sqlite3.Error:
            pass  # the registry never made its tables
        for image in images:
            try:
                client.images.remove(image, force=True)
            except docker.errors.APIError:
                pass  # removed by the test itself, or still used by another platform
    client.close()


@pytest.fixture(scope="session")
def platform(make_platform):
    """One platform shared by the e2e tests that do not break it."""
    return make_platform()


@pytest.fixture(scope="session")
def pg_url():
    """A real PostgreSQL database for the store tests (made by ``make test``)."""
    url = os.environ.get("UFOP_TEST_PG_URL")
    if not url:
        path = os.path.join(os.environ.get("UFOP_DATA_DIR", "./var"), "test-pg-url")
        if os.path.exists(path):
            url = open(path).read().strip()
    if not url:
        pytest.fail("UFOP_TEST_PG_URL is not set: run the tests with `make test`, which "
                    "installs and starts PostgreSQL")
    return url


def pytest_collection_modifyitems(items):
    """Modules named ``test_zz_*`` disturb what every test shares (the broker): run them last,
    after every tier."""
    items.sort(key=lambda item: item.path.name.startswith("test_zz_"))
