"""``make bench``: a ufop that writes log lines as fast as it can for 10 s (issue 5, Performance).

Starts a fresh platform -- ``ufop_common.launcher.Stack`` on its own data directory under
``$UFOP_DATA_DIR/bench-logs``, a free port and a RabbitMQ vhost of its own, with
``UFOP_LOG_RETENTION_LINES`` high enough to keep every line -- and runs one instance of a ufop
built ``FROM scratch`` with the static busybox. Its shell script serves the instance contract
(``nc -ll``) and, once told to go (any data-plane call), writes ``line <i>`` on stdout in a
tight loop for ``--seconds``, then ``TOTAL <n>`` and idles.

The bench calls the ufop through the gateway to start the writer, then waits until the stored
log holds the ``TOTAL`` line and its count has stopped growing. The log endpoint answers at most
100,000 lines (``tail``), fewer than the writer makes, so the count, the numbers and the
timestamps are read from the logs service's store (the SQLite file of this platform); the
endpoint's own answer is checked against it for its last 100,000 lines.

Prints lines written vs. stored, numbers missing or doubled, and lines/s stored: over the span
the lines were written (first to last Docker timestamp) and over the wall time from the first
line written to the last stored. Target: at least 5,000 lines/s with no loss.
"""
import argparse
import re
import sqlite3
import sys
import time
from collections import Counter
from pathlib import Path

import docker
import requests

from harness import (Vhost, build_context, call, close_run_dir, fresh_run_dir, remove_images, say,
                     signed, start_platform, wait_built)

BUSYBOX = Path("/bin/busybox")
UFOP_NAME = "benchlogs"
TARGET_RATE = 5000
RETENTION = 5_000_000  # keeps every line of the run
SETTLED = 3.0  # seconds without a new line stored after TOTAL: the pipeline is done
DEADLINE = 900  # seconds; catches a hang, never part of a figure
TAIL_MAX = 100000  # the log endpoint's largest tail

DOCKERFILE = b"""\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN mkdir -p /tmp && chmod 1777 /tmp
COPY writer.sh handler.sh /ufop/
CMD ["/bin/sh", "/ufop/writer.sh"]
"""

WRITER = b"""\
#!/bin/sh
# Serve 9100; once /tmp/go exists (a data-plane call made it), write "line <i>" as fast as
# the shell can for UFOP_CONFIGURATION seconds, then "TOTAL <n>"; then idle.
trap 'exit 0' TERM
nc -ll -p 9100 -e /bin/sh /ufop/handler.sh &
while [ ! -e /tmp/go ]; do sleep 0.05; done
(sleep "${UFOP_CONFIGURATION:-10}"; touch /tmp/stop) &
i=0
while [ ! -e /tmp/stop ]; do
  echo "line $i"
  i=$((i + 1))
done
echo "TOTAL $i"
while :; do sleep 1; done
"""

HANDLER = b"""\
#!/bin/sh
# One HTTP request per connection: 200 to anything; a request other than /health says go.
CR=$(printf '\\r')
read -r method target _proto || exit 0
while IFS= read -r line; do
  line=${line%"$CR"}
  [ -z "$line" ] && break
done
[ "$target" = /health ] || touch /tmp/go
printf 'HTTP/1.1 200 OK\\r\\nContent-Type: text/plain\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\nok'
"""

LINE_RE = re.compile(r"^line (\d+)$")
TOTAL_RE = re.compile(r"^TOTAL (\d+)$")


def context():
    return build_context((("Dockerfile", DOCKERFILE, 0o644), ("writer.sh", WRITER, 0o755),
                          ("handler.sh", HANDLER, 0o755),
                          ("busybox", BUSYBOX.read_bytes(), 0o755)))


def upload(stack, version, body):
    path = f"/api/images?ufop={UFOP_NAME}&version={version}"
    answer = requests.post(stack.gateway_url + path, data=body, timeout=300,
                           headers=signed(stack, "POST", path, "application/octet-stream"))
    if answer.status_code != 200:
        raise RuntimeError(f"upload: {answer.status_code} {answer.text}")


class Store:
    """The logs service's store, read-only: what was stored, as it stands."""

    def __init__(self, path):
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)

    def count(self):
        return self.db.execute("SELECT count(*) FROM instanceline").fetchone()[0]

    def has_total(self):
        return self.db.execute("SELECT 1 FROM instanceline WHERE line LIKE 'TOTAL %' "
                               "LIMIT 1").fetchone() is not None

    def lines(self):
        """``[(ts, stream, line)]`` in the order the log endpoint gives them."""
        return self.db.execute("SELECT ts, stream, line FROM instanceline "
                               "ORDER BY ts, id").fetchall()


def wait_settled(store):
    """Poll until the TOTAL line is stored and the count has not grown for SETTLED seconds;
    returns (count, wall time of the last growth) and prints progress."""
    end = time.monotonic() + DEADLINE
    last, grew_at, said = -1, time.time(), 0.0
    while time.monotonic() < end:
        count = store.count()
        now = time.time()
        if count != last:
            last, grew_at = count, now
        elif store.has_total() and now - grew_at >= SETTLED:
            return count, grew_at
        if now - said >= 5:
            say(f"{count} lines stored")
            said = now
        time.sleep(0.1)
    raise RuntimeError(f"the stored count did not settle within {DEADLINE} s (at {last})")


