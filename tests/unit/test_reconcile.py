"""The scheduler without Docker: the pure reconcile ``plan`` (STYLE 4), then ``Operations``
(index allocation, quota, one-instance operations, applying a plan) on a temporary SQLite
store with a fake container runtime."""
import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace

import eventlet
import pytest

from scheduler import models
from scheduler.dependencies import Locks
from scheduler.models import FAILED, RUNNING, STARTING, STOPPED, Instance
from scheduler.operations import Operations
from scheduler.reconcile import Action, Observed, Policy, backoff, plan
from scheduler.shipping import Shipper
from ufop_common.errors import InstanceNotFound, InvalidArgs, QuotaExceeded, ResultError
from ufop_common.store import bind

NOW = datetime(2030, 1, 1, 12, 0, 0)
POLICY = Policy(max_restarts=3, health_timeout=30, backoff_base=1, backoff_max=30,
                unhealthy_after=3, stable_after=60)
UFOP = 7


# -- the pure plan -------------------------------------------------------------------------
@dataclass
class Rec:
    """The Instance fields ``plan`` reads."""

    id: int = 1
    ufop_id: int = UFOP
    index: int = 1
    desired: str = "running"
    state: str = RUNNING
    container_id: str = "c1"
    restarts: int = 0
    unhealthy: int = 0
    started_at: datetime = field(default_factory=lambda: NOW - timedelta(seconds=5))
    next_try_at: datetime = None


def box(cid="c1", index=1, running=True, ufop_id=UFOP):
    return Observed(cid, ufop_id, index, running, 32000 + index)


def planned(records, containers, health=None, now=NOW, busy=frozenset(), policy=POLICY):
    return [(a.kind, a.record_id, a.container_id, a.state)
            for a in plan(records, containers, health or {}, now, policy, busy)]


def test_agreement_plans_nothing():
    assert planned([Rec()], [box()], {1: True}) == []
    assert planned([], []) == []


def test_a_container_with_no_record_is_removed():
    assert planned([Rec()], [box(), box("stray", index=2), box("other", ufop_id=99)],
                   {1: True}) == [("remove", 0, "stray", ""), ("remove", 0, "other", "")]


def test_a_container_left_by_a_crash_before_its_id_was_saved_is_replaced():
    """kill -9 between creating the container and saving its id: the record has none, a
    container of the same index runs. The stray goes and a fresh one is made."""
    records = [Rec(state=STARTING, container_id="")]
    assert planned(records, [box("half-made")]) == [("remove", 0, "half-made", ""),
                                                    ("create", 1, "", "")]


def test_an_instance_that_should_run_without_container_is_created():
    assert planned([Rec(container_id="")], []) == [("create", 1, "", "")]
    # the action names the container the record had, so applying it notices a change
    assert planned([Rec(container_id="gone")], []) == [("create", 1, "gone", "")]


def test_creation_waits_for_its_back_off():
    later = NOW + timedelta(seconds=2)
    assert planned([Rec(container_id="", restarts=1, next_try_at=later)], []) == []
    assert planned([Rec(container_id="", restarts=1, next_try_at=later)], [],
                   now=later) == [("create", 1, "", "")]


def test_a_vanished_container_out_of_restarts_fails():
    assert planned([Rec(container_id="gone", restarts=3)], []) == [("fail", 1, "gone", "")]


def test_a_container_that_cannot_be_made_fails_out_of_restarts():
    """Creating it failed every time (its image is gone, Docker refuses it): not forever
    Starting, Failed once out of attempts, like a container that keeps exiting."""
    assert planned([Rec(state=STARTING, container_id="", restarts=2)], []) == [
        ("create", 1, "", "")]
    assert planned([Rec(state=STARTING, container_id="", restarts=3)], []) == [
        ("fail", 1, "", "")]


