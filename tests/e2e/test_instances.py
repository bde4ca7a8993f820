"""Instances through HTTP, on the real Docker engine and RabbitMQ (SPEC §4, §6, §7, §9; issue 4).

Every ufop made here is deleted at the end of its test (which removes its images and, through
the scheduler, its containers); any container of it still there afterwards is removed by force.
Platforms of our own (``make_platform``) serve the tests that break things: a scheduler killed
with ``kill -9``, tight health and restart bounds.
"""
import os
import signal
import threading
import time

import requests

from support import (ACTION_TIMEOUT, STATE_DEADLINE, Docker, act, add, all_running, assert_ok,
                     call, clone, listing, refused, states, wait_for)

RECOVERY_DEADLINE = 150
MiB = 1 << 20


# -- fixtures ------------------------------------------------------------------------------
# -- adding, the states, listing -------------------------------------------------------
def test_every_transition_of_one_instance(platform, ufops, docker_client):
    name = ufops.make(platform)
    engine = Docker(docker_client, platform)
    client = platform.admin
    added = assert_ok(add(client, name, 2))
    assert [(i["index"], i["version"]) for i in added] == [(1, "v1"), (2, "v1")]
    assert all_running(client, name, 2) or wait_for(lambda: all_running(client, name, 2),
                                                    STATE_DEADLINE, "2 Running")
    first = engine.one(name, 1)
    assert first.status == "running"

    assert assert_ok(act(client, name, 1, "stop")) == {"index": 1, "version": "v1",
                                                       "state": "Stopped"}
    assert engine.one(name, 1).status == "exited"
    assert states(client, name) == {1: "Stopped", 2: "Running"}
    time.sleep(3)  # a reconcile pass or more: a Stopped instance stays stopped
    assert states(client, name)[1] == "Stopped" and engine.one(name, 1).status == "exited"

    assert assert_ok(act(client, name, 1, "start")) == {"index": 1, "version": "v1",
                                                        "state": "Running"}
    assert engine.one(name, 1).status == "running"

    started = engine.one(name, 2).attrs["State"]["StartedAt"]
    assert assert_ok(act(client, name, 2, "reboot")) == {"index": 2, "version": "v1",
                                                         "state": "Running"}
    rebooted = engine.one(name, 2)
    assert rebooted.status == "running" and rebooted.attrs["State"]["StartedAt"] != started

    assert assert_ok(act(client, name, 1, "start")) == {"index": 1, "version": "v1",
                                                        "state": "Running"}

    assert client.delete(f"/api/ufops/{name}/instances/1", timeout=ACTION_TIMEOUT).json() == {
        "code": 200}
    assert listing(client, name) == [{"index": 2, "version": "v1", "state": "Running"}]
    assert sorted(engine.by_index(name)) == [2]


def test_unknown_index_is_instance_not_found(platform, ufops):
    name = ufops.make(platform)
    client = platform.admin
    assert_ok(add(client, name, 1))
    for action in ("start", "stop", "reboot", "switch"):
        refused(act(client, name, 7, action), 404, "InstanceNotFound")
    refused(client.delete(f"/api/ufops/{name}/instances/7"), 404, "InstanceNotFound")
    assert [i["index"] for i in listing(client, name)] == [1]


def test_instances_are_managed_by_their_owner_only(platform, ufops):
    owner, other = platform.new_account(), platform.new_account()
    name = ufops.make(platform, owner, acl="PROTECTED")
    assert_ok(add(owner, name, 1))
    refused(add(other, name, 1), 403, "Forbidden")
    refused(act(other, name, 1, "stop"), 403, "Forbidden")
    refused(other.get(f"/api/ufops/{name}/instances"), 403, "Forbidden")
    refused(platform.anonymous.get(f"/api/ufops/{name}/instances"), 401, "Unauthorized")
    assert states(owner, name) == {1: "Running"}


def test_new_instances_take_the_lowest_free_indexes(platform, ufops, docker_client):
    name = ufops.make(platform)
    engine = Docker(docker_client, platform)
    client = platform.admin
    assert_ok(add(client, name, 3))
    assert_ok(client.delete(f"/api/ufops/{name}/instances/2", timeout=ACTION_TIMEOUT))
    assert [i["index"] for i in listing(client, name)] == [1, 3]
    added = assert_ok(add(client, name, 1))
    assert [i["index"] for i in added] == [1, 2, 3]
    assert_ok(client.delete(f"/api/ufops/{name}/instances/1", timeout=ACTION_TIMEOUT))
    assert_ok(client.delete(f"/api/ufops/{name}/instances/3", timeout=ACTION_TIMEOUT))
    assert [i["index"] for i in assert_ok(add(client, name, 3))] == [1, 2, 3, 4]
    wait_for(lambda: all_running(client, name, 4), STATE_DEADLINE, "4 Running")
    found = engine.by_index(name)
    assert sorted(found) == [1, 2, 3, 4] and all(len(c) == 1 for c in found.values())