def clean_up(stack):
    """Delete the ufop (its container and image go with it), stop the platform, then remove
    by force whatever of it is left."""
    try:
        call(stack, "DELETE", f"/api/ufops/{UFOP_NAME}")
    except (RuntimeError, requests.RequestException) as exc:
        say(f"deleting the ufop: {exc}")
    stack.stop()
    client = docker.from_env()
    platform_id = (stack.data_dir / "platform-id").read_text().strip()
    for container in client.api.containers(all=True, filters={
            "label": f"ufop.platform={platform_id}"}):
        client.api.remove_container(container["Id"], force=True)
    client.close()
    remove_images(f"ufop/{UFOP_NAME}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="how long the ufop writes")
    parser.add_argument("--keep", action="store_true", help="keep the run's directory")
    args = parser.parse_args()
    if not BUSYBOX.is_file():
        sys.exit("bench: Debian's busybox-static is needed (/bin/busybox)")

    run_dir = fresh_run_dir("bench-logs")

    ok = False
    with Vhost() as vhost:
        stack = None
        try:
            say(f"starting a platform (vhost {vhost.name or 'as given'}, data in {run_dir})")
            stack = start_platform(run_dir / "platform", vhost.uri,
                                   UFOP_LOG_RETENTION_LINES=RETENTION)
            stack.wait_healthy(90)
            call(stack, "POST", "/api/ufops", f'{{"name": "{UFOP_NAME}", "aclMode": "PUBLIC", '
                                              f'"configuration": "{args.seconds}"}}')
            say("building the writer ufop")
            upload(stack, "v1", context())
            state = wait_built(stack, UFOP_NAME, "v1", DEADLINE, 0.5)
            if state != "build success":
                output = call(stack, "GET", f"/api/ufops/{UFOP_NAME}/versions/v1/log")
                raise RuntimeError(f"build: {state}: {output}")
            call(stack, "PUT", f"/api/ufops/{UFOP_NAME}", '{"version": "v1"}')
            added = call(stack, "POST", f"/api/ufops/{UFOP_NAME}/instances", '{"size": 1}')
            if [i["state"] for i in added] != ["Running"]:
                raise RuntimeError(f"instance: {added}")

            store = Store(stack.data_dir / "logs.db")
            say(f"go: the ufop writes for {args.seconds} s")
            went = time.time()
            answer = requests.get(f"{stack.gateway_url}/ufop/{UFOP_NAME}/go", timeout=60)
            if answer.status_code != 200:
                raise RuntimeError(f"go: {answer.status_code} {answer.text}")
            _count, settled_at = wait_settled(store)

            rows = store.lines()
            numbers, numbered = Counter(), []
            written, others = None, 0
            for row in rows:
                if (match := LINE_RE.match(row[2])):
                    numbers[int(match[1])] += 1
                    numbered.append(row)
                elif (match := TOTAL_RE.match(row[2])):
                    written = int(match[1])
                else:
                    others += 1
            missing = sum(1 for i in range(written) if i not in numbers)
            doubled = sum(n - 1 for n in numbers.values() if n > 1)
            beyond = sum(1 for i in numbers if i >= written)
            first_ts, last_ts = numbered[0][0], numbered[-1][0]
            span = (last_ts - first_ts) / 1e9
            wall = settled_at - first_ts / 1e9
            stored_lines = sum(numbers.values())

            # the endpoint's view of the newest lines matches the store
            path = f"/api/ufops/{UFOP_NAME}/instances/1/log?tail={TAIL_MAX}"
            answer = requests.get(stack.gateway_url + path, headers=signed(stack, "GET", path),
                                  timeout=120)
            if answer.status_code != 200:
                raise RuntimeError(f"log: {answer.status_code} {answer.text[:200]}")
            tail = answer.json()["data"]["log"].split("\n")
            tail_matches = tail == [line for _ts, _s, line in rows[-TAIL_MAX:]]

            lossless = missing == 0 and doubled == 0 and beyond == 0
            rate = stored_lines / wall
            met = lossless and rate >= TARGET_RATE
            print()
            print(f"make bench -- log lines of a ufop writing as fast as it can for "
                  f"{args.seconds} s (busybox sh, stdout), one instance, SQLite stores")
            print(f"written:  {written} lines ({written / span:,.0f} lines/s over the "
                  f"{span:.2f} s between the first and last Docker timestamps)")
            print(f"stored:   {stored_lines} numbered lines + TOTAL + {others} other; "
                  f"missing {missing}, doubled {doubled}, unknown {beyond}")
            print(f"lines/s stored: {stored_lines / span:,.0f} over the writing span; "
                  f"{rate:,.0f} over the wall time ({wall:.1f} s from the first line written "
                  f"to the last stored, {settled_at - last_ts / 1e9:.1f} s after the last "
                  f"written; the first written {first_ts / 1e9 - went:.2f} s after 'go')")
            print(f"log endpoint, tail={TAIL_MAX}: "
                  f"{'the same lines as the store' if tail_matches else 'DIFFERS from the store'}")
            print(f"target >= {TARGET_RATE} lines/s with no loss: "
                  f"{'met' if met else 'MISSED'}", flush=True)
            ok = tail_matches and lossless
        except KeyboardInterrupt:
            return 130
        finally:
            if stack is not None:
                clean_up(stack)
            close_run_dir(run_dir, ok and not args.keep)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