def test_an_exited_container_is_restarted_after_its_back_off():
    due = NOW - timedelta(seconds=1)
    assert planned([Rec(restarts=1, next_try_at=due)], [box(running=False)]) == [
        ("restart", 1, "c1", "")]
    assert planned([Rec(restarts=0, next_try_at=None)], [box(running=False)]) == [
        ("restart", 1, "c1", "")]
    waiting = NOW + timedelta(seconds=4)
    assert planned([Rec(restarts=2, next_try_at=waiting)], [box(running=False)]) == []


def test_an_exited_container_out_of_restarts_fails_at_once():
    waiting = NOW + timedelta(seconds=30)
    assert planned([Rec(restarts=3, next_try_at=waiting)], [box(running=False)]) == [
        ("fail", 1, "c1", "")]


def test_back_off_doubles_up_to_its_bound():
    assert [backoff(n, POLICY) for n in range(7)] == [1, 2, 4, 8, 16, 30, 30]


def test_starting_and_healthy_is_running():
    records = [Rec(state=STARTING)]
    assert planned(records, [box()], {1: True}) == [("mark", 1, "c1", RUNNING)]


def test_starting_and_not_yet_healthy_waits_within_the_bound():
    records = [Rec(state=STARTING, started_at=NOW - timedelta(seconds=29))]
    assert planned(records, [box()], {1: False}) == []


def test_starting_past_the_health_bound_restarts_then_fails():
    late = NOW - timedelta(seconds=31)
    assert planned([Rec(state=STARTING, started_at=late, restarts=2)], [box()], {1: False}) == [
        ("restart", 1, "c1", "")]
    assert planned([Rec(state=STARTING, started_at=late, restarts=3)], [box()], {1: False}) == [
        ("fail", 1, "c1", "")]


def test_running_unhealthy_counts_probes_then_restarts():
    assert planned([Rec(unhealthy=0)], [box()], {1: False}) == [("probe_failed", 1, "c1", "")]
    assert planned([Rec(unhealthy=1)], [box()], {1: False}) == [("probe_failed", 1, "c1", "")]
    assert planned([Rec(unhealthy=2)], [box()], {1: False}) == [("restart", 1, "c1", "")]
    assert planned([Rec(unhealthy=2, restarts=3)], [box()], {1: False}) == [
        ("fail", 1, "c1", "")]


def test_a_passing_probe_clears_the_unhealthy_count():
    assert planned([Rec(unhealthy=2)], [box()], {1: True}) == [("probe_ok", 1, "c1", "")]


def test_stopped_is_stopped():
    assert planned([Rec(desired="stopped", state=RUNNING)], [box()]) == [("stop", 1, "c1", "")]
    assert planned([Rec(desired="stopped", state=RUNNING)], [box(running=False)]) == [
        ("mark", 1, "c1", STOPPED)]
    assert planned([Rec(desired="stopped", state=STOPPED)], [box(running=False)]) == []
    assert planned([Rec(desired="stopped", state=STOPPED, container_id="")], []) == []


def test_failed_waits_for_the_user():
    assert planned([Rec(state=FAILED, restarts=3)], [box(running=False)]) == []
    assert planned([Rec(state=FAILED, restarts=3, container_id="")], []) == []


def test_busy_instances_and_their_containers_are_left_alone():
    busy = frozenset({(UFOP, 1), (UFOP, 2)})
    records = [Rec(id=1, index=1, container_id=""),
               Rec(id=2, index=2, state=STARTING, container_id="c2",
                   started_at=NOW - timedelta(hours=1))]
    containers = [box("new-1", index=1), box("c2", index=2, running=False)]
    assert planned(records, containers, busy=busy) == []
    # once free, the same picture is repaired
    assert planned(records, containers) == [("remove", 0, "new-1", ""), ("create", 1, "", ""),
                                            ("restart", 2, "c2", "")]


def test_a_long_stable_running_instance_has_its_restarts_forgiven():
    stable = NOW - timedelta(seconds=61)
    assert planned([Rec(restarts=2, started_at=stable)], [box()], {1: True}) == [
        ("forgive", 1, "c1", "")]
    assert planned([Rec(restarts=2, started_at=NOW - timedelta(seconds=59))], [box()],
                   {1: True}) == []
    assert planned([Rec(restarts=0, started_at=stable)], [box()], {1: True}) == []


