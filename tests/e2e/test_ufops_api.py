"""The registry endpoints (SPEC §4: 1-4, PUT) through HTTP: fields, name rules, errors, paging."""
import re
import uuid

import pytest
import requests

from support import assert_error, assert_ok, new_name, page, walk
from ufop_common import auth as signing

DETAIL_KEYS = {"name", "owner", "version", "aclMode", "description", "createTime",
               "instanceNum", "maxInstanceNum", "flavor", "accessList", "configuration"}


@pytest.fixture(scope="module")
def owner(platform):
    return platform.new_account()


def test_register_answers_the_detail(platform, owner):
    name = new_name()
    data = assert_ok(owner.post("/api/ufops", json={"name": name, "aclMode": 1,
                                                    "desc": "says hello",
                                                    "configuration": '{"k": 1}'}))
    assert set(data) == DETAIL_KEYS
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC", data["createTime"])
    assert {k: v for k, v in data.items() if k != "createTime"} == {
        "name": name, "owner": owner.uid, "version": "", "aclMode": "PROTECTED",
        "description": "says hello", "instanceNum": 0, "maxInstanceNum": 5,
        "flavor": "default", "accessList": [], "configuration": '{"k": 1}'}
    assert assert_ok(owner.get(f"/api/ufops/{name}")) == data


@pytest.mark.parametrize("given,shown", [
    (0, "PUBLIC"), (1, "PROTECTED"), (2, "PRIVATE"), ("0", "PUBLIC"), ("2", "PRIVATE"),
    ("public", "PUBLIC"), ("Protected", "PROTECTED"), ("PRIVATE", "PRIVATE"),
])
def test_acl_mode_inputs(owner, given, shown):
    data = assert_ok(owner.post("/api/ufops", json={"name": new_name(), "aclMode": given}))
    assert data["aclMode"] == shown


@pytest.mark.parametrize("shape", [
    lambda r: "a" + r[:4],  # 5 characters, the shortest
    lambda r: "z" + r[:19],  # 20, the longest
    lambda r: "a-" + r[:3] + "_c",  # dash and underscore
    lambda r: "q" + "".join(str(ord(c) % 10) for c in r[:8]),  # digits after the letter
])
def test_good_names(owner, shape):
    name = shape(uuid.uuid4().hex + uuid.uuid4().hex)
    assert re.fullmatch(r"[a-z][a-z0-9_-]{4,19}", name)
    assert assert_ok(owner.post("/api/ufops", json={"name": name, "aclMode": 2}))["name"] == name
    assert assert_ok(owner.get(f"/api/ufops/{name}"))["name"] == name


@pytest.mark.parametrize("name", ["abcd", "a" * 21, "Abcde", "1abcde", "-abcde", "_abcde",
                                  "abc.de", "abc de", "abcdé", "ab/cd", ""])
def test_bad_names_are_400_naming_the_field(owner, name):
    assert_error(owner.post("/api/ufops", json={"name": name, "aclMode": 0}), 400,
                 "InvalidArgs", "name")


@pytest.mark.parametrize("body,field", [
    ({"aclMode": 0}, "name"),
    ({"name": "hello"}, "aclMode"),
    ({"name": 12345, "aclMode": 0}, "name"),
    ({"name": ["hello"], "aclMode": 0}, "name"),
    ({"name": None, "aclMode": 0}, "name"),
    ({"name": "NAME", "aclMode": True}, "name"),
    ({"name": "hellothere", "aclMode": True}, "aclMode"),
    ({"name": "hellothere", "aclMode": 3}, "aclMode"),
    ({"name": "hellothere", "aclMode": "SECRET"}, "aclMode"),
    ({"name": "hellothere", "aclMode": 1.5}, "aclMode"),
    ({"name": "hellothere", "aclMode": None}, "aclMode"),
    ({"name": "hellothere", "aclMode": 0, "desc": 5}, "desc"),
    ({"name": "hellothere", "aclMode": 0, "desc": "d" * 1025}, "desc"),
    ({"name": "hellothere", "aclMode": 0, "configuration": {"k": 1}}, "configuration"),
    ({"name": "hellothere", "aclMode": 0, "configuration": "c" * (64 * 1024 + 1)},
     "configuration"),
])
def test_bad_fields_are_400_naming_the_field(owner, body, field):
    assert_error(owner.post("/api/ufops", json=body), 400, "InvalidArgs", field)
    if isinstance(body.get("name"), str) and len(body["name"]) >= 5:
        assert_error(owner.get(f"/api/ufops/{body['name']}"), 404, "UfopNotfound")


