"""``follow`` mode of an instance's log: NDJSON lines as they arrive (like OpenFaaS's
``/system/logs?follow=true``)."""
import json
import time

import eventlet

from ufop_common.errors import UfopError

FOLLOW_POLL = 0.25
FOLLOW_HEARTBEAT = 15.0
FOLLOW_MAX = 6 * 3600.0


def follow_log(logs, ufop_id, index, answer):
    """NDJSON lines: the tail, then every new line, until the client leaves (a write fails)
    or FOLLOW_MAX passes. A blank line every FOLLOW_HEARTBEAT seconds notices a client gone."""
    def encode(line):
        return (json.dumps({"time": iso_ns(line["time"]), "stream": line["stream"],
                            "version": line["version"], "line": line["line"]},
                           ensure_ascii=False) + "\n").encode()

    for line in answer["lines"]:
        yield encode(line)
    cursor, quiet, started = answer["cursor"], 0.0, time.monotonic()
    while time.monotonic() - started < FOLLOW_MAX:
        try:
            new = logs.instance_log_after(ufop_id, index, cursor)
        except UfopError as exc:
            yield (json.dumps({"error": exc.name, "message": exc.message}) + "\n").encode()
            return
        for line in new:
            cursor = line["id"]
            yield encode(line)
        if new:
            quiet = 0.0
            continue
        eventlet.sleep(FOLLOW_POLL)
        quiet += FOLLOW_POLL
        if quiet >= FOLLOW_HEARTBEAT:
            quiet = 0.0
            yield b"\n"


def iso_ns(ns):
    seconds, frac = divmod(ns, 10**9)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{frac:09d}Z"
