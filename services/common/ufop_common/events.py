"""Domain events (SPEC §8): nameko events whose payloads are plain JSON dicts.

Every payload carries ``eventId`` (subscribers drop duplicates, since delivery is
at-least-once) and ``time`` (RFC 3339, UTC), besides the ufop's name and internal id.
"""
import uuid

from nameko.events import EventDispatcher

from .timefmt import iso, utcnow


def stamp(payload):
    return dict(payload, eventId=uuid.uuid4().hex, time=iso(utcnow()))


class Events(EventDispatcher):
    """``self.events("ufop_registered", {...})`` publishes a stamped event."""

    def get_dependency(self, worker_ctx):
        dispatch = super().get_dependency(worker_ctx)

        def publish(event_type, payload):
            dispatch(event_type, stamp(payload))

        return publish
