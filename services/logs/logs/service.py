"""The logs service: the audit trail of every domain event (SPEC §8)."""
from nameko.events import event_handler
from ufop_common.rpc import rpc

from ufop_common.errors import InvalidArgs
from ufop_common.store import Store

from . import audit
from .models import MODELS, database


def _auditor(source, event_type):
    @event_handler(source, event_type)
    def handle(self, payload):
        audit.record(event_type, payload)

    handle.__name__ = f"on_{event_type}"
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


for _source, _event_type in audit.AUDITED:
    setattr(LogsService, f"on_{_event_type}", _auditor(_source, _event_type))