def test_a_stopped_record_whose_container_was_started_by_hand_is_adopted():
    assert planned([Rec(state=STOPPED)], [box()]) == [("mark", 1, "c1", STARTING)]


def test_plan_is_pure():
    records = [Rec(id=1, state=STARTING), Rec(id=2, index=2, container_id="")]
    before = [vars(r).copy() for r in records]
    containers = [box()]
    first = plan(records, containers, {1: True}, NOW, POLICY)
    assert plan(records, containers, {1: True}, NOW, POLICY) == first
    assert [vars(r) for r in records] == before
    assert all(isinstance(a, Action) for a in first)


# -- Operations with a fake runtime ---------------------------------------------------------
class FakeRuntime:
    """Containers in a dict; every call is journaled; ``run`` yields to other greenthreads."""

    def __init__(self):
        self.containers = {}  # id -> Observed
        self.ports = {}  # id -> host port
        self.unhealthy_images = set()
        self.images = {}  # id -> image
        self.journal = []
        self.ids = itertools.count(1)
        self.fail_runs = 0

    def run(self, record, image=None, version=None):
        eventlet.sleep(0.01)
        if self.fail_runs:
            self.fail_runs -= 1
            raise RuntimeError("docker said no")
        cid = f"c{next(self.ids)}"
        self.containers[cid] = Observed(cid, record.ufop_id, record.index, True,
                                        40000 + int(cid[1:]))
        self.ports[cid] = self.containers[cid].host_port
        self.images[cid] = image or record.image
        self.journal.append(("run", record.index, cid, version or record.version))
        return cid, self.ports[cid]

    def _set_running(self, cid, running):
        old = self.containers[cid]
        self.containers[cid] = Observed(cid, old.ufop_id, old.index, running, old.host_port)

    def start(self, cid):
        self.journal.append(("start", cid))
        self._set_running(cid, True)
        return self.ports[cid]

    def restart(self, cid):
        self.journal.append(("restart", cid))
        self._set_running(cid, True)
        return self.ports[cid]

    def stop(self, cid, timeout=None):
        self.journal.append(("stop", cid))
        if cid in self.containers:
            self._set_running(cid, False)

    def remove(self, cid):
        self.journal.append(("remove", cid))
        self.containers.pop(cid, None)

    def observe(self):
        return list(self.containers.values())

    def healthy(self, port):
        for cid, p in self.ports.items():
            if p == port and cid in self.containers and self.containers[cid].running:
                return self.images[cid] not in self.unhealthy_images
        return False


@pytest.fixture
def store(tmp_path):
    database = bind(models.database, f"sqlite:///{tmp_path / 'scheduler.db'}", models.MODELS)
    database.connect(reuse_if_open=True)
    yield database
    database.close()


@pytest.fixture
def ops(store, monkeypatch):
    """Operations as a worker sees them: the real log shipper (nothing to follow here), the
    worker's connection open, a fake runtime; no drain time for routes."""
    monkeypatch.setattr("scheduler.operations.ROUTE_DRAIN", 0)
    runtime = FakeRuntime()
    containers = SimpleNamespace(
        runtime=runtime, locks=Locks(), shipper=Shipper(None, runtime, None, None),
        policy=Policy(max_restarts=2, health_timeout=0.3, backoff_base=0.01),
        settings=SimpleNamespace(start_wait=0.3))
    events = []
    def publish(kind, payload):  # events in the runtime's journal too, to see their order
        events.append((kind, payload))
        runtime.journal.append((kind, payload.get("to")))
    operations = Operations(containers, publish)
    operations.events = events
    return operations


def spec(max_instances=5, version="v1", image="img:v1", ufop_id=UFOP):
    return {"id": ufop_id, "name": "fileinfo", "version": version, "image": image,
            "configuration": "conf", "cpus": 1.0, "memory": "512m",
            "maxInstanceNum": max_instances}


