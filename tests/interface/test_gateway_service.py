"""The gateway as one real nameko container serving real HTTP, its account store real, the
registry replaced by a small fake service on the same bus, the scheduler and logs absent."""
import socket
import time

import eventlet
import pytest
import requests
from nameko.rpc import rpc
from qiniu.auth import QiniuMacAuth, QiniuMacRequestsAuth

from gateway import models
from gateway.service import GatewayService
from ufop_common.errors import UfopNotfound

ADMIN_AK, ADMIN_SK = "it-admin-ak", "it-admin-sk"
RPC_TIMEOUT = 2


class FakeRegistry:
    """Answers like the registry does, and says who asked."""

    name = "registry"

    @rpc
    def ping(self):
        return "pong"

    @rpc
    def create_ufop(self, uid, fields):
        return {"uid": uid, "fields": fields}

    @rpc
    def get_ufop(self, uid, name, admin=False):
        if name == "missing":
            raise UfopNotfound(f"ufop {name!r} not found")
        if name == "broken":
            raise RuntimeError("secret internals at /srv/registry.db")
        if name == "slowly":
            eventlet.sleep(RPC_TIMEOUT + 5)
        return {"name": name, "uid": uid, "admin": admin}

    @rpc
    def list_ufops(self, uid, limit=100, marker=None, admin=False):
        items = [{"name": f"item{i}x", "aclMode": "PUBLIC", "desc": ""} for i in range(limit)]
        return {"items": items, "marker": "item0x" if limit == 1 else None}

    @rpc
    def authorize(self, uid, name, action="see", admin=False):
        return {"id": 1, "name": name}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gateway(data_dir, monkeypatch, container_factory, rabbit_config):
    monkeypatch.setenv("UFOP_ADMIN_AK", ADMIN_AK)
    monkeypatch.setenv("UFOP_ADMIN_SK", ADMIN_SK)
    monkeypatch.setenv("UFOP_RPC_TIMEOUT", str(RPC_TIMEOUT))
    address = f"127.0.0.1:{free_port()}"
    container_factory(FakeRegistry, rabbit_config).start()
    container = container_factory(GatewayService, dict(rabbit_config,
                                                       WEB_SERVER_ADDRESS=address))
    container.start()
    yield f"http://{address}"
    container.stop()
    models.database.close()


def signed(ak=ADMIN_AK, sk=ADMIN_SK):
    session = requests.Session()
    session.auth = QiniuMacRequestsAuth(QiniuMacAuth(ak, sk))
    return session


def assert_error(answer, status, name):
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    body = answer.json()
    assert set(body) == {"code", "error", "message"}
    assert (body["code"], body["error"]) == (status, name)
    assert body["message"]
    return body


def test_health_names_the_services_that_do_not_answer(gateway):
    answer = requests.get(gateway + "/healthz", timeout=10)
    assert answer.status_code == 503
    body = answer.json()
    assert (body["code"], body["error"]) == (503, "ServiceUnavailable")
    assert "scheduler" in body["message"] and "logs" in body["message"]
    assert "registry" not in body["message"]
    assert body["data"]["registry"] == "ok" and body["data"]["gateway"] == "ok"


def test_the_caller_comes_from_the_signature(gateway):
    answer = signed().post(gateway + "/api/ufops", json={"name": "hello", "aclMode": 0,
                                                         "uid": "forged"}, timeout=10)
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    me = signed().get(gateway + "/api/accounts/me", timeout=10).json()["data"]
    assert data["uid"] == me["uid"] and me["accessKey"] == ADMIN_AK and me["admin"] is True
    assert data["fields"] == {"name": "hello", "aclMode": 0, "uid": "forged"}


def test_accounts_are_kept_by_the_gateway(gateway):
    made = signed().post(gateway + "/api/accounts", json={}, timeout=10).json()["data"]
    assert set(made) == {"uid", "accessKey", "secretKey"}
    me = signed(made["accessKey"], made["secretKey"]).get(gateway + "/api/accounts/me",
                                                          timeout=10).json()["data"]
    assert (me["uid"], me["admin"]) == (made["uid"], False)
    answer = signed(made["accessKey"], made["secretKey"]).post(gateway + "/api/accounts",
                                                               json={}, timeout=10)
    assert_error(answer, 403, "Forbidden")


def test_envelope_and_remote_errors(gateway):
    ok = signed().get(gateway + "/api/ufops/hello", timeout=10)
    assert ok.json() == {"code": 200, "data": {"name": "hello", "uid": ok.json()["data"]["uid"],
                                               "admin": True}}
    assert_error(signed().get(gateway + "/api/ufops/missing", timeout=10), 404, "UfopNotfound")
    broken = assert_error(signed().get(gateway + "/api/ufops/broken", timeout=10), 500,
                          "ResultError")
    assert "secret" not in broken["message"] and "Traceback" not in broken["message"]


def test_a_slow_service_is_503_at_the_deadline(gateway):
    started = time.monotonic()
    answer = signed().get(gateway + "/api/ufops/slowly", timeout=30)
    assert time.monotonic() - started < RPC_TIMEOUT + 3  # generous: catches a hang
    body = assert_error(answer, 503, "ServiceUnavailable")
    assert "registry" in body["message"]


def test_an_absent_service_is_503(gateway):
    started = time.monotonic()
    answer = signed().get(gateway + "/api/ufops/hello/events", timeout=30)
    assert time.monotonic() - started < RPC_TIMEOUT + 3
    body = assert_error(answer, 503, "ServiceUnavailable")
    assert "logs" in body["message"]


def test_marker_only_when_the_service_gives_one(gateway):
    one = signed().get(gateway + "/api/ufops?limit=1", timeout=10).json()
    assert one["marker"] == "item0x" and len(one["data"]) == 1
    two = signed().get(gateway + "/api/ufops?limit=2", timeout=10).json()
    assert "marker" not in two and len(two["data"]) == 2


def test_unsigned_calls_never_reach_the_service(gateway):
    assert_error(requests.get(gateway + "/api/ufops/missing", timeout=10), 401, "Unauthorized")
    assert_error(requests.post(gateway + "/api/ufops", json={}, timeout=10), 401,
                 "Unauthorized")
