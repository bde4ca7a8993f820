"""What the scheduler does to instances: add, start, stop, reboot, switch, delete, reconcile.

Records are written before containers are made (the intent survives a crash; the reconciler
finishes the job), every instance operation holds that instance's lock, and adding holds the
ufop's lock while it counts and reserves indexes, so ``maxInstanceNum`` holds under
concurrent requests. Docker and health probes run in parallel greenthreads; the store is
touched only from the worker's own greenthread (Peewee keeps a connection per greenthread).
"""
import logging
import time
from contextlib import ExitStack
from datetime import timedelta

import eventlet

from ufop_common.errors import InstanceNotFound, InvalidArgs, QuotaExceeded, ResultError
from ufop_common.timefmt import utcnow

from . import reconcile
from .models import FAILED, RUNNING, STARTING, STOPPED, Instance, database

log = logging.getLogger(__name__)

#: seconds a container taken out of service keeps serving the calls routed to it before the
#: gateways saw it go (switch, stop, delete): routes follow events within milliseconds
ROUTE_DRAIN = 1.0
RETIRE_STOP_TIMEOUT = 2  # seconds a retired container gets to stop before it is killed


def key(record):
    return (record.ufop_id, record.index)


class Operations:
    def __init__(self, containers, publish):
        self.runtime = containers.runtime
        self.locks = containers.locks
        self.policy = containers.policy
        self.settings = containers.settings
        self.shipper = containers.shipper
        self.publish = publish

    # -- records and events ------------------------------------------------------------
    def payload(self, record, **extra):
        return dict({"id": record.ufop_id, "name": record.ufop_name, "index": record.index,
                     "version": record.version}, **extra)

    def count(self, ufop_id):
        return Instance.select().where(Instance.ufop_id == ufop_id).count()

    def set_state(self, record, to, **fields):
        before = record.state
        for name, value in fields.items():
            setattr(record, name, value)
        record.state = to
        record.save()
        if before != to:
            self.publish("instance_state_changed", self.payload(record, **{"from": before,
                                                                            "to": to}))

    def find(self, ufop_id, index):
        record = Instance.get_or_none((Instance.ufop_id == ufop_id) & (Instance.index == index))
        if record is None:
            raise InstanceNotFound(f"instance {index} not found")
        return record

    def listing(self, ufop_id):
        return [r.view() for r in Instance.select().where(Instance.ufop_id == ufop_id)
                .order_by(Instance.index)]

    def retire(self, container_id):
        """Stop a container, ship the last of its log, then remove it."""
        self.runtime.stop(container_id, timeout=RETIRE_STOP_TIMEOUT)
        self.shipper.drain(container_id)
        self.runtime.remove(container_id)
        self.shipper.forget([container_id])

    # -- adding --------------------------------------------------------------------------
    def add(self, spec, size, version=None):
        current = spec["version"]
        if not current:
            raise InvalidArgs("version: the ufop has no current version yet; choose one "
                              "with PUT /api/ufops/:id {\"version\": ...}")
        if version not in (None, "", current):
            raise InvalidArgs(f"version: {version!r} is not the current version {current!r}; "
                              f"make it current with PUT /api/ufops/:id, then switch "
                              f"instances to it")
        with self.locks.ufop(spec["id"]):
            taken = {r.index for r in Instance.select(Instance.index)
                     .where(Instance.ufop_id == spec["id"])}
            if len(taken) + size > spec["maxInstanceNum"]:
                raise QuotaExceeded(f"size: {len(taken)} instances + {size} would pass "
                                    f"maxInstanceNum {spec['maxInstanceNum']}")
            indexes = [i for i in range(1, len(taken) + size + 1) if i not in taken][:size]
            with ExitStack() as held:
                for index in indexes:
                    held.enter_context(self.locks.instance((spec["id"], index)))
                with database.atomic():
                    records = [Instance.create(
                        ufop_id=spec["id"], ufop_name=spec["name"], index=index,
                        version=current, image=spec["image"],
                        configuration=spec.get("configuration", ""), cpus=spec["cpus"],
                        memory=spec["memory"]) for index in indexes]
                held_locks = held.pop_all()
        with held_locks:
            total = self.count(spec["id"])
            for record in records:
                self.publish("instance_added", self.payload(record, instanceNum=total))
            self.launch(records)
        return self.listing(spec["id"])

    def launch(self, records):
        """Make and start the containers of ``records`` in parallel, then wait (bounded) for
        them to answer /health. Callers hold the records' locks."""
        pool = eventlet.GreenPool(max(len(records), 1))

        def run(record):
            try:
                return self.runtime.run(record)
            except Exception as exc:
                log.warning("could not start %s #%s: %s", record.ufop_name, record.index, exc)
                return None

        started = []
        for record, result in zip(records, pool.imap(run, records)):
            if result is None:  # the reconciler tries again after a back-off
                record.restarts += 1
                record.next_try_at = utcnow() + timedelta(
                    seconds=reconcile.backoff(record.restarts, self.policy))
                record.save()
                continue
            record.container_id, record.host_port = result
            record.started_at, record.unhealthy = utcnow(), 0
            record.save()
            started.append(record)
        self.await_health(started, self.settings.start_wait)

    def await_health(self, records, bound):
        deadline = time.monotonic() + bound

        def wait(record):
            while time.monotonic() < deadline:
                if self.runtime.healthy(record.host_port):
                    return True
                eventlet.sleep(0.05)
            return False

        pool = eventlet.GreenPool(max(len(records), 1))
        for record, healthy in zip(records, pool.imap(wait, records)):
            if healthy:
                self.set_state(record, RUNNING)
            elif record.state != STARTING:
                self.set_state(record, STARTING)

    # -- one instance ----------------------------------------------------------------------
    def start(self, ufop_id, index):
        return self._want_running(ufop_id, index, restart=False)

    def reboot(self, ufop_id, index):
        return self._want_running(ufop_id, index, restart=True)

    def _want_running(self, ufop_id, index, restart):
        """The instance is wanted running again (its back-off reset) and brought up; with
        ``restart`` a running container is restarted too."""
        with self.locks.instance((ufop_id, index)):
            record = self.find(ufop_id, index)
            record.desired, record.restarts, record.next_try_at = "running", 0, None
            self._bring_up(record, restart=restart)
            return record.view()

    def _bring_up(self, record, restart):
        observed = {c.id: c for c in self.runtime.observe()}
        container = observed.get(record.container_id) if record.container_id else None
        if container is not None and container.running and not restart \
                and record.state == RUNNING:
            record.save()
            return
        if container is None:
            record.container_id, record.host_port = self.runtime.run(record)
        elif restart or not container.running:
            # out of the routes before the container goes down
            self.set_state(record, STARTING, started_at=utcnow(), unhealthy=0)
            record.host_port = (self.runtime.restart(container.id) if container.running
                                else self.runtime.start(container.id))
        self.set_state(record, STARTING, started_at=utcnow(), unhealthy=0)
        self.await_health([record], self.settings.start_wait)

    def withdraw(self, record, **fields):
        """Take an instance out of the routes (``Stopped``, published) before its container
        goes, and let the calls already routed to it finish (``ROUTE_DRAIN``)."""
        serving = record.state == RUNNING
        self.set_state(record, STOPPED, **fields)
        if serving and record.container_id:
            eventlet.sleep(ROUTE_DRAIN)

    def stop(self, ufop_id, index):
        with self.locks.instance((ufop_id, index)):
            record = self.find(ufop_id, index)
            self.withdraw(record, desired="stopped")
            if record.container_id:
                self.runtime.stop(record.container_id)
            return record.view()

    def delete(self, ufop_id, index):
        with self.locks.instance((ufop_id, index)):
            record = self.find(ufop_id, index)
            if record.state == RUNNING:
                self.withdraw(record)
            if record.container_id:
                self.retire(record.container_id)
            record.delete_instance()
            self.publish("instance_deleted",
                         self.payload(record, instanceNum=self.count(ufop_id)))

    def switch(self, spec, index):
        """Move one instance to the current version: the new container answers /health
        before the old one goes, so calls to the ufop see no gap (SPEC §4)."""
        with self.locks.instance((spec["id"], index)):
            record = self.find(spec["id"], index)
            if not spec["version"] or record.version == spec["version"]:
                return record.view()
            previous = record.version
            old_container = record.container_id
            if record.desired == "stopped":
                if old_container:
                    self.retire(old_container)
                record.version, record.image, record.container_id = (
                    spec["version"], spec["image"], "")
                record.configuration = spec.get("configuration", record.configuration)
                record.save()
            else:
                new_id, port = self.runtime.run(record, spec["image"], spec["version"])
                deadline = time.monotonic() + self.policy.health_timeout
                while not self.runtime.healthy(port):
                    if time.monotonic() > deadline:
                        self.runtime.remove(new_id)
                        raise ResultError(f"version {spec['version']!r} did not answer /health "
                                          f"within {self.policy.health_timeout:g} s; instance "
                                          f"{index} keeps running {previous!r}")
                    eventlet.sleep(0.05)
                record.version, record.image = spec["version"], spec["image"]
                record.configuration = spec.get("configuration", record.configuration)
                record.container_id, record.host_port = new_id, port
                record.restarts, record.unhealthy, record.next_try_at = 0, 0, None
                self.set_state(record, RUNNING, started_at=utcnow())
            self.publish("instance_switched", self.payload(record, previous=previous))
            if old_container and record.desired != "stopped":
                eventlet.sleep(ROUTE_DRAIN)
                self.retire(old_container)
            return record.view()

    def forget_ufop(self, ufop_id):
        """A deleted ufop: every record and container goes, whatever its state."""
        records = list(Instance.select().where(Instance.ufop_id == ufop_id))
        Instance.delete().where(Instance.ufop_id == ufop_id).execute()
        gone = [c.id for c in self.runtime.observe() if c.ufop_id == ufop_id]
        for container_id in gone:
            self.runtime.remove(container_id)
        self.shipper.forget(gone + [r.container_id for r in records if r.container_id])
        for record in records:
            self.publish("instance_deleted", self.payload(record, instanceNum=0))
        return len(records)

    def endpoints(self, ufop_id):
        return [{"index": r.index, "version": r.version, "port": r.host_port}
                for r in Instance.select().where((Instance.ufop_id == ufop_id)
                                                 & (Instance.state == RUNNING))
                .order_by(Instance.index)]

    # -- the reconciler --------------------------------------------------------------------
    def reconcile(self):
        records = list(Instance.select())
        containers = self.runtime.observe()
        by_id = {c.id: c for c in containers}
        busy = self.locks.busy()
        probed = [r for r in records if key(r) not in busy and r.desired == "running"
                  and r.state in (STARTING, RUNNING) and r.container_id in by_id
                  and by_id[r.container_id].running]
        pool = eventlet.GreenPool(16)
        ports = {r.id: by_id[r.container_id].host_port or r.host_port for r in probed}
        health = dict(zip([r.id for r in probed],
                          pool.imap(lambda r: self.runtime.healthy(ports[r.id]), probed)))
        actions = reconcile.plan(records, containers, health, utcnow(), self.policy, busy)
        for action in actions:
            try:
                self.apply(action)
            except Exception:
                log.exception("reconcile: %s failed", action)
        return actions

    def apply(self, action):
        if action.kind == "remove":
            if Instance.get_or_none(Instance.container_id == action.container_id) is None:
                self._remove_unless_busy(action.container_id)
            return
        record = Instance.get_or_none(Instance.id == action.record_id)
        if record is None:
            return
        lock = self.locks.instance(key(record))
        if not lock.acquire(blocking=False):
            return  # an operation took it since the plan was made
        try:
            if record.container_id != action.container_id:
                return  # changed since the plan was made
            self._apply_to(record, action)
        finally:
            lock.release()

    def _remove_unless_busy(self, container_id):
        busy = self.locks.busy()
        for container in self.runtime.observe():
            if container.id == container_id and (container.ufop_id, container.index) not in busy:
                self.runtime.remove(container_id)
                self.shipper.forget([container_id])

    def _apply_to(self, record, action):
        now = utcnow()
        if action.kind == "create":
            record.container_id, record.host_port = "", 0
            try:
                record.container_id, record.host_port = self.runtime.run(record)
            except Exception:
                record.restarts += 1
                record.next_try_at = now + timedelta(
                    seconds=reconcile.backoff(record.restarts, self.policy))
                record.save()
                raise
            self.set_state(record, STARTING, started_at=now, unhealthy=0)
        elif action.kind == "restart":
            log.info("restarting %s #%s: %s", record.ufop_name, record.index, action.reason)
            record.restarts += 1
            record.next_try_at = now + timedelta(
                seconds=reconcile.backoff(record.restarts, self.policy))
            record.host_port = self.runtime.restart(record.container_id)
            self.set_state(record, STARTING, started_at=now, unhealthy=0)
        elif action.kind == "fail":
            log.warning("%s #%s failed: %s", record.ufop_name, record.index, action.reason)
            if record.container_id:
                self.runtime.stop(record.container_id)
            self.set_state(record, FAILED)
        elif action.kind == "stop":
            self.runtime.stop(record.container_id)
            self.set_state(record, STOPPED)
        elif action.kind == "mark":
            fields = {"started_at": now} if action.state == STARTING else {}
            self.set_state(record, action.state, **fields)
        elif action.kind == "probe_failed":
            record.unhealthy += 1
            record.save()
        elif action.kind == "probe_ok":
            record.unhealthy = 0
            record.save()
        elif action.kind == "forgive":
            record.restarts = 0
            record.save()