def test_only_the_current_version_is_added(platform, ufops):
    client = platform.admin
    name = ufops.make(platform, versions=("v1", "v2"), current="")
    refused(add(client, name, 1), 400, "InvalidArgs", "version")
    assert_ok(client.put(f"/api/ufops/{name}", json={"version": "v1"}))
    body = refused(add(client, name, 1, version="v2"), 400, "InvalidArgs", "switch")
    assert "v2" in body["message"]
    refused(add(client, name, 1, version="v9"), 400, "InvalidArgs")
    assert listing(client, name) == []
    assert assert_ok(add(client, name, 1, version="v1")) == [{"index": 1, "version": "v1",
                                                              "state": "Running"}]
    for size in (0, -1, "2", None, True, 1.5):
        refused(add(client, name, size), 400, "InvalidArgs", "size")
    refused(client.post(f"/api/ufops/{name}/instances", json={}), 400, "InvalidArgs", "size")


def test_quota_holds_under_twenty_concurrent_adds(platform, ufops, docker_client):
    owner = platform.new_account()
    name = ufops.make(platform, owner)
    assert assert_ok(owner.get(f"/api/ufops/{name}"))["maxInstanceNum"] == 5
    engine = Docker(docker_client, platform)
    answers = [None] * 20
    gate = threading.Barrier(20)

    def one(slot):
        client = clone(owner)
        gate.wait()
        answers[slot] = add(client, name, 1)

    threads = [threading.Thread(target=one, args=(slot,)) for slot in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(ACTION_TIMEOUT + 30)
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * 5 + [409] * 15, [a.text for a in answers]
    for answer in answers:
        if answer.status_code == 409:
            refused(answer, 409, "QuotaExceeded", "maxInstanceNum")
    assert [i["index"] for i in listing(owner, name)] == [1, 2, 3, 4, 5]
    found = engine.by_index(name)
    assert sorted(found) == [1, 2, 3, 4, 5] and all(len(c) == 1 for c in found.values())
    refused(add(owner, name, 1), 409, "QuotaExceeded")
    wait_for(lambda: all_running(owner, name, 5), STATE_DEADLINE, "5 Running")
    assert len(engine.containers(name)) == 5


def test_containers_carry_labels_env_port_and_flavor(platform, ufops, docker_client):
    configuration = '{"mode": "fast", "quote": "it\'s"}'
    name = ufops.make(platform, configuration=configuration)
    engine = Docker(docker_client, platform)
    assert_ok(add(platform.admin, name, 2))
    ids = set()
    for index in (1, 2):
        container = engine.one(name, index)
        labels = container.labels
        assert labels["ufop.name"] == name and labels["ufop.index"] == str(index)
        assert labels["ufop.version"] == "v1" and labels["ufop.id"].isdigit()
        assert labels["ufop.platform"] == engine.platform_id
        ids.add(labels["ufop.id"])
        env = dict(item.split("=", 1) for item in container.attrs["Config"]["Env"])
        assert env["UFOP_NAME"] == name and env["UFOP_VERSION"] == "v1"
        assert env["UFOP_INSTANCE"] == str(index)
        assert env["UFOP_CONFIGURATION"] == configuration
        host = container.attrs["HostConfig"]
        assert host["NanoCpus"] == 1_000_000_000
        assert host["Memory"] == 512 * MiB
        assert [b["HostIp"] for b in host["PortBindings"]["9100/tcp"]] == ["127.0.0.1"]
        published = container.attrs["NetworkSettings"]["Ports"]["9100/tcp"]
        assert {b["HostIp"] for b in published} == {"127.0.0.1"}
        assert {int(b["HostPort"]) for b in published} != {0}
        assert set(container.attrs["NetworkSettings"]["Ports"]) == {"9100/tcp"}
    assert len(ids) == 1
    answer = call(platform.anonymous, name)
    assert answer.status_code == 200, answer.text
    assert answer.json()["version"] == "v1"


def test_instance_num_follows_adds_and_deletes(platform, ufops):
    client = platform.admin
    name = ufops.make(platform)

    def instance_num(expected):
        return lambda: assert_ok(client.get(f"/api/ufops/{name}"))["instanceNum"] == expected

    assert assert_ok(client.get(f"/api/ufops/{name}"))["instanceNum"] == 0
    assert_ok(add(client, name, 3))
    wait_for(instance_num(3), 30, "instanceNum 3")
    assert_ok(client.delete(f"/api/ufops/{name}/instances/2", timeout=ACTION_TIMEOUT))
    wait_for(instance_num(2), 30, "instanceNum 2")
    assert_ok(act(client, name, 1, "stop"))  # a Stopped instance is still an instance
    assert_ok(add(client, name, 1))
    wait_for(instance_num(3), 30, "instanceNum 3 again")
    for index in (1, 2, 3):
        assert_ok(client.delete(f"/api/ufops/{name}/instances/{index}", timeout=ACTION_TIMEOUT))
    wait_for(instance_num(0), 30, "instanceNum 0")


def test_events_of_instances_in_the_audit_trail(platform, ufops):
    client = platform.admin
    name = ufops.make(platform)
    assert_ok(add(client, name, 1))
    assert_ok(act(client, name, 1, "stop"))
    assert_ok(client.delete(f"/api/ufops/{name}/instances/1", timeout=ACTION_TIMEOUT))

    def trail():
        events = assert_ok(client.get(f"/api/ufops/{name}/events", params={"limit": 1000}))
        kinds = {e["type"] for e in events}
        wanted = {"instance_added", "instance_state_changed", "instance_deleted"}
        changes = {(e["detail"]["from"], e["detail"]["to"]) for e in events
                   if e["type"] == "instance_state_changed"}
        if wanted <= kinds and {("Starting", "Running"), ("Running", "Stopped")} <= changes:
            return events

    events = wait_for(trail, 30, "instance events in the audit trail")
    by_type = {}
    for event in events:
        by_type.setdefault(event["type"], []).append(event["detail"])
    (added,) = by_type["instance_added"]
    assert (added["name"], added["index"], added["version"], added["instanceNum"]) == (
        name, 1, "v1", 1)
    (deleted,) = by_type["instance_deleted"]
    assert (deleted["index"], deleted["instanceNum"]) == (1, 0)
    for change in by_type["instance_state_changed"]:
        assert change["index"] == 1 and change["name"] == name


def test_a_slow_container_operation_stalls_no_other_request(platform, ufops):
    """Adding an instance that never answers /health holds its request for the platform's
    bound; meanwhile other requests, to that ufop and others, are answered."""
    client = platform.admin
    slow = ufops.make(platform, context="sleeper")
    other = ufops.make(platform)
    answer = []
    adding = threading.Thread(target=lambda: answer.append(add(clone(client), slow, 1)))
    adding.start()
    wait_for(lambda: listing(client, slow), 30, "the slow instance recorded")
    assert states(client, slow) == {1: "Starting"}
    assert assert_ok(add(client, other, 1)) == [{"index": 1, "version": "v1", "state": "Running"}]
    assert call(platform.anonymous, other).json()["instance"] == "1"
    assert assert_ok(act(client, other, 1, "stop"))["state"] == "Stopped"
    assert assert_ok(client.get(f"/api/ufops/{slow}"))["name"] == slow
    assert adding.is_alive(), "the slow add ended before the others: nothing was shown"
    adding.join(ACTION_TIMEOUT)
    assert assert_ok(answer[0]) == [{"index": 1, "version": "v1", "state": "Starting"}]


# -- the reconciler ----------------------------------------------------------------------
def test_a_killed_container_comes_back_to_running(platform, ufops, docker_client):
    client = platform.admin
    name = ufops.make(platform)
    engine = Docker(docker_client, platform)
    assert_ok(add(client, name, 2))
    victim = engine.one(name, 1)
    started = victim.attrs["State"]["StartedAt"]
    victim.kill()

    def back():
        container = engine.one(name, 1)
        return (container.status == "running" and container.attrs["State"]["StartedAt"]
                != started and all_running(client, name, 2))

    wait_for(back, RECOVERY_DEADLINE, "the killed container Running again")
    assert sorted(engine.by_index(name)) == [1, 2] and len(engine.containers(name)) == 2
    answers = {call(platform.anonymous, name).json()["instance"] for _ in range(6)}
    assert answers == {"1", "2"}


def test_a_container_never_healthy_ends_failed(make_platform, ufops, docker_client):
    private = make_platform(UFOP_HEALTH_TIMEOUT=2, UFOP_MAX_RESTARTS=1, UFOP_START_WAIT=1,
                            UFOP_RECONCILE_INTERVAL=0.5)
    client = private.admin
    name = ufops.make(private, context="sleeper")
    engine = Docker(docker_client, private)
    assert assert_ok(add(client, name, 1)) == [{"index": 1, "version": "v1", "state": "Starting"}]
    wait_for(lambda: states(client, name) == {1: "Failed"}, STATE_DEADLINE, "Failed")
    wait_for(lambda: engine.one(name, 1).status == "exited", 30, "its container stopped")
    time.sleep(2)  # Failed stays Failed: the reconciler waits for the user
    assert states(client, name) == {1: "Failed"}
    assert len(engine.containers(name)) == 1

    def failed_event():
        events = assert_ok(client.get(f"/api/ufops/{name}/events", params={"limit": 1000}))
        return [e for e in events if e["type"] == "instance_state_changed"
                and e["detail"]["to"] == "Failed"]

    wait_for(failed_event, 30, "the change to Failed in the audit trail")
    assert_ok(client.delete(f"/api/ufops/{name}/instances/1", timeout=ACTION_TIMEOUT))
    assert engine.containers(name) == []


def test_kill_9_of_the_scheduler_during_an_add(make_platform, ufops, docker_client):
    private = make_platform(UFOP_RECONCILE_INTERVAL=1)
    client = private.admin
    name = ufops.make(private)
    assert_ok(client.put(f"/api/ufops/{name}", json={"maxInstanceNum": 10}))
    engine = Docker(docker_client, private)
    stack = private.stack
    answer = []
    adding = threading.Thread(target=lambda: answer.append(
        clone(client).post(f"/api/ufops/{name}/instances", json={"size": 5},
                           timeout=ACTION_TIMEOUT)))
    adding.start()
    # kill it once Docker is making the containers: records written, containers half made
    wait_for(lambda: engine.containers(name), 60, "the first container being made")
    os.kill(stack.procs["scheduler"].pid, signal.SIGKILL)
    stack.procs["scheduler"].wait(10)
    stack.start_service("scheduler")
    stack.wait_healthy(90)

    def agreed():
        records = listing(client, name)
        found = engine.by_index(name)
        indexes = [r["index"] for r in records]
        if not records or sorted(found) != indexes or any(len(c) != 1 for c in found.values()):
            return False
        return {r["state"] for r in records} == {"Running"} and all(
            c["State"] == "running" for (c,) in found.values()) and records

    records = wait_for(agreed, RECOVERY_DEADLINE, "records and containers agree, Running")
    adding.join(ACTION_TIMEOUT + 30)
    # the add was asked for once (the quota would allow it twice): 5 instances, numbered 1-5;
    # the caller heard that the scheduler restarted (or, had it finished first, the listing)
    assert [r["index"] for r in records] == [1, 2, 3, 4, 5], (records, answer[0].text)
    if answer[0].status_code != 200:
        refused(answer[0], 503, "ServiceUnavailable", "restarted")
    time.sleep(3)  # and it stays so: no ghost, no orphan, no late duplicate
    assert agreed() == records
    assert len(engine.containers(name)) == 5


def test_deleting_a_ufop_removes_every_container(platform, ufops, docker_client):
    client = platform.admin
    name = ufops.make(platform)
    engine = Docker(docker_client, platform)
    assert_ok(add(client, name, 3))
    assert_ok(act(client, name, 2, "stop"))
    engine.one(name, 3).kill()  # crashed, not yet restarted, or restarting
    assert len(engine.containers(name)) == 3
    assert_ok(client.delete(f"/api/ufops/{name}"))
    wait_for(lambda: engine.containers(name) == [], 60, "no container of the deleted ufop")
    again = platform.register(client, name=name)  # the name is free at once
    assert assert_ok(client.get(f"/api/ufops/{again}"))["instanceNum"] == 0
    time.sleep(3)
    assert engine.containers(name) == []


# -- switch ------------------------------------------------------------------------------
def test_switch_under_load_has_no_gap(platform, ufops, docker_client):
    client = platform.admin
    name = ufops.make(platform, versions=("v1", "v2"))
    engine = Docker(docker_client, platform)
    assert_ok(add(client, name, 2))
    assert_ok(client.put(f"/api/ufops/{name}", json={"version": "v2"}))
    assert listing(client, name) == [{"index": i, "version": "v1", "state": "Running"}
                                     for i in (1, 2)]  # PUT version touches no instance
    results, stop = [], threading.Event()

    def hammer():
        caller = clone(platform.anonymous)
        while not stop.is_set():
            try:
                answer = call(caller, name)
                results.append((answer.status_code, answer.text))
            except requests.RequestException as exc:
                results.append((0, repr(exc)))

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1)
        for index in (1, 2):
            switched = assert_ok(act(client, name, index, "switch"))
            assert switched == {"index": index, "version": "v2", "state": "Running"}
        time.sleep(2)
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    failures = [r for r in results if r[0] != 200]
    assert len(results) > 20 and not failures, (len(results), failures[:5])
    assert listing(client, name) == [{"index": i, "version": "v2", "state": "Running"}
                                     for i in (1, 2)]
    found = engine.by_index(name)
    assert sorted(found) == [1, 2]
    assert {c["Labels"]["ufop.version"] for (c,) in found.values()} == {"v2"}
    versions = [call(platform.anonymous, name).json()["version"] for _ in range(10)]
    assert versions == ["v2"] * 10
    assert assert_ok(act(client, name, 1, "switch"))["version"] == "v2"  # already current: no-op
