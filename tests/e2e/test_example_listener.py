"""examples/audit_listener, an outside nameko service, against the real platform.

It runs as its own ``nameko run`` process on the platform's vhost, with the platform's nameko
configuration, and must see a registration made through HTTP and fetch its detail over RPC.
"""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest
from support import assert_ok, new_name, wait_for

from ufop_common.launcher import NAMEKO_CONFIG

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "audit_listener"
NAMEKO = Path(sys.executable).with_name("nameko")
QUEUE = "evt-registry-ufop_registered--audit_listener.on_ufop_registered"


@pytest.fixture
def listener(platform, rabbit_manager, tmp_path):
    """The example running against ``platform``; yields the file it writes its lines to."""
    amqp_uri = platform.stack.env["UFOP_AMQP_URI"]
    out = tmp_path / "audit.jsonl"
    log = open(tmp_path / "listener.log", "wb")
    proc = subprocess.Popen([str(NAMEKO), "run", "--config", str(NAMEKO_CONFIG), "audit_listener"],
                            cwd=EXAMPLE, stdout=log, stderr=subprocess.STDOUT,
                            env=dict(os.environ, UFOP_AMQP_URI=amqp_uri,
                                     AUDIT_LISTENER_OUT=str(out)))
    vhost = urlparse(amqp_uri).path[1:]

    def subscribed():
        assert proc.poll() is None, (tmp_path / "listener.log").read_text()
        try:
            bindings = rabbit_manager.get_queue_bindings(vhost, QUEUE)
        except Exception:  # not declared yet
            return False
        return any(b["source"] == "registry.events" for b in bindings)

    try:
        wait_for(subscribed, timeout=30, interval=0.2)
        yield out
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def lines_of(path):
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_listener_sees_a_registration_and_fetches_the_detail(platform, listener):
    owner = platform.new_account()
    name = new_name("audit")
    created = assert_ok(owner.post("/api/ufops", json={"name": name, "aclMode": "PRIVATE",
                                                       "desc": "seen by the auditor"}))

    def seen():
        return [r for r in lines_of(listener) if r["event"]["name"] == name]

    (record,) = wait_for(seen, timeout=20)
    event = record["event"]
    assert event["owner"] == owner.uid and event["by"] == owner.uid
    assert isinstance(event["id"], int) and event["eventId"] and event["time"]
    # fetched over RPC with the owner's uid: a PRIVATE ufop is visible to its owner only
    assert "error" not in record, record
    assert record["detail"] == created
    assert record["detail"]["description"] == "seen by the auditor"