@pytest.mark.parametrize("raw", [b"[" * 100000, b'{"a": ' * 2000 + b"1" + b"}" * 2000,
                                 b'{"name": "deepnest", "aclMode": 0, "x": ' + b"[" * 960
                                 + b"]" * 960 + b"}",
                                 b"{", b"not json", b'{"name": "x",}',
                                 b"[1, 2]", b'"a string"', b"null", b"", b"   "])
def test_malformed_bodies_are_400(owner, raw):
    answer = owner.post("/api/ufops", data=raw, headers={"Content-Type": "application/json"})
    assert_error(answer, 400, "InvalidArgs", "body")


def test_a_body_that_is_not_utf8_is_400(platform, owner):
    """The SDK cannot sign such a body (it decodes it), so our own signer does."""
    raw = b'{"name": "\xff\xfe", "aclMode": 0}'
    host = platform.url.removeprefix("http://")
    headers = {"Content-Type": "application/json", "Authorization": signing.sign_qiniu(
        owner.access_key, owner.secret_key, "POST", "/api/ufops", host, "application/json",
        raw)}
    answer = requests.post(platform.url + "/api/ufops", data=raw, headers=headers, timeout=10)
    assert_error(answer, 400, "InvalidArgs", "body")


def test_unknown_fields_are_ignored(owner):
    name = new_name()
    data = assert_ok(owner.post("/api/ufops", json={"name": name, "aclMode": 0, "colour": "red",
                                                    "owner": "1", "instanceNum": 7}))
    assert (data["owner"], data["instanceNum"]) == (owner.uid, 0)
    assert "colour" not in data
    data = assert_ok(owner.put(f"/api/ufops/{name}", json={"desc": "x", "colour": "blue"}))
    assert data["description"] == "x"


def test_max_lengths_are_accepted(owner):
    name = new_name()
    data = assert_ok(owner.post("/api/ufops", json={
        "name": name, "aclMode": 0, "desc": "é" * 1024, "configuration": "c" * 64 * 1024}))
    assert data["description"] == "é" * 1024 and len(data["configuration"]) == 64 * 1024


def test_duplicate_name_is_409(platform, owner):
    name = platform.register(owner)
    other = platform.new_account()
    for who in (owner, other, platform.admin):
        assert_error(who.post("/api/ufops", json={"name": name, "aclMode": 2}), 409,
                     "UfopExists", name)
    assert assert_ok(owner.get(f"/api/ufops/{name}"))["aclMode"] == "PUBLIC"


def test_unknown_ufop_is_404(owner):
    name = new_name()
    for method in ("GET", "DELETE"):
        assert_error(owner.request(method, f"/api/ufops/{name}"), 404, "UfopNotfound", name)
    assert_error(owner.put(f"/api/ufops/{name}", json={"desc": "x"}), 404, "UfopNotfound")
    assert_error(owner.post(f"/api/ufops/{name}/apply"), 404, "UfopNotfound")
    assert_error(owner.get(f"/api/ufops/{name}/events"), 404, "UfopNotfound")


def test_a_path_that_is_not_a_name(owner):
    answer = owner.get("/api/ufops/NOT_A_NAME")
    assert answer.status_code in (400, 404)
    assert_error(answer, answer.status_code)


def test_delete_frees_the_name_at_once(platform, owner):
    name = platform.register(owner, acl=1, desc="first")
    assert_ok(owner.delete(f"/api/ufops/{name}"))
    assert_error(owner.get(f"/api/ufops/{name}"), 404, "UfopNotfound")
    assert_error(owner.delete(f"/api/ufops/{name}"), 404, "UfopNotfound")
    other = platform.new_account()
    again = assert_ok(other.post("/api/ufops", json={"name": name, "aclMode": 0}))
    assert (again["owner"], again["description"], again["aclMode"]) == (other.uid, "", "PUBLIC")
    assert name in walk(other, 1000)


def test_update_every_field(platform, owner):
    name = platform.register(owner)
    friend = platform.new_account()
    data = assert_ok(owner.put(f"/api/ufops/{name}", json={
        "aclMode": "private", "desc": "new desc", "configuration": "a=b",
        "accessList": [friend.uid], "flavor": "default", "maxInstanceNum": 3}))
    assert (data["aclMode"], data["description"], data["configuration"], data["accessList"],
            data["flavor"], data["maxInstanceNum"]) == ("PRIVATE", "new desc", "a=b",
                                                        [friend.uid], "default", 3)
    assert assert_ok(owner.get(f"/api/ufops/{name}")) == data
    partial = assert_ok(owner.put(f"/api/ufops/{name}", json={"desc": "only this"}))
    assert partial == dict(data, description="only this")
    assert assert_ok(owner.put(f"/api/ufops/{name}", json={})) == partial


