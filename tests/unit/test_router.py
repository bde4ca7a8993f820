"""The gateway's data-plane routing cache and access rules (no broker: fakes for fetches)."""
import io
from types import SimpleNamespace

import eventlet
import pytest

from gateway.proxy import PRIVATE, PROTECTED, PUBLIC, Body, Route, Router
from ufop_common.errors import (Forbidden, NoInstance, ServiceUnavailable, UfopNotfound,
                                Unauthorized)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def route(version="v1", endpoints=(("v1", 9001), ("v1", 9002)), acl=PUBLIC):
    return Route("resize", 1, "owner", acl, frozenset({"listed"}), version,
                 [{"index": i + 1, "version": v, "port": p} for i, (v, p) in enumerate(endpoints)])


class Fetches:
    """A fetch that counts its calls, yields while "on the wire", and answers ``answer``."""

    def __init__(self, answer=None, wait=0.0):
        self.calls, self.wait = 0, wait
        self.answer = answer if answer is not None else route

    def __call__(self):
        self.calls += 1
        eventlet.sleep(self.wait)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer()


def test_a_route_is_fetched_once_then_served_from_the_cache():
    router, fetch = Router(30), Fetches()
    first = router.get("resize", fetch)
    assert all(router.get("resize", fetch) is first for _ in range(50))
    assert fetch.calls == 1


def test_calls_arriving_together_share_one_fetch():
    router, fetch = Router(30), Fetches(wait=0.05)
    pool = eventlet.GreenPool()
    routes = list(pool.imap(lambda _: router.get("resize", fetch), range(20)))
    assert fetch.calls == 1 and all(r is routes[0] for r in routes)


def test_an_unknown_name_is_remembered_until_it_is_registered():
    router, fetch = Router(30), Fetches(UfopNotfound("no"))
    for _ in range(5):
        with pytest.raises(UfopNotfound):
            router.get("nosuch", fetch)
    assert fetch.calls == 1
    router.refresh("nosuch", fetch)  # ufop_registered: dropped, not fetched
    assert fetch.calls == 1
    fetch.answer = route
    assert router.get("nosuch", fetch).version == "v1" and fetch.calls == 2


def test_a_refresh_fetches_a_route_in_use_at_once_and_ignores_others():
    router, fetch = Router(30), Fetches()
    router.get("resize", fetch)
    fetch.answer = lambda: route(version="v2")
    router.refresh("resize", fetch)
    assert fetch.calls == 2
    assert router.get("resize", fetch).version == "v2" and fetch.calls == 2
    router.refresh("other", fetch)  # never called here: nothing to fetch
    assert fetch.calls == 2


def test_a_fetch_older_than_a_refresh_is_neither_kept_nor_handed_out():
    """A call waiting for a fetch that began before an instance was stopped must not get the
    route from before the stop."""
    router = Router(30)
    slow = Fetches(lambda: route(version="old"), wait=0.1)
    early = eventlet.spawn(router.get, "resize", slow)
    eventlet.sleep(0.01)  # the old fetch is on the wire
    router.refresh("resize", Fetches())  # not in use yet: only invalidates
    fresh = Fetches(lambda: route(version="new"))
    assert router.get("resize", fresh).version == "new"
    assert early.wait().version == "old"  # that caller asked before the change
    assert router.get("resize", fresh).version == "new" and fresh.calls == 1


def test_a_failed_fetch_reaches_every_waiting_call_and_is_not_cached():
    router = Router(30)
    down = Fetches(ServiceUnavailable("registry did not answer"), wait=0.05)
    pool = eventlet.GreenPool()

    def get(_):
        try:
            return router.get("resize", down)
        except ServiceUnavailable as exc:
            return exc
    assert all(isinstance(r, ServiceUnavailable) for r in pool.imap(get, range(5)))
    assert down.calls == 1
    assert router.get("resize", Fetches()).version == "v1"


def test_stale_routes_are_named_for_refresh_and_unused_ones_forgotten():
    clock = Clock()
    router = Router(30, clock)
    router.get("busy", Fetches())
    router.get("idle", Fetches())
    clock.now += 31
    router.get("busy", Fetches())  # used: kept, but stale
    assert sorted(router.stale()) == ["busy", "idle"]
    clock.now += 30
    router.get("busy", Fetches())
    assert router.stale() == ["busy"] and "idle" not in router.entries


def test_round_robin_over_the_current_version_with_suspects_last():
    r = route(endpoints=(("v1", 9001), ("v1", 9002), ("v0", 9000)))
    firsts = [r.ports()[0] for _ in range(4)]
    assert firsts == [9001, 9002, 9001, 9002]  # v0 serves only when no v1 runs
    assert r.ports({9001})[-1] == 9001
    rolling = route(version="v2", endpoints=(("v1", 9001),))
    assert rolling.ports() == [9001]  # no v2 Running yet: the old version serves
    with pytest.raises(NoInstance):
        route(endpoints=()).ports()


@pytest.mark.parametrize("acl", [PUBLIC, PROTECTED, PRIVATE])
def test_the_acl_matrix(acl):
    r = route(acl=acl)
    owner, listed = SimpleNamespace(uid="owner", admin=False), SimpleNamespace(uid="listed",
                                                                               admin=False)
    other, admin = SimpleNamespace(uid="x", admin=False), SimpleNamespace(uid="y", admin=True)
    for caller in (owner, listed, admin):
        assert r.allows(caller)
    if acl == PUBLIC:
        assert r.allows(other) and r.allows(None)
        return
    with pytest.raises(Unauthorized if acl == PROTECTED else UfopNotfound):
        r.allows(None)  # a PRIVATE ufop is not there for anyone else, signed or not
    with pytest.raises(Forbidden if acl == PROTECTED else UfopNotfound, match="resize|access"):
        r.allows(other)


def test_a_body_is_read_up_to_its_length_and_knows_it_began():
    body = Body(io.BytesIO(b"x" * 100), 60)
    assert not body.started
    assert body.read(50) == b"x" * 50 and body.started
    assert body.read(50) == b"x" * 10 and body.read(50) == b""


class Trickle(io.BytesIO):
    def read(self, size=-1):  # a socket may hand over less than asked
        return super().read(min(size, 3))


def test_read_all_gathers_a_body_a_stream_hands_over_in_pieces():
    assert Body(Trickle(b"0123456789" * 2), 15).read_all() == b"0123456789" + b"01234"


def test_a_fresh_route_clears_what_failed_calls_suspected():
    router = Router(30)
    router.get("resize", Fetches())
    router.suspect(9001)
    assert router.suspected() == {9001}
    router.refresh("resize", Fetches())  # the instance is Running again, says the scheduler
    assert router.suspected() == set()


def test_a_route_past_its_ttl_serves_on_while_it_cannot_be_fetched():
    clock = Clock()
    router = Router(30, clock)
    router.get("resize", Fetches())
    clock.now += 31
    assert router.stale() == ["resize"]
    router.revalidate("resize", Fetches(ServiceUnavailable("registry down")))
    assert router.get("resize", Fetches(ServiceUnavailable("no"))).version == "v1"
    assert router.stale() == []  # tried again after another TTL
    router.revalidate("resize", Fetches(lambda: route(version="v2")))
    assert router.get("resize", Fetches()).version == "v2"
