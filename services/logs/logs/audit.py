"""The audit trail: every domain event about a ufop, kept once (delivery is at-least-once)."""
import json
from datetime import datetime

from peewee import IntegrityError

from .models import AuditEvent, database

#: (source service, event type) pairs the logs service records (SPEC §8)
AUDITED = (
    ("registry", "ufop_registered"),
    ("registry", "ufop_updated"),
    ("registry", "ufop_deleted"),
    ("registry", "version_building"),
    ("registry", "version_built"),
    ("registry", "current_version_changed"),
    ("scheduler", "instance_added"),
    ("scheduler", "instance_state_changed"),
    ("scheduler", "instance_deleted"),
)

HIDDEN = ("eventId", "time", "id", "log")


def parse_time(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")


def record(event_type, payload):
    """Store one event; a redelivered one (same ``eventId``) is ignored."""
    detail = {k: v for k, v in payload.items() if k not in HIDDEN}
    try:
        with database.atomic():
            AuditEvent.create(event_id=payload["eventId"], ufop_id=payload["id"],
                              ufop_name=payload["name"], type=event_type,
                              time=parse_time(payload["time"]),
                              detail=json.dumps(detail, sort_keys=True))
    except IntegrityError:
        pass


def trail(ufop_id, limit):
    """The newest ``limit`` events of a ufop, newest first."""
    rows = (AuditEvent.select().where(AuditEvent.ufop_id == ufop_id)
            .order_by(AuditEvent.time.desc(), AuditEvent.id.desc()).limit(limit))
    return [{"time": r.time.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "type": r.type,
             "detail": json.loads(r.detail)} for r in rows]
