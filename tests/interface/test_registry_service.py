"""The registry as one real nameko container on RabbitMQ, called over RPC, with its store on
SQLite and on PostgreSQL -- the same tests on both."""
import re

import eventlet
import pytest
from nameko.standalone.rpc import ServiceRpcProxy

from registry import models
from registry.service import RegistryService
from ufop_common.errors import Forbidden, InvalidArgs, UfopExists, UfopNotfound

OWNER, OTHER, THIRD = "1000000001", "1000000002", "1000000003"


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, data_dir, monkeypatch):
    if request.param == "sqlite":
        url = f"sqlite:///{data_dir / 'registry-it.db'}"
    else:
        url = request.getfixturevalue("clean_pg_database")
    monkeypatch.setenv("UFOP_REGISTRY_DB", url)
    return url


@pytest.fixture
def registry(store_url, container_factory, rabbit_config, rpc):
    container = container_factory(RegistryService, rabbit_config)
    container.start()
    yield rpc("registry")
    container.stop()
    models.database.close()


def rows(model, *where):
    """Rows of the registry's own store, read directly (the test owns the store here)."""
    with models.database.connection_context():
        query = model.select()
        if where:
            query = query.where(*where)
        return list(query)


def test_the_store_is_the_configured_one(registry, store_url):
    registry.create_ufop(OWNER, {"name": "hello", "aclMode": 0})
    backend = type(models.database.obj).__name__.lower()
    assert ("sqlite" in backend) == store_url.startswith("sqlite")
    assert [u.name for u in rows(models.Ufop)] == ["hello"]


def test_create_and_get(registry):
    made = registry.create_ufop(OWNER, {"name": "hello", "aclMode": "1", "desc": "d",
                                        "configuration": "a=1", "ignored": True})
    got = registry.get_ufop(OTHER, "hello")
    assert made == got
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC", got.pop("createTime"))
    assert got == {"name": "hello", "owner": OWNER, "version": "", "aclMode": "PROTECTED",
                   "description": "d", "instanceNum": 0, "maxInstanceNum": 5,
                   "flavor": "default", "accessList": [], "configuration": "a=1"}


def test_long_and_unicode_values_round_trip(registry):
    desc = "描述 é \U0001f600 " + "d" * 1000
    configuration = '{"k": "' + "v" * (64 * 1024 - 10) + '"}'
    registry.create_ufop(OWNER, {"name": "a" * 20, "aclMode": 0, "desc": desc[:1024],
                                 "configuration": configuration})
    got = registry.get_ufop(OWNER, "a" * 20)
    assert got["description"] == desc[:1024] and got["configuration"] == configuration
    uid = "9" * 20
    assert registry.update_ufop(OWNER, "a" * 20, {"accessList": [uid]})["accessList"] == [uid]


def test_errors_cross_rpc_as_themselves(registry):
    with pytest.raises(UfopNotfound):
        registry.get_ufop(OWNER, "nothere")
    with pytest.raises(InvalidArgs, match="^name: "):
        registry.create_ufop(OWNER, {"name": "x", "aclMode": 0})
    with pytest.raises(InvalidArgs, match="^aclMode: "):
        registry.create_ufop(OWNER, {"name": "hello", "aclMode": True})
    with pytest.raises(InvalidArgs, match="^desc: "):
        registry.create_ufop(OWNER, {"name": "hello", "aclMode": 0, "desc": "d" * 1025})
    assert rows(models.Ufop) == []


def test_list_and_pagination(registry):
    names = sorted(f"page{i:02d}x" for i in range(7))
    for i, name in enumerate(reversed(names)):
        registry.create_ufop(OWNER, {"name": name, "aclMode": i % 2, "desc": name})
    registry.create_ufop(OWNER, {"name": "hidden", "aclMode": 2})
    seen, marker = [], None
    while True:
        page = registry.list_ufops(OTHER, 3, marker)
        assert len(page["items"]) <= 3
        seen += page["items"]
        marker = page["marker"]
        if not marker:
            break
        assert marker == page["items"][-1]["name"] and len(page["items"]) == 3
    assert [i["name"] for i in seen] == names
    assert {i["aclMode"] for i in seen} == {"PUBLIC", "PROTECTED"}
    assert all(i["desc"] == i["name"] for i in seen)
    assert registry.list_ufops(OTHER, 7)["marker"] is None
    assert registry.list_ufops(OTHER, 6)["marker"] == names[5]
    assert registry.list_ufops(OTHER, 1000, names[-1]) == {"items": [], "marker": None}
    owner_view = [i["name"] for i in registry.list_ufops(OWNER, 100)["items"]]
    assert owner_view == sorted(names + ["hidden"])
    assert len(registry.list_ufops(THIRD, 100, admin=True)["items"]) == 8


