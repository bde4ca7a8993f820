"""The audit trail (issue 2 item 7): the logs service records every domain event of a ufop;
GET /api/ufops/:id/events shows it to the owner. Events are asynchronous: the tests poll."""
import re

from support import assert_error, assert_ok, wait_for


def trail(client, name, limit=None):
    path = f"/api/ufops/{name}/events" + (f"?limit={limit}" if limit else "")
    return assert_ok(client.get(path))


def types(events):
    return [e["type"] for e in events]


def test_registration_and_updates_are_recorded_newest_first(platform):
    owner = platform.new_account()
    name = platform.register(owner, acl=1)
    assert_ok(owner.put(f"/api/ufops/{name}", json={"desc": "one"}))
    assert_ok(owner.put(f"/api/ufops/{name}", json={"aclMode": 2, "configuration": "c"}))
    events = wait_for(lambda: (lambda e: len(e) >= 3 and e)(trail(owner, name)))
    assert types(events) == ["ufop_updated", "ufop_updated", "ufop_registered"]
    for event in events:
        assert set(event) == {"time", "type", "detail"}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", event["time"])
        assert event["detail"]["name"] == name and event["detail"]["by"] == owner.uid
    assert sorted(events[0]["detail"]["fields"]) == ["aclMode", "configuration"]
    assert events[1]["detail"]["fields"] == ["desc"]
    assert [e["time"] for e in events] == sorted((e["time"] for e in events), reverse=True)


def test_limit(platform):
    owner = platform.new_account()
    name = platform.register(owner)
    for i in range(4):
        assert_ok(owner.put(f"/api/ufops/{name}", json={"desc": f"d{i}"}))
    wait_for(lambda: len(trail(owner, name)) == 5)
    newest = trail(owner, name, limit=2)
    assert types(newest) == ["ufop_updated", "ufop_updated"]
    for bad in ("0", "1001", "x"):
        assert_error(owner.get(f"/api/ufops/{name}/events?limit={bad}"), 400, "InvalidArgs",
                     "limit")


def test_only_the_owner_or_an_admin_reads_it(platform):
    owner, other = platform.new_account(), platform.new_account()
    shown = platform.register(owner, acl=1)
    hidden = platform.register(owner, acl=2)
    assert_ok(other.post(f"/api/ufops/{shown}/apply"))
    assert_error(other.get(f"/api/ufops/{shown}/events"), 403, "Forbidden")
    assert_error(other.get(f"/api/ufops/{hidden}/events"), 404, "UfopNotfound")
    assert_error(platform.anonymous.get(f"/api/ufops/{shown}/events"), 401, "Unauthorized")
    assert wait_for(lambda: trail(platform.admin, hidden))


def test_a_new_ufop_of_a_deleted_name_starts_a_new_trail(platform):
    owner = platform.new_account()
    name = platform.register(owner)
    assert_ok(owner.put(f"/api/ufops/{name}", json={"desc": "old life"}))
    wait_for(lambda: len(trail(owner, name)) == 2)
    assert_ok(owner.delete(f"/api/ufops/{name}"))
    assert_error(owner.get(f"/api/ufops/{name}/events"), 404, "UfopNotfound")
    platform.register(owner, name=name)
    assert types(wait_for(lambda: trail(owner, name))) == ["ufop_registered"]


def test_failed_requests_leave_no_trace(platform):
    owner, other = platform.new_account(), platform.new_account()
    name = platform.register(owner, acl=1)
    assert_error(owner.post("/api/ufops", json={"name": name, "aclMode": 0}), 409, "UfopExists")
    assert_error(other.put(f"/api/ufops/{name}", json={"desc": "x"}), 403, "Forbidden")
    assert_error(owner.put(f"/api/ufops/{name}", json={"desc": 1}), 400, "InvalidArgs")
    assert_ok(owner.put(f"/api/ufops/{name}", json={"desc": "marker"}))
    events = wait_for(lambda: (lambda e: len(e) >= 2 and e)(trail(owner, name)))
    assert types(events) == ["ufop_updated", "ufop_registered"]
    assert events[0]["detail"]["fields"] == ["desc"]
