"""RabbitMQ restarted under a running platform (issue 2, Faults). Named to run last: it stops
the broker every other test uses.

The broker is shut down for real (``rabbitmqctl shutdown``) and started again
(``rabbitmq-server -detached``); our four processes are left alone. Requests must succeed again
within 15 s of the broker being back, every ufop acknowledged with 200 before must still be
there, and events must flow again (the subscribers reconnected)."""
import shutil
import subprocess
import time

import pytest

from support import HANG, assert_ok, walk

BACK_WITHIN = 15


def rabbitmqctl(*args, timeout=120):
    subprocess.run(["rabbitmqctl", *args], check=True, timeout=timeout,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def broker_start(within=120):
    # -detached forks the node; it must not hold our pipes open
    subprocess.run(["rabbitmq-server", "-detached"], timeout=60, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # await_startup fails at once while the new node is not yet reachable: ask again
    deadline = time.monotonic() + within
    while True:
        try:
            return rabbitmqctl("await_startup", "--timeout", str(within), timeout=within + 30)
        except subprocess.CalledProcessError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.fixture
def broker():
    """Stops and starts the local RabbitMQ node; always leaves it running."""
    for tool in ("rabbitmqctl", "rabbitmq-server"):
        assert shutil.which(tool), f"{tool} is needed to restart the broker (make test installs it)"

    class Broker:
        running = True

        def stop(self):
            self.running = False
            rabbitmqctl("shutdown")

        def start(self):
            broker_start()
            self.running = True

    broker = Broker()
    yield broker
    if not broker.running:
        broker_start()


def eventually(check, within):
    """The first ``check()`` that does not raise, within ``within`` seconds; the time taken."""
    started = time.monotonic()
    while True:
        try:
            return check(), time.monotonic() - started
        except (AssertionError, OSError, ValueError) as exc:
            if time.monotonic() - started > within:
                raise AssertionError(f"still failing after {within} s: {exc}") from exc
            time.sleep(0.2)


def test_broker_restart(make_platform, broker):
    platform = make_platform()
    owner = platform.new_account()
    kept = {}
    for i in range(12):
        name = platform.register(owner, acl=i % 3, desc=f"before restart {i}")
        kept[name] = assert_ok(owner.get(f"/api/ufops/{name}"))
    updated = next(iter(kept))
    kept[updated] = assert_ok(owner.put(f"/api/ufops/{updated}", json={"desc": "changed"}))

    broker.stop()
    try:
        started = time.monotonic()
        answer = owner.get(f"/api/ufops/{updated}", timeout=30)
        assert time.monotonic() - started < HANG  # no hang while the broker is away
        assert answer.status_code == 503 and answer.json()["error"] == "ServiceUnavailable"
        started = time.monotonic()
        answer = platform.anonymous.get("/healthz", timeout=30)
        assert time.monotonic() - started < HANG
        assert answer.status_code == 503 and answer.json()["error"] == "ServiceUnavailable"
    finally:
        broker.start()

    first, took = eventually(lambda: assert_ok(owner.get(f"/api/ufops/{updated}",
                                                         timeout=BACK_WITHIN)), BACK_WITHIN)
    assert first == kept[updated]
    assert platform.stack.exited() == {}  # none of our processes was restarted

    for name, detail in kept.items():
        assert assert_ok(owner.get(f"/api/ufops/{name}")) == detail
    assert set(kept) <= set(walk(owner, 5))

    # writes work, and the logs service gets events again (its consumers reconnected)
    after = platform.register(owner, desc="after restart")

    def trail():
        events = assert_ok(owner.get(f"/api/ufops/{after}/events"))
        assert events, "no events recorded yet"
        return events

    events, _ = eventually(trail, 30)
    assert [e["type"] for e in events] == ["ufop_registered"]
    health, _ = eventually(lambda: assert_ok(platform.anonymous.get("/healthz")), 30)
    assert set(health.values()) == {"ok"}