def test_update_and_access_list(registry, recorder, wait_for):
    events = recorder([("registry", "ufop_updated")])
    registry.create_ufop(OWNER, {"name": "hello", "aclMode": 2})
    with pytest.raises(UfopNotfound):
        registry.get_ufop(OTHER, "hello")
    detail = registry.update_ufop(OWNER, "hello", {"accessList": [THIRD, OTHER, THIRD],
                                                   "desc": "new", "maxInstanceNum": 2})
    assert detail["accessList"] == [THIRD, OTHER]
    assert (detail["description"], detail["maxInstanceNum"]) == ("new", 2)
    assert registry.get_ufop(OTHER, "hello")["name"] == "hello"
    with pytest.raises(Forbidden):
        registry.update_ufop(OTHER, "hello", {"desc": "mine now"})
    assert registry.update_ufop(OWNER, "hello", {"accessList": [OTHER]})["accessList"] == [OTHER]
    assert registry.update_ufop(OWNER, "hello", {"accessList": []})["accessList"] == []
    with pytest.raises(UfopNotfound):
        registry.get_ufop(OTHER, "hello")
    assert rows(models.Access) == []
    wait_for(lambda: len(events) == 3)
    assert [sorted(p["fields"]) for _, p in events] == [
        ["accessList", "desc", "maxInstanceNum"], ["accessList"], ["accessList"]]


def test_apply_unapply(registry):
    registry.create_ufop(OWNER, {"name": "hello", "aclMode": "PROTECTED"})
    registry.apply(OTHER, "hello")
    registry.apply(OTHER, "hello")
    registry.apply(THIRD, "hello")
    assert registry.get_ufop(OWNER, "hello")["accessList"] == [OTHER, THIRD]
    registry.unapply(OTHER, "hello")
    registry.unapply(OTHER, "hello")
    assert registry.get_ufop(OWNER, "hello")["accessList"] == [THIRD]


def test_delete_cascades(registry):
    registry.create_ufop(OWNER, {"name": "hello", "aclMode": 1})
    registry.create_ufop(OWNER, {"name": "keeper", "aclMode": 1})
    registry.apply(OTHER, "hello")
    registry.apply(OTHER, "keeper")
    (ufop,) = rows(models.Ufop, models.Ufop.name == "hello")
    with models.database.connection_context():
        for version, digest in (("v1", "0" * 64), ("v2", "1" * 64)):
            models.Version.create(ufop=ufop.id, version=version, state="build failed",
                                  blob=digest)
    registry.delete_ufop(OWNER, "hello")
    with pytest.raises(UfopNotfound):
        registry.get_ufop(OWNER, "hello")
    assert rows(models.Access, models.Access.ufop == ufop.id) == []
    assert rows(models.Version, models.Version.ufop == ufop.id) == []
    assert registry.get_ufop(OWNER, "keeper")["accessList"] == [OTHER]
    again = registry.create_ufop(OTHER, {"name": "hello", "aclMode": 0})  # free at once
    assert (again["owner"], again["accessList"]) == (OTHER, [])
    assert registry.list_versions(OTHER, "hello") == []
    with pytest.raises(UfopNotfound):
        registry.delete_ufop(OWNER, "nothere")


def test_unique_name(registry):
    registry.create_ufop(OWNER, {"name": "hello", "aclMode": 0})
    with pytest.raises(UfopExists):
        registry.create_ufop(OTHER, {"name": "hello", "aclMode": 1})
    assert registry.get_ufop(OTHER, "hello")["owner"] == OWNER


def test_concurrent_creates_of_one_name(registry, rabbit_config):
    """The store's unique index decides (its IntegrityError is UfopExists), not a lookup."""
    def attempt(i):
        with ServiceRpcProxy("registry", rabbit_config, timeout=30) as proxy:
            try:
                proxy.create_ufop(str(2000000000 + i), {"name": "racer", "aclMode": 0})
                return "ok"
            except UfopExists:
                return "exists"

    results = list(eventlet.GreenPool(10).imap(attempt, range(10)))
    assert sorted(results) == ["exists"] * 9 + ["ok"]
    assert len(rows(models.Ufop, models.Ufop.name == "racer")) == 1


def test_events_of_a_ufop_s_life(registry, recorder, wait_for):
    events = recorder([("registry", "ufop_registered"), ("registry", "ufop_updated"),
                       ("registry", "ufop_deleted")])
    registry.create_ufop(OWNER, {"name": "hello", "aclMode": 0})
    registry.update_ufop(OWNER, "hello", {"desc": "x"})
    registry.delete_ufop(OWNER, "hello")
    wait_for(lambda: len(events) == 3)
    assert [t for t, _ in sorted(events, key=lambda e: e[1]["time"])] == [
        "ufop_registered", "ufop_updated", "ufop_deleted"]
    ids = {p["id"] for _, p in events}
    assert len(ids) == 1 and isinstance(ids.pop(), int)
    for _, payload in events:
        assert payload["name"] == "hello" and payload["by"] == OWNER
        assert re.fullmatch(r"[0-9a-f]{32}", payload["eventId"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", payload["time"])
    assert len({p["eventId"] for _, p in events}) == 3


def test_failed_calls_publish_nothing(registry, recorder):
    events = recorder([("registry", "ufop_registered"), ("registry", "ufop_deleted")])
    registry.create_ufop(OWNER, {"name": "hello", "aclMode": 0})
    for call in (lambda: registry.create_ufop(OWNER, {"name": "hello", "aclMode": 0}),
                 lambda: registry.delete_ufop(OTHER, "hello")):
        with pytest.raises((UfopExists, Forbidden)):
            call()
    registry.ping()  # a later round trip: anything published earlier has been routed by now
    eventlet.sleep(0.5)
    assert [t for t, _ in events] == ["ufop_registered"]