@pytest.mark.parametrize("body,field", [
    ({"aclMode": 7}, "aclMode"), ({"desc": ["x"]}, "desc"), ({"desc": "d" * 1025}, "desc"),
    ({"configuration": 1}, "configuration"), ({"accessList": "123"}, "accessList"),
    ({"accessList": [123]}, "accessList"), ({"accessList": ["not-a-uid"]}, "accessList"),
    ({"flavor": "enormous"}, "flavor"), ({"flavor": 1}, "flavor"),
    ({"maxInstanceNum": "5"}, "maxInstanceNum"), ({"maxInstanceNum": 0}, "maxInstanceNum"),
    ({"maxInstanceNum": 2.5}, "maxInstanceNum"),
])
def test_bad_updates_are_400_naming_the_field(platform, owner, body, field):
    name = platform.register(owner, desc="unchanged")
    assert_error(owner.put(f"/api/ufops/{name}", json=body), 400, "InvalidArgs", field)
    assert assert_ok(owner.get(f"/api/ufops/{name}"))["description"] == "unchanged"


def test_update_needs_a_json_object(platform, owner):
    name = platform.register(owner)
    for raw in (b"", b"[]", b"{bad"):
        answer = owner.put(f"/api/ufops/{name}", data=raw,
                           headers={"Content-Type": "application/json"})
        assert_error(answer, 400, "InvalidArgs", "body")


def test_instance_cap_above_the_platform_s_needs_an_admin(platform, owner):
    name = platform.register(owner)
    assert assert_ok(owner.put(f"/api/ufops/{name}",
                               json={"maxInstanceNum": 10}))["maxInstanceNum"] == 10
    assert_error(owner.put(f"/api/ufops/{name}", json={"maxInstanceNum": 11}), 403, "Forbidden",
                 "maxInstanceNum")
    assert assert_ok(platform.admin.put(f"/api/ufops/{name}",
                                        json={"maxInstanceNum": 40}))["maxInstanceNum"] == 40


# -- listing ------------------------------------------------------------------------------

def test_listing_is_sorted_and_pages_meet(platform, owner):
    for i in range(4):
        platform.register(owner, acl=i % 3)
    everything = walk(platform.admin, 1000)
    assert everything == sorted(everything) and len(set(everything)) == len(everything)
    assert len(everything) >= 4
    for limit in (1, 2, 3, len(everything) - 1, len(everything)):
        assert walk(platform.admin, limit) == everything
    items, marker = page(platform.admin, len(everything))
    assert marker is None and len(items) == len(everything)
    items, marker = page(platform.admin, len(everything) - 1)
    assert marker == everything[-2]
    rest, marker = page(platform.admin, 1000, everything[-2])
    assert [i["name"] for i in rest] == everything[-1:] and marker is None


def test_default_limit_is_100(platform):
    lister = platform.new_account()
    while len(walk(platform.admin, 1000)) <= 100:
        platform.register(lister, acl=0)
    items, marker = page(platform.admin)
    assert len(items) == 100 and marker == items[-1]["name"]
    assert len(page(platform.admin, 1000)[0]) > 100


def test_listing_shows_what_the_caller_may_see(platform):
    mine, theirs = platform.new_account(), platform.new_account()
    hidden = platform.register(theirs, acl=2)
    shown = [platform.register(theirs, acl=0), platform.register(theirs, acl=1)]
    own_private = platform.register(mine, acl=2)
    seen = walk(mine, 7)
    assert hidden not in seen and own_private in seen and set(shown) <= set(seen)
    assert hidden in walk(platform.admin, 7)
    items = {i["name"]: i for i in page(mine, 1000)[0]}
    assert items[shown[1]] == {"name": shown[1], "aclMode": "PROTECTED", "desc": ""}


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=abc", "limit=-1",
                                   "limit=1.5", f"marker={'m' * 65}"])
def test_bad_paging_is_400_naming_the_field(platform, query):
    field = query.split("=")[0]
    assert_error(platform.admin.get(f"/api/ufops?{query}"), 400, "InvalidArgs", field)


def test_limit_1000_is_allowed(platform):
    items, _ = page(platform.admin, 1000)
    assert len(items) <= 1000
