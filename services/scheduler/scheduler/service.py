"""The scheduler: instances of ufops as Docker containers (SPEC §4, §6, §9)."""
import logging

from nameko.events import event_handler
from ufop_common.rpc import rpc

from ufop_common.store import Store

from .models import MODELS, Instance, database

log = logging.getLogger(__name__)


class SchedulerService:
    name = "scheduler"

    db = Store("scheduler", database, MODELS)

    @rpc
    def ping(self):
        return "pong"

    @event_handler("registry", "ufop_deleted")
    def on_ufop_deleted(self, payload):
        """A deleted ufop loses every instance record (its containers go with them)."""
        removed = Instance.delete().where(Instance.ufop_id == payload["id"]).execute()
        log.info("ufop %s deleted: %d instance records removed", payload["name"], removed)
