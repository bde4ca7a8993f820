"""The logs service: the audit trail of every domain event and the build logs (SPEC §8)."""
from nameko.events import event_handler

from ufop_common import config
from ufop_common.errors import InvalidArgs
from ufop_common.rpc import rpc
from ufop_common.store import Store

from . import audit, buildlogs, lines
from .models import MODELS, database


def check_int(name, value, low, high):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidArgs(f"{name}: must be an integer from {low} to {high}")
    return value


def _auditor(source, event_type):
    @event_handler(source, event_type)
    def handle(self, payload):
        audit.record(event_type, payload)

    handle.__name__ = f"audit_{event_type}"
    return handle


class LogsService:
    name = "logs"

    db = Store("logs", database, MODELS)

    def __init__(self):
        self.settings = config.load()

    @rpc
    def ping(self):
        return "pong"

    @rpc
    def list_events(self, ufop_id, limit=100):
        """The audit trail of one ufop (by internal id), newest first."""
        return audit.trail(ufop_id, check_int("limit", limit, 1, 1000))

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

    @rpc
    def instance_log(self, ufop_id, index, tail=100, since=None):
        """``{"lines", "cursor", "known"}``: the last ``tail`` lines of an instance (at or
        after ``since``, ns since the epoch) as ``{id, time, stream, version, line}``;
        ``cursor`` is where ``follow`` goes on; ``known`` whether it ever logged."""
        check_int("tail", tail, 0, 100000)
        if since is not None:
            check_int("since", since, 0, 2**63 - 1)
        cursor = lines.newest_id(ufop_id, index)
        return {"lines": lines.tail(ufop_id, index, tail, since), "cursor": cursor,
                "known": cursor > 0}

    @rpc
    def instance_log_after(self, ufop_id, index, cursor, limit=1000):
        """Lines stored after ``cursor`` (a row id), for ``follow``."""
        return lines.after(ufop_id, index, cursor, check_int("limit", limit, 1, 10000))

    @event_handler("scheduler", "instance_log")
    def on_instance_log(self, payload):
        lines.store(payload, self.settings.log_retention_lines)

    @event_handler("registry", "ufop_deleted")
    def on_ufop_deleted(self, payload):
        """Deleting a ufop purges its logs; the audit trail stays (it is the audit)."""
        buildlogs.purge(payload["id"])
        lines.purge(payload["id"])


for _source, _event_type in audit.AUDITED:
    setattr(LogsService, f"audit_{_event_type}", _auditor(_source, _event_type))
