"""An outside service: an auditor of new ufops, written against the platform's public bus API.

It is not part of the platform and imports none of its code: it talks to it the way any
nameko service on the same RabbitMQ may (docs/events.md, docs/rpc.md). On each
``ufop_registered`` event of the registry it asks the registry for the ufop's detail, as the
ufop's owner, and records the event and the detail as one JSON line -- appended to the file
named by ``AUDIT_LISTENER_OUT``, or printed when that is unset.
"""
import json
import logging
import os
import sys

import eventlet
from nameko.events import event_handler
from nameko.exceptions import RemoteError
from nameko.rpc import RpcProxy

log = logging.getLogger(__name__)

#: nameko's RpcProxy waits for a reply forever; an auditor should not hang on a stopped registry
RPC_TIMEOUT = float(os.environ.get("AUDIT_LISTENER_RPC_TIMEOUT", "10"))


class AuditListener:
    name = "audit_listener"

    registry = RpcProxy("registry")

    @event_handler("registry", "ufop_registered")
    def on_ufop_registered(self, payload):
        """Fetch the new ufop's detail with its owner's rights and record it."""
        record = {"event": payload}
        try:
            with eventlet.Timeout(RPC_TIMEOUT):
                record["detail"] = self.registry.get_ufop(payload["owner"], payload["name"])
        except RemoteError as exc:  # e.g. UfopNotfound: deleted again before we asked
            record["error"] = {"name": exc.exc_type, "message": exc.value}
        except eventlet.Timeout:
            record["error"] = {"name": "Timeout",
                               "message": f"the registry did not answer in {RPC_TIMEOUT:g} s"}
        write(record)
        log.info("ufop %s registered by %s (%s)", payload["name"], payload["by"],
                 "detail fetched" if "detail" in record else record["error"]["name"])


def write(record):
    line = json.dumps(record, sort_keys=True) + "\n"
    path = os.environ.get("AUDIT_LISTENER_OUT")
    if not path:
        sys.stdout.write(line)
        sys.stdout.flush()
        return
    with open(path, "a", encoding="utf-8") as out:
        out.write(line)