def indexes(ops, ufop_id=UFOP):
    return [i["index"] for i in ops.listing(ufop_id)]


def docker_calls(ops):
    """The runtime's journal without the events published in between."""
    return [entry for entry in ops.runtime.journal if not entry[0].startswith("instance_")]


def kinds(ops, kind):
    return [p for k, p in ops.events if k == kind]


def test_add_numbers_from_one_and_runs_healthy_instances(ops):
    listing = ops.add(spec(), 3)
    assert listing == [{"index": i, "version": "v1", "state": RUNNING} for i in (1, 2, 3)]
    assert sorted(c.index for c in ops.runtime.observe()) == [1, 2, 3]
    assert [p["instanceNum"] for p in kinds(ops, "instance_added")] == [3, 3, 3]
    changes = kinds(ops, "instance_state_changed")
    assert {(p["index"], p["from"], p["to"]) for p in changes} == {
        (i, STARTING, RUNNING) for i in (1, 2, 3)}


def test_new_instances_take_the_lowest_free_indexes(ops):
    ops.add(spec(), 4)
    ops.delete(UFOP, 2)
    ops.delete(UFOP, 4)
    ops.add(spec(), 1)
    assert indexes(ops) == [1, 2, 3]
    ops.add(spec(), 2)
    assert indexes(ops) == [1, 2, 3, 4, 5]
    assert sorted(c.index for c in ops.runtime.observe()) == [1, 2, 3, 4, 5]


def test_quota_counts_every_instance(ops):
    ops.add(spec(max_instances=3), 2)
    with pytest.raises(QuotaExceeded, match="maxInstanceNum 3"):
        ops.add(spec(max_instances=3), 2)
    ops.stop(UFOP, 1)
    with pytest.raises(QuotaExceeded):  # a Stopped instance still counts
        ops.add(spec(max_instances=3), 2)
    assert indexes(ops) == [1, 2]


def test_quota_holds_under_concurrent_adds(ops):
    def add_one():
        models.database.connect(reuse_if_open=True)  # one connection per greenthread
        try:
            ops.add(spec(max_instances=5), 1)
            return "ok"
        except QuotaExceeded:
            return "quota"
        finally:
            models.database.close()

    pool = eventlet.GreenPool(20)
    results = list(pool.imap(lambda _: add_one(), range(20)))
    assert results.count("ok") == 5 and results.count("quota") == 15
    assert indexes(ops) == [1, 2, 3, 4, 5]
    assert sorted(c.index for c in ops.runtime.observe()) == [1, 2, 3, 4, 5]


def test_quota_is_per_ufop(ops):
    ops.add(spec(max_instances=2), 2)
    ops.add(spec(max_instances=2, ufop_id=8), 2)
    assert indexes(ops) == [1, 2] and indexes(ops, 8) == [1, 2]


def test_only_the_current_version_is_added(ops):
    with pytest.raises(InvalidArgs, match="switch"):
        ops.add(spec(), 1, version="v0")
    with pytest.raises(InvalidArgs, match="no current version"):
        ops.add(spec(version="", image=""), 1)
    assert ops.add(spec(), 1, version="v1")[0]["version"] == "v1"


def test_unknown_index_is_instance_not_found(ops):
    ops.add(spec(), 1)
    for operation in (ops.start, ops.stop, ops.reboot, ops.delete):
        with pytest.raises(InstanceNotFound):
            operation(UFOP, 9)
    with pytest.raises(InstanceNotFound):
        ops.switch(spec(version="v2", image="img:v2"), 9)


def test_stop_start_reboot(ops):
    ops.add(spec(), 1)
    (cid,) = ops.runtime.containers
    assert ops.stop(UFOP, 1) == {"index": 1, "version": "v1", "state": STOPPED}
    assert not ops.runtime.containers[cid].running
    assert ops.start(UFOP, 1)["state"] == RUNNING
    assert ops.runtime.containers[cid].running
    assert ops.reboot(UFOP, 1)["state"] == RUNNING
    assert ("restart", cid) in ops.runtime.journal
    assert list(ops.runtime.containers) == [cid]
    changes = [(p["from"], p["to"]) for p in kinds(ops, "instance_state_changed")]
    assert changes == [(STARTING, RUNNING), (RUNNING, STOPPED), (STOPPED, STARTING),
                       (STARTING, RUNNING), (RUNNING, STARTING), (STARTING, RUNNING)]


