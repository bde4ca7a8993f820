"""Shipping every instance's stdout and stderr through the bus (SPEC §8: ``instance_log``).

A follower per running container and stream reads Docker's log (streaming, with timestamps)
from the stream's cursor; a publisher batches the lines (at most ``BATCH_LINES`` or
``BATCH_SECONDS``) into ``instance_log`` events and moves the cursor once the broker has
confirmed the batch. Each line is identified by (container, stream, timestamp, position among
lines of that timestamp), so a line read twice -- after a scheduler restart between a publish
and the cursor's save -- is stored once by the logs service: nothing lost, nothing doubled.
"""
import functools
import logging
import time
from collections import defaultdict
from datetime import datetime, timezone

import eventlet
from eventlet.queue import Empty, Queue
from ufop_common.events import stamp

from .models import LogCursor, database

log = logging.getLogger(__name__)

BATCH_LINES = 1000
BATCH_SECONDS = 0.2
SCAN_SECONDS = 1.0
STREAMS = ("stdout", "stderr")


def parse_ts(text):
    """Docker's RFC 3339 timestamp (nanoseconds, trailing zeros trimmed) -> ns since epoch."""
    main, _, frac = text.rstrip("Z").partition(".")
    return epoch_seconds(main) * 10**9 + int((frac + "000000000")[:9])


@functools.lru_cache(maxsize=256)
def epoch_seconds(main):
    """``YYYY-MM-DDTHH:MM:SS`` (UTC) -> seconds since the epoch. Cached: lines come many a
    second, and ``strptime`` was a third of the follower's time (``make bench``)."""
    seconds = datetime.strptime(main, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return int(seconds.timestamp())


def decode(ts_text, body):
    return parse_ts(ts_text.decode("ascii")), body.decode("utf-8", "replace")


class Follower:
    """Reads one stream of one container from its cursor and queues new lines."""

    def __init__(self, shipper, container, stream, cursor):
        self.shipper, self.container, self.stream = shipper, container, stream
        self.cursor = cursor  # (ts, n) already shipped or queued

    def lines(self, follow):
        since = max(self.cursor[0] // 10**9, 1)
        raw = self.shipper.client.api.logs(
            self.container.id, stdout=self.stream == "stdout",
            stderr=self.stream == "stderr", stream=True, follow=follow, timestamps=True,
            since=since)
        partial = None  # Docker splits long lines by bytes into frames stamped alike
        for frame in raw:
            ts_text, _, body = frame.partition(b" ")
            if partial is not None:
                if ts_text == partial[0]:
                    body = partial[1] + body
                else:  # a line without a newline: its container stopped after it
                    yield decode(*partial)
                partial = None
            if not body.endswith(b"\n"):
                partial = (ts_text, body)
                continue
            yield decode(ts_text, body[:-1])
        if partial is not None and not follow:  # the container's last output, no newline
            yield decode(*partial)

    def run(self):
        """Follow the stream until the container stops, then read it once more: Docker may
        end a follower's stream before the container's last output reaches it."""
        for follow in (True, False):
            last_ts, at_ts = None, 0
            for ts, line in self.lines(follow):
                at_ts = at_ts + 1 if ts == last_ts else 1
                last_ts = ts
                if (ts, at_ts) <= self.cursor:
                    continue  # shipped before
                self.cursor = (ts, at_ts)
                self.shipper.pending[self.container.id] += 1
                self.shipper.queue.put((self.container, self.stream, ts, at_ts, line))


class Shipper:
    def __init__(self, client, runtime, dispatch, container):
        self.client = client
        self.runtime = runtime
        self.dispatch = dispatch
        self.nameko = container
        self.queue = Queue()
        self.followers = {}  # (container id, stream) -> greenthread
        self.pending = defaultdict(int)  # container id -> lines queued, not yet confirmed

    def start(self):
        self.nameko.spawn_managed_thread(self.scan_forever, identifier="logs.scan")
        self.nameko.spawn_managed_thread(self.publish_forever, identifier="logs.publish")

    # -- following ---------------------------------------------------------------------
    def scan_forever(self):
        while True:
            try:
                self.scan()
            except Exception:
                log.exception("log shipping: scanning containers failed")
            eventlet.sleep(SCAN_SECONDS)

    def scan(self):
        running = [c for c in self.runtime.observe() if c.running and c.ufop_id > 0]
        if not running:
            return
        with database.connection_context():
            cursors = {(c.container_id, c.stream): (c.ts, c.n) for c in LogCursor.select()
                       .where(LogCursor.container_id.in_([c.id for c in running]))}
        for container in running:
            for stream in STREAMS:
                key = (container.id, stream)
                if key in self.followers and not self.followers[key].dead:
                    continue
                follower = Follower(self, container, stream, cursors.get(key, (0, 0)))
                self.followers[key] = eventlet.spawn(self._follow, follower)

    def _follow(self, follower):
        try:
            follower.run()
        except Exception as exc:  # the container went away; the next scan decides
            log.debug("log follower of %s/%s ended: %r", follower.container.id[:12],
                      follower.stream, exc)

    def following(self, container_id):
        return any(not gt.dead for (cid, _), gt in self.followers.items() if cid == container_id)

    def drain(self, container_id, timeout=5.0):
        """Wait until every line of a stopped container is shipped (before it is removed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.following(container_id) and self.pending[container_id] <= 0 \
                    and self.queue.empty():
                break
            eventlet.sleep(0.05)
        for key in [k for k in self.followers if k[0] == container_id]:
            self.followers.pop(key).kill()
        self.pending.pop(container_id, None)

    # -- publishing --------------------------------------------------------------------
    def publish_forever(self):
        while True:
            batch = self.collect()
            if batch:
                self.ship(batch)

    def collect(self):
        batch = []
        try:
            batch.append(self.queue.get(timeout=1.0))
        except Empty:
            return batch
        deadline = time.monotonic() + BATCH_SECONDS
        while len(batch) < BATCH_LINES:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(self.queue.get(timeout=remaining))
            except Empty:
                break
        return batch

    def ship(self, batch):
        by_container = defaultdict(list)
        for container, stream, ts, n, line in batch:
            by_container[container].append((stream, ts, n, line))
        for container, lines in by_container.items():
            payload = {"id": container.ufop_id, "name": container.name, "index": container.index,
                       "version": container.version, "container": container.id,
                       "lines": [{"stream": s, "ts": ts, "n": n, "line": line}
                                 for s, ts, n, line in lines]}
            while True:
                try:
                    self.dispatch("scheduler", "instance_log", stamp(payload))
                    break
                except Exception:
                    log.exception("log shipping: publishing failed; retrying")
                    eventlet.sleep(1.0)
            last = {}
            for stream, ts, n, _ in lines:
                last[stream] = max(last.get(stream, (0, 0)), (ts, n))
            with database.connection_context():
                for stream, (ts, n) in last.items():
                    (LogCursor.insert(container_id=container.id, stream=stream, ts=ts, n=n)
                     .on_conflict(conflict_target=[LogCursor.container_id, LogCursor.stream],
                                  update={LogCursor.ts: ts, LogCursor.n: n}).execute())
            self.pending[container.id] -= len(lines)

    def forget(self, container_ids):
        """Drop the cursors of removed containers. Called by workers, on their own open
        connection: a ``connection_context`` here would close it under the worker."""
        LogCursor.delete().where(LogCursor.container_id.in_(list(container_ids))).execute()
