"""ACL modes 0/1/2 (SPEC §3) through HTTP: who sees, who manages, apply/unapply, access lists.
A ufop the caller may not see is 404, never 403."""
import pytest

from support import assert_error, assert_ok, walk


@pytest.fixture
def people(platform):
    class People:
        owner = platform.new_account()
        stranger = platform.new_account()
        friend = platform.new_account()
        admin = platform.admin
    return People


def visible(client, name):
    return name in walk(client, 1000)


def test_public_is_seen_by_all_and_managed_by_the_owner(platform, people):
    name = platform.register(people.owner, acl=0)
    assert assert_ok(people.stranger.get(f"/api/ufops/{name}"))["aclMode"] == "PUBLIC"
    assert visible(people.stranger, name)
    assert_error(people.stranger.put(f"/api/ufops/{name}", json={"desc": "x"}), 403,
                 "Forbidden")
    assert_error(people.stranger.delete(f"/api/ufops/{name}"), 403, "Forbidden")
    assert_error(people.stranger.get(f"/api/ufops/{name}/events"), 403, "Forbidden")
    assert_ok(people.owner.get(f"/api/ufops/{name}"))


def test_protected_is_seen_by_all_and_anyone_may_apply(platform, people):
    name = platform.register(people.owner, acl=1)
    assert assert_ok(people.stranger.get(f"/api/ufops/{name}"))["aclMode"] == "PROTECTED"
    assert visible(people.stranger, name)
    assert_ok(people.friend.post(f"/api/ufops/{name}/apply"))
    assert_ok(people.friend.post(f"/api/ufops/{name}/apply"))  # again: still once
    detail = assert_ok(people.owner.get(f"/api/ufops/{name}"))
    assert detail["accessList"] == [people.friend.uid]
    assert_error(people.friend.put(f"/api/ufops/{name}", json={"desc": "x"}), 403, "Forbidden")
    assert_error(people.friend.delete(f"/api/ufops/{name}"), 403, "Forbidden")
    assert_ok(people.friend.post(f"/api/ufops/{name}/unapply"))
    assert_ok(people.friend.post(f"/api/ufops/{name}/unapply"))
    assert assert_ok(people.owner.get(f"/api/ufops/{name}"))["accessList"] == []


def test_private_is_hidden_with_404(platform, people):
    name = platform.register(people.owner, acl=2)
    assert not visible(people.stranger, name)
    for method, path in (("GET", ""), ("DELETE", ""), ("GET", "/events"), ("POST", "/apply"),
                         ("POST", "/unapply")):
        answer = people.stranger.request(method, f"/api/ufops/{name}{path}")
        body = assert_error(answer, 404, "UfopNotfound")
        assert "403" not in body["message"] and "permission" not in body["message"].lower()
    assert_error(people.stranger.put(f"/api/ufops/{name}", json={"desc": "x"}), 404,
                 "UfopNotfound")
    assert_error(people.stranger.post("/api/ufops", json={"name": name, "aclMode": 0}), 409,
                 "UfopExists")  # names are unique across the platform
    assert assert_ok(people.owner.get(f"/api/ufops/{name}"))["aclMode"] == "PRIVATE"
    assert visible(people.owner, name)


def test_hidden_and_missing_look_the_same(platform, people):
    hidden = platform.register(people.owner, acl=2)
    missing = "m" + hidden[1:]
    a = assert_error(people.stranger.get(f"/api/ufops/{hidden}"), 404, "UfopNotfound")
    b = assert_error(people.stranger.get(f"/api/ufops/{missing}"), 404, "UfopNotfound")
    assert a["message"].replace(hidden, "X") == b["message"].replace(missing, "X")


def test_private_access_list_is_kept_by_the_owner(platform, people):
    name = platform.register(people.owner, acl=2)
    detail = assert_ok(people.owner.put(f"/api/ufops/{name}",
                                        json={"accessList": [people.friend.uid]}))
    assert detail["accessList"] == [people.friend.uid]
    assert assert_ok(people.friend.get(f"/api/ufops/{name}"))["name"] == name
    assert visible(people.friend, name)
    assert not visible(people.stranger, name)
    assert_error(people.friend.put(f"/api/ufops/{name}", json={"desc": "x"}), 403, "Forbidden")
    assert_error(people.friend.get(f"/api/ufops/{name}/events"), 403, "Forbidden")
    # a stranger cannot put itself on a private ufop's list
    assert_error(people.stranger.post(f"/api/ufops/{name}/apply"), 404, "UfopNotfound")
    assert assert_ok(people.owner.get(f"/api/ufops/{name}"))["accessList"] == [people.friend.uid]
    # the friend may take itself off, and then no longer sees it
    assert_ok(people.friend.post(f"/api/ufops/{name}/unapply"))
    assert_error(people.friend.get(f"/api/ufops/{name}"), 404, "UfopNotfound")
    assert not visible(people.friend, name)


def test_changing_the_mode_changes_visibility(platform, people):
    name = platform.register(people.owner, acl=0)
    assert visible(people.stranger, name)
    assert_ok(people.owner.put(f"/api/ufops/{name}", json={"aclMode": 2}))
    assert_error(people.stranger.get(f"/api/ufops/{name}"), 404, "UfopNotfound")
    assert not visible(people.stranger, name)
    assert_ok(people.owner.put(f"/api/ufops/{name}", json={"aclMode": "PROTECTED"}))
    assert assert_ok(people.stranger.get(f"/api/ufops/{name}"))["aclMode"] == "PROTECTED"


def test_the_owner_s_list_and_apply(platform, people):
    name = platform.register(people.owner, acl=1)
    assert_ok(people.owner.post(f"/api/ufops/{name}/apply"))
    assert assert_ok(people.owner.get(f"/api/ufops/{name}"))["accessList"] == []


def test_an_admin_sees_and_manages_everything(platform, people):
    name = platform.register(people.owner, acl=2)
    assert visible(people.admin, name)
    assert assert_ok(people.admin.get(f"/api/ufops/{name}"))["owner"] == people.owner.uid
    detail = assert_ok(people.admin.put(f"/api/ufops/{name}", json={"desc": "by admin"}))
    assert detail["description"] == "by admin" and detail["owner"] == people.owner.uid
    assert_ok(people.admin.get(f"/api/ufops/{name}/events"))
    assert_ok(people.admin.delete(f"/api/ufops/{name}"))
    assert_error(people.owner.get(f"/api/ufops/{name}"), 404, "UfopNotfound")


def test_only_the_owner_deletes(platform, people):
    name = platform.register(people.owner, acl=1)
    assert_ok(people.friend.post(f"/api/ufops/{name}/apply"))
    assert_error(people.friend.delete(f"/api/ufops/{name}"), 403, "Forbidden")
    assert_ok(people.owner.delete(f"/api/ufops/{name}"))
    assert_error(people.friend.get(f"/api/ufops/{name}"), 404, "UfopNotfound")