def test_start_recreates_a_container_that_is_gone(ops):
    ops.add(spec(), 1)
    ops.stop(UFOP, 1)
    ops.runtime.containers.clear()
    assert ops.start(UFOP, 1)["state"] == RUNNING
    assert [c.index for c in ops.runtime.observe()] == [1]


def test_delete_removes_record_and_container(ops, store):
    ops.add(spec(), 2)
    ops.delete(UFOP, 1)
    assert indexes(ops) == [2]
    assert [c.index for c in ops.runtime.observe()] == [2]
    (deleted,) = kinds(ops, "instance_deleted")
    assert deleted["index"] == 1 and deleted["instanceNum"] == 1
    assert not store.is_closed()  # the worker goes on with its connection


def test_stop_and_delete_take_the_instance_out_of_routes_before_its_container_goes(ops):
    """The gateways drop an instance on its ``Stopped`` event: it comes before the container
    is stopped (or removed), so no call is routed to a container that is going."""
    ops.add(spec(), 2)
    first, second = ops.runtime.containers
    ops.stop(UFOP, 1)
    journal = ops.runtime.journal
    assert journal.index(("instance_state_changed", STOPPED)) < journal.index(("stop", first))
    ops.delete(UFOP, 2)
    assert journal.index(("instance_state_changed", STOPPED), journal.index(("stop", first))
                         + 1) < journal.index(("remove", second))


def test_a_reboot_takes_the_instance_out_of_routes_before_restarting_it(ops):
    ops.add(spec(), 1)
    (cid,) = ops.runtime.containers
    ops.reboot(UFOP, 1)
    journal = ops.runtime.journal
    assert journal.index(("instance_state_changed", STARTING)) < journal.index(("restart", cid))
    assert ops.listing(UFOP)[0]["state"] == RUNNING


def test_switch_starts_the_new_container_healthy_before_removing_the_old(ops):
    ops.add(spec(), 1)
    (old,) = ops.runtime.containers
    assert ops.switch(spec(version="v2", image="img:v2"), 1) == {
        "index": 1, "version": "v2", "state": RUNNING}
    (new,) = ops.runtime.containers
    journal = ops.runtime.journal
    assert journal.index(("run", 1, new, "v2")) < journal.index(("remove", old))
    record = Instance.get(Instance.index == 1)
    assert (record.container_id, record.image, record.version) == (new, "img:v2", "v2")
    assert ops.endpoints(UFOP) == [{"index": 1, "version": "v2",
                                    "port": ops.runtime.ports[new]}]


def test_a_switch_to_an_unhealthy_version_keeps_the_old_container(ops):
    ops.add(spec(), 1)
    (old,) = ops.runtime.containers
    ops.runtime.unhealthy_images.add("img:bad")
    with pytest.raises(ResultError, match="keeps running 'v1'"):
        ops.switch(spec(version="bad", image="img:bad"), 1)
    assert list(ops.runtime.containers) == [old]
    assert ops.listing(UFOP) == [{"index": 1, "version": "v1", "state": RUNNING}]


def test_a_stopped_instance_switches_without_running(ops):
    ops.add(spec(), 1)
    ops.stop(UFOP, 1)
    assert ops.switch(spec(version="v2", image="img:v2"), 1) == {
        "index": 1, "version": "v2", "state": STOPPED}
    assert ops.runtime.containers == {}
    assert ops.start(UFOP, 1)["state"] == RUNNING
    assert [j for j in ops.runtime.journal if j[0] == "run"][-1][3] == "v2"


