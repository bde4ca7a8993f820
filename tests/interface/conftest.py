"""Interface tier: one real nameko container per service on real RabbitMQ (a vhost per test,
from nameko's ``rabbit_config``), its own store real, the other services replaced or absent."""
import time
import uuid
from urllib.parse import urlparse, urlunparse

import psycopg2
import pytest
from nameko.events import event_handler
from nameko.standalone.events import event_dispatcher
from nameko.standalone.rpc import ServiceRpcProxy


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A fresh UFOP_DATA_DIR read by the services' ``config.load()``; no database URLs."""
    monkeypatch.setenv("UFOP_DATA_DIR", str(tmp_path))
    for key in ("UFOP_REGISTRY_DB", "UFOP_GATEWAY_DB", "UFOP_LOGS_DB", "UFOP_SCHEDULER_DB"):
        monkeypatch.delenv(key, raising=False)
    return tmp_path


@pytest.fixture(scope="session")
def pg_database(pg_url):
    """A PostgreSQL database of this test session only, made from ``pg_url``, dropped at the
    end (so that parallel runs on one server never see each other's tables)."""
    parts = urlparse(pg_url)
    name = "ufop_it_" + uuid.uuid4().hex[:10]
    admin = psycopg2.connect(pg_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    yield urlunparse(parts._replace(path="/" + name))
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.close()


@pytest.fixture
def clean_pg_database(pg_database):
    """The session's PostgreSQL database with every table dropped: each test starts from an
    empty store, as it does with a new SQLite file."""
    conn = psycopg2.connect(pg_database)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    conn.close()
    return pg_database


@pytest.fixture
def rpc(rabbit_config):
    """``rpc("registry").method(...)``: a standalone proxy, stopped at the end of the test."""
    proxies = []

    def make(service, timeout=15):
        proxy = ServiceRpcProxy(service, rabbit_config, timeout=timeout)
        proxies.append(proxy)
        return proxy.start()

    yield make
    for proxy in proxies:
        proxy.stop()


@pytest.fixture
def dispatch(rabbit_config):
    """``dispatch("registry", "ufop_registered", payload)`` as that service would."""
    return event_dispatcher(rabbit_config)


@pytest.fixture
def recorder(container_factory, rabbit_config):
    """A real subscriber service: ``recorder([("registry", "ufop_registered"), ...])`` starts it
    and returns the list it appends ``(event_type, payload)`` to."""

    def start(subscriptions):
        received = []
        attrs = {"name": "recorder_" + uuid.uuid4().hex[:8]}
        for source, event_type in subscriptions:
            def handle(self, payload, event_type=event_type):
                received.append((event_type, payload))
            attrs[f"on_{source}_{event_type}"] = event_handler(source, event_type)(handle)
        container = container_factory(type("Recorder", (), attrs), rabbit_config)
        container.start()
        return received

    return start


def poll(predicate, timeout=15, interval=0.05):
    """Poll ``predicate`` until it is truthy (returned) or the hang-catching deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {predicate}")
        time.sleep(interval)


@pytest.fixture
def wait_for():
    return poll
