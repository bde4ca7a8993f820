"""The registry service through nameko's ``worker_factory``, on a temporary SQLite store."""
import re

import pytest
from nameko.testing.services import worker_factory

from registry import models
from registry.service import RegistryService
from ufop_common.errors import Forbidden, InvalidArgs, UfopExists, UfopNotfound
from ufop_common.store import bind

OWNER, OTHER, THIRD = "1000000001", "1000000002", "1000000003"


@pytest.fixture
def registry(tmp_path, monkeypatch):
    monkeypatch.setenv("UFOP_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("UFOP_MAX_INSTANCE_CAP", raising=False)
    database = bind(models.database, f"sqlite:///{tmp_path / 'registry.db'}", models.MODELS)
    database.connect(reuse_if_open=True)
    yield worker_factory(RegistryService)
    database.close()


def events_of(service, event_type):
    return [call.args[1] for call in service.events.call_args_list if call.args[0] == event_type]


def test_create_returns_the_detail_and_publishes(registry):
    detail = registry.create_ufop(OWNER, {"name": "hello", "aclMode": "protected",
                                          "desc": "d", "configuration": "c", "extra": 1})
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC", detail.pop("createTime"))
    assert detail == {"name": "hello", "owner": OWNER, "version": "", "aclMode": "PROTECTED",
                      "description": "d", "instanceNum": 0, "maxInstanceNum": 5,
                      "flavor": "default", "accessList": [], "configuration": "c"}
    (payload,) = events_of(registry, "ufop_registered")
    assert payload["name"] == "hello" and payload["by"] == OWNER
    assert isinstance(payload["id"], int)


def test_duplicate_name_is_ufop_exists(registry):
    registry.create_ufop(OWNER, {"name": "hello", "aclMode": 0})
    with pytest.raises(UfopExists):
        registry.create_ufop(OTHER, {"name": "hello", "aclMode": 2})
    assert len(events_of(registry, "ufop_registered")) == 1


def test_bad_input_names_the_field(registry):
    with pytest.raises(InvalidArgs, match="^name"):
        registry.create_ufop(OWNER, {"name": "Bad", "aclMode": 0})
    with pytest.raises(InvalidArgs, match="aclMode"):
        registry.create_ufop(OWNER, {"name": "hello"})
    registry.create_ufop(OWNER, {"name": "hello", "aclMode": 0})
    with pytest.raises(InvalidArgs, match="^maxInstanceNum"):
        registry.update_ufop(OWNER, "hello", {"maxInstanceNum": "3"})
    with pytest.raises(InvalidArgs, match="^flavor"):
        registry.update_ufop(OWNER, "hello", {"flavor": "huge"})


def test_private_is_hidden_protected_visible_but_not_manageable(registry):
    registry.create_ufop(OWNER, {"name": "secret", "aclMode": 2})
    registry.create_ufop(OWNER, {"name": "shared", "aclMode": 1})
    with pytest.raises(UfopNotfound):
        registry.get_ufop(OTHER, "secret")
    with pytest.raises(UfopNotfound):
        registry.update_ufop(OTHER, "secret", {"desc": "x"})
    with pytest.raises(UfopNotfound):
        registry.delete_ufop(OTHER, "secret")
    assert registry.get_ufop(OTHER, "shared")["name"] == "shared"
    with pytest.raises(Forbidden):
        registry.update_ufop(OTHER, "shared", {"desc": "x"})
    with pytest.raises(Forbidden):
        registry.delete_ufop(OTHER, "shared")
    assert registry.get_ufop(THIRD, "secret", admin=True)["name"] == "secret"


def test_access_list_shows_a_private_ufop(registry):
    registry.create_ufop(OWNER, {"name": "secret", "aclMode": 2})
    registry.update_ufop(OWNER, "secret", {"accessList": [OTHER, OTHER]})
    assert registry.get_ufop(OTHER, "secret")["accessList"] == [OTHER]
    assert [i["name"] for i in registry.list_ufops(OTHER)["items"]] == ["secret"]
    assert registry.list_ufops(THIRD)["items"] == []
    assert registry.authorize(OTHER, "secret", "call")["name"] == "secret"
    with pytest.raises(Forbidden):
        registry.authorize(OTHER, "secret", "manage")


def test_apply_and_unapply(registry):
    registry.create_ufop(OWNER, {"name": "shared", "aclMode": 1})
    with pytest.raises(Forbidden):
        registry.authorize(OTHER, "shared", "call")
    registry.apply(OTHER, "shared")
    registry.apply(OTHER, "shared")  # twice is once
    assert registry.get_ufop(OWNER, "shared")["accessList"] == [OTHER]
    assert registry.authorize(OTHER, "shared", "call")["name"] == "shared"
    registry.unapply(OTHER, "shared")
    assert registry.get_ufop(OWNER, "shared")["accessList"] == []
    registry.create_ufop(OWNER, {"name": "secret", "aclMode": 2})
    with pytest.raises(UfopNotfound):
        registry.apply(OTHER, "secret")


def test_update_changes_fields_and_reports_them(registry):
    registry.create_ufop(OWNER, {"name": "hello", "aclMode": 0})
    detail = registry.update_ufop(OWNER, "hello", {"desc": "new", "aclMode": "PRIVATE",
                                                   "configuration": "k=v",
                                                   "maxInstanceNum": 3, "unknown": 1})
    assert (detail["description"], detail["aclMode"], detail["configuration"],
            detail["maxInstanceNum"]) == ("new", "PRIVATE", "k=v", 3)
    (payload,) = events_of(registry, "ufop_updated")
    assert sorted(payload["fields"]) == ["aclMode", "configuration", "desc", "maxInstanceNum"]
    registry.update_ufop(OWNER, "hello", {"desc": "new"})  # no change, no event
    assert len(events_of(registry, "ufop_updated")) == 1


def test_instance_cap_needs_an_admin(registry):
    registry.create_ufop(OWNER, {"name": "hello", "aclMode": 0})
    assert registry.update_ufop(OWNER, "hello", {"maxInstanceNum": 10})["maxInstanceNum"] == 10
    with pytest.raises(Forbidden, match="maxInstanceNum"):
        registry.update_ufop(OWNER, "hello", {"maxInstanceNum": 11})
    assert registry.update_ufop("9", "hello", {"maxInstanceNum": 50},
                                admin=True)["maxInstanceNum"] == 50


def test_delete_frees_the_name_and_publishes(registry):
    registry.create_ufop(OWNER, {"name": "hello", "aclMode": 1})
    registry.apply(OTHER, "hello")
    registry.delete_ufop(OWNER, "hello")
    with pytest.raises(UfopNotfound):
        registry.get_ufop(OWNER, "hello")
    (payload,) = events_of(registry, "ufop_deleted")
    assert payload["name"] == "hello"
    assert registry.create_ufop(OTHER, {"name": "hello", "aclMode": 0})["accessList"] == []
    assert models.Access.select().count() == 0


def test_listing_pages_by_name(registry):
    names = [f"ufop{i:02d}" for i in range(7)]
    for name in reversed(names):
        registry.create_ufop(OWNER, {"name": name, "aclMode": 0})
    seen, marker, pages = [], None, 0
    while True:
        page = registry.list_ufops(OTHER, 3, marker)
        seen += [i["name"] for i in page["items"]]
        pages += 1
        marker = page["marker"]
        if marker is None:
            break
        assert len(page["items"]) == 3
    assert (seen, pages) == (names, 3)
    assert registry.list_ufops(OTHER, 7)["marker"] is None
    assert registry.list_ufops(OTHER, 6)["marker"] == "ufop05"
    with pytest.raises(InvalidArgs, match="^limit"):
        registry.list_ufops(OTHER, 1001)


def test_unknown_name_is_not_found(registry):
    with pytest.raises(UfopNotfound):
        registry.get_ufop(OWNER, "nothere")
    with pytest.raises(InvalidArgs, match="^name"):
        registry.get_ufop(OWNER, "NOT A NAME")
