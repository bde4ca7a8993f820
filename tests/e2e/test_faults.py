"""Faults, each on a platform of its own: one service process stopped, then started again.
The gateway answers 503 within the RPC deadline (3 s here), never hangs, and /healthz names the
service; once it is back, everything works again and nothing answered with 200 is lost."""
import time

import pytest

from support import HANG, RPC_TIMEOUT, assert_error, assert_ok, new_name, wait_for


def timed(call):
    started = time.monotonic()
    answer = call()
    elapsed = time.monotonic() - started
    assert elapsed < HANG, f"took {elapsed:.1f} s"
    return answer


def health(platform):
    answer = timed(lambda: platform.anonymous.get("/healthz"))
    return answer.status_code, answer.json()


def assert_down(platform, service):
    status, body = health(platform)
    assert status == 503 and body["code"] == 503 and body["error"] == "ServiceUnavailable"
    assert service in body["message"]
    assert body["data"][service] != "ok"
    assert all(state == "ok" for name, state in body["data"].items() if name != service)


def restart(platform, service):
    platform.stack.start_service(service)
    platform.stack.wait_healthy(90)


@pytest.fixture
def lone_platform(make_platform):
    return make_platform()


def test_registry_stopped(lone_platform):
    platform = lone_platform
    owner = platform.new_account()
    kept = [platform.register(owner, acl=i % 3) for i in range(5)]
    platform.stack.stop_service("registry")

    assert_error(timed(lambda: owner.get(f"/api/ufops/{kept[0]}")), 503, "ServiceUnavailable",
                 "registry")
    assert_error(timed(lambda: owner.get("/api/ufops")), 503, "ServiceUnavailable")
    ghost = new_name()
    told_503_at = time.monotonic()
    assert_error(timed(lambda: owner.post("/api/ufops", json={"name": ghost, "aclMode": 0})),
                 503, "ServiceUnavailable")
    assert_error(timed(lambda: owner.delete(f"/api/ufops/{kept[1]}")), 503,
                 "ServiceUnavailable")
    assert_down(platform, "registry")
    # what does not need the registry still works
    assert assert_ok(timed(lambda: owner.get("/api/accounts/me")))["uid"] == owner.uid
    assert_error(timed(lambda: platform.anonymous.get("/api/ufops")), 401, "Unauthorized")

    # the requests answered 503 expire with their deadline: a registry that comes back
    # later never acts on them
    time.sleep(max(0.0, told_503_at + RPC_TIMEOUT + 1 - time.monotonic()))
    restart(platform, "registry")
    assert [assert_ok(owner.get(f"/api/ufops/{n}"))["name"] for n in kept] == kept
    assert_error(owner.get(f"/api/ufops/{ghost}"), 404, "UfopNotfound")
    again = platform.register(owner, name=ghost)
    assert assert_ok(owner.get(f"/api/ufops/{again}"))["owner"] == owner.uid
    assert health(platform)[0] == 200


def test_logs_stopped(lone_platform):
    platform = lone_platform
    owner = platform.new_account()
    before = platform.register(owner)
    wait_for(lambda: assert_ok(owner.get(f"/api/ufops/{before}/events")))
    platform.stack.stop_service("logs")

    assert_error(timed(lambda: owner.get(f"/api/ufops/{before}/events")), 503,
                 "ServiceUnavailable", "logs")
    assert_down(platform, "logs")
    # the registry does not wait for its subscribers: registering still works...
    during = platform.register(owner)
    assert_ok(owner.put(f"/api/ufops/{during}", json={"desc": "while logs was down"}))

    restart(platform, "logs")
    # ...and the events published meanwhile were kept for the logs service
    events = wait_for(lambda: (lambda e: len(e) >= 2 and e)(
        assert_ok(owner.get(f"/api/ufops/{during}/events"))), timeout=30)
    assert [e["type"] for e in events] == ["ufop_updated", "ufop_registered"]


def test_scheduler_stopped(lone_platform):
    platform = lone_platform
    owner = platform.new_account()
    name = platform.register(owner)
    platform.stack.stop_service("scheduler")
    assert_down(platform, "scheduler")
    assert_ok(timed(lambda: owner.get(f"/api/ufops/{name}")))
    assert_error(timed(lambda: owner.get(f"/api/ufops/{name}/instances")), 503,
                 "ServiceUnavailable", "scheduler")
    restart(platform, "scheduler")
    assert assert_ok(owner.get(f"/api/ufops/{name}/instances")) == []


def test_every_service_stopped_at_once(lone_platform):
    platform = lone_platform
    owner = platform.new_account()
    name = platform.register(owner)
    for service in ("registry", "scheduler", "logs"):
        platform.stack.stop_service(service)
    status, body = health(platform)
    assert status == 503
    assert all(s in body["message"] for s in ("registry", "scheduler", "logs"))
    for path in (f"/api/ufops/{name}", "/api/ufops", f"/api/ufops/{name}/events"):
        assert_error(timed(lambda: owner.get(path)), 503, "ServiceUnavailable")
    for service in ("registry", "scheduler", "logs"):
        platform.stack.start_service(service)
    platform.stack.wait_healthy(90)
    assert assert_ok(owner.get(f"/api/ufops/{name}"))["name"] == name