def test_forgetting_a_ufop_removes_every_container_whatever_its_state(ops):
    ops.add(spec(), 3)
    ops.add(spec(ufop_id=8), 1)
    ops.stop(UFOP, 2)
    assert ops.forget_ufop(UFOP) == 3
    assert [c.ufop_id for c in ops.runtime.observe()] == [8]
    assert indexes(ops) == []
    assert [p["instanceNum"] for p in kinds(ops, "instance_deleted")] == [0, 0, 0]


def test_reconcile_after_a_crash_in_the_middle_of_an_add(ops):
    """Records written, one container made whose id was never saved, others never made."""
    for index in (1, 2, 3):
        Instance.create(ufop_id=UFOP, ufop_name="fileinfo", index=index, version="v1",
                        image="img:v1")
    ops.runtime.containers["stray"] = Observed("stray", UFOP, 1, True, 45000)
    ops.runtime.ports["stray"] = 45000
    ops.reconcile()
    containers = ops.runtime.observe()
    assert "stray" not in {c.id for c in containers}
    assert sorted(c.index for c in containers) == [1, 2, 3]
    owned = {r.container_id for r in Instance.select()}
    assert owned == {c.id for c in containers}
    ops.reconcile()  # the next pass sees them healthy
    assert [i["state"] for i in ops.listing(UFOP)] == [RUNNING] * 3


def test_reconcile_restarts_an_exited_container_and_fails_it_out_of_attempts(ops):
    ops.add(spec(), 1)
    (cid,) = ops.runtime.containers
    for attempt in range(ops.policy.max_restarts):
        ops.runtime._set_running(cid, False)
        Instance.update(next_try_at=None).execute()
        ops.reconcile()
        assert docker_calls(ops)[-1] == ("restart", cid)
        assert Instance.get().restarts == attempt + 1
    ops.runtime._set_running(cid, False)
    ops.reconcile()
    assert ops.listing(UFOP)[0]["state"] == FAILED
    assert ops.reboot(UFOP, 1)["state"] == RUNNING  # the user brings it back
    assert Instance.get().restarts == 0


def test_a_failed_launch_is_retried_by_the_reconciler(ops):
    ops.runtime.fail_runs = 1
    assert ops.add(spec(), 1) == [{"index": 1, "version": "v1", "state": STARTING}]
    record = Instance.get()
    assert (record.container_id, record.restarts) == ("", 1) and record.next_try_at
    Instance.update(next_try_at=None).execute()
    ops.reconcile()
    ops.reconcile()
    assert ops.listing(UFOP)[0]["state"] == RUNNING


def test_a_launch_that_always_fails_ends_failed(ops):
    ops.runtime.fail_runs = 100
    assert ops.add(spec(), 1)[0]["state"] == STARTING
    for _ in range(ops.policy.max_restarts + 1):
        Instance.update(next_try_at=None).execute()
        ops.reconcile()
    assert ops.listing(UFOP)[0]["state"] == FAILED
    ops.runtime.fail_runs = 0
    assert ops.start(UFOP, 1)["state"] == RUNNING  # until the user starts it again


def test_the_reconciler_leaves_an_instance_an_operation_holds(ops):
    ops.add(spec(), 1)
    (cid,) = ops.runtime.containers
    ops.runtime._set_running(cid, False)
    with ops.locks.instance((UFOP, 1)):
        assert ops.reconcile() == []
    assert docker_calls(ops)[-1][0] == "run"


def test_a_planned_create_is_dropped_when_the_instance_got_a_container_meanwhile(ops):
    """plan, then an operation gives the record a container, then apply: no second one."""
    Instance.create(ufop_id=UFOP, ufop_name="fileinfo", index=1, version="v1", image="img:v1")
    (action,) = plan(list(Instance.select()), [], {}, datetime.utcnow(), ops.policy)
    assert action.kind == "create"
    ops.start(UFOP, 1)  # between the plan and its application
    (made,) = ops.runtime.containers
    ops.apply(action)
    assert list(ops.runtime.containers) == [made]
    assert Instance.get().container_id == made
