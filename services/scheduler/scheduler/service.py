"""The scheduler: instances of ufops as Docker containers (SPEC §4, §6, §9)."""
import logging

from nameko.events import event_handler
from nameko.timer import timer

from ufop_common import config
from ufop_common.errors import InvalidArgs
from ufop_common.events import Events
from ufop_common.rpc import DeadlineRpc, at_most_once_rpc, rpc
from ufop_common.store import Store

from .dependencies import Containers
from .models import MODELS, database
from .operations import Operations

log = logging.getLogger(__name__)

MAX_SIZE = 1000


def check_index(index):
    if isinstance(index, bool) or not isinstance(index, int) or index < 1:
        raise InvalidArgs("index: must be an integer of at least 1")
    return index


class SchedulerService:
    name = "scheduler"

    db = Store("scheduler", database, MODELS)
    containers = Containers()
    events = Events()
    registry = DeadlineRpc("registry")

    @property
    def ops(self):
        return Operations(self.containers, self.events)

    def managed(self, uid, name, admin):
        """The ufop ``uid`` manages (404/403 otherwise), as the registry says."""
        return self.registry.authorize(uid, name, "manage", admin=admin)

    @rpc
    def ping(self):
        return "pong"

    @rpc
    def list_instances(self, uid, name, admin=False):
        return self.ops.listing(self.managed(uid, name, admin)["id"])

    @at_most_once_rpc  # redelivered after a crash, it would add ``size`` more
    def add_instances(self, uid, name, size, version=None, admin=False):
        """Add ``size`` instances of the current version; returns all instances."""
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_SIZE:
            raise InvalidArgs(f"size: must be an integer from 1 to {MAX_SIZE}")
        if version is not None and not isinstance(version, str):
            raise InvalidArgs("version: must be a string")
        spec = self.registry.instance_spec(uid, name, admin=admin)
        return self.ops.add(spec, size, version)

    @rpc
    def start_instance(self, uid, name, index, admin=False):
        return self.ops.start(self.managed(uid, name, admin)["id"], check_index(index))

    @rpc
    def stop_instance(self, uid, name, index, admin=False):
        return self.ops.stop(self.managed(uid, name, admin)["id"], check_index(index))

    @rpc
    def reboot_instance(self, uid, name, index, admin=False):
        return self.ops.reboot(self.managed(uid, name, admin)["id"], check_index(index))

    @rpc
    def delete_instance(self, uid, name, index, admin=False):
        self.ops.delete(self.managed(uid, name, admin)["id"], check_index(index))

    @rpc
    def switch_instance(self, uid, name, index, admin=False):
        spec = self.registry.instance_spec(uid, name, admin=admin)
        return self.ops.switch(spec, check_index(index))

    @rpc
    def endpoints(self, ufop_id):
        """Where the Running instances of a ufop answer: ``[{index, version, port}]``
        (the gateway's data plane routes to them)."""
        return self.ops.endpoints(ufop_id)

    @timer(interval=config.load().reconcile_interval, eager=True)
    def reconcile(self):
        """Bring Docker and the store into agreement (at start, then periodically)."""
        actions = self.ops.reconcile()
        for action in actions:
            if action.kind not in ("probe_ok", "probe_failed", "forgive"):
                log.info("reconcile: %s", action)

    @event_handler("registry", "ufop_deleted")
    def on_ufop_deleted(self, payload):
        """A deleted ufop loses every instance and container, whatever their state."""
        removed = self.ops.forget_ufop(payload["id"])
        log.info("ufop %s deleted: %d instances removed", payload["name"], removed)
