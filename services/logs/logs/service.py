"""The logs service: the audit trail of every domain event and the build logs (SPEC §8)."""
from nameko.events import event_handler

from ufop_common.errors import InvalidArgs
from ufop_common.rpc import rpc
from ufop_common.store import Store

from . import audit, buildlogs
from .models import MODELS, database


def _auditor(source, event_type):
    @event_handler(source, event_type)
    def handle(self, payload):
        audit.record(event_type, payload)

    handle.__name__ = f"audit_{event_type}"
    return handle


class LogsService:
    name = "logs"

    db = Store("logs", database, MODELS)

    @rpc
    def ping(self):
        return "pong"

    @rpc
    def list_events(self, ufop_id, limit=100):
        """The audit trail of one ufop (by internal id), newest first."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise InvalidArgs("limit: must be an integer from 1 to 1000")
        return audit.trail(ufop_id, limit)

    @rpc
    def build_log(self, ufop_id, version):
        """The output of the latest build of a version: ``{"log": text}``."""
        return {"log": buildlogs.read(ufop_id, version)}

    @event_handler("registry", "version_building")
    def on_version_building(self, payload):
        buildlogs.store(payload, "building", "")

    @event_handler("registry", "version_built")
    def on_version_built(self, payload):
        buildlogs.store(payload, payload["state"], payload.get("log", ""))

    @event_handler("registry", "ufop_deleted")
    def on_ufop_deleted(self, payload):
        """Deleting a ufop purges its logs; the audit trail stays (it is the audit)."""
        buildlogs.purge(payload["id"])


for _source, _event_type in audit.AUDITED:
    setattr(LogsService, f"audit_{_event_type}", _auditor(_source, _event_type))
