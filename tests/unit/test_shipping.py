"""Log shipping without Docker or a broker: the follower on fake Docker log frames, the
publisher on a fake dispatch and a real scheduler store, and the logs service's line store
(issue 5: nothing lost, nothing doubled, retention)."""
import uuid
from collections import defaultdict
from datetime import datetime, timezone
from types import SimpleNamespace
from urllib.parse import urlparse, urlunparse

import eventlet
import psycopg2
import pytest

from logs import lines
from logs import models as logs_models
from scheduler import models as scheduler_models
from scheduler.reconcile import Observed
from scheduler.shipping import Follower, Shipper, parse_ts
from ufop_common.store import bind

SECOND = 10**9
T0 = 1_700_000_000  # 2023-11-14T22:13:20Z
CONTAINER = Observed("c" * 64, ufop_id=7, index=1, running=True, name="fileinfo",
                     version="v1")


def stamp(seconds, ns=0):
    """Docker's timestamp text for ``T0 + seconds`` and ``ns``, as the API writes it
    (nanoseconds with trailing zeros trimmed)."""
    main = datetime.fromtimestamp(T0 + seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{ns:09d}".rstrip("0")
    return f"{main}.{frac}Z" if frac else f"{main}Z"


def ns(seconds, ns=0):
    return (T0 + seconds) * SECOND + ns


def frame(seconds, ns_, text, end=b"\n"):
    if isinstance(text, str):
        text = text.encode()
    return stamp(seconds, ns_).encode() + b" " + text + end


# -- parse_ts ----------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("2023-11-14T22:13:20.123456789Z", ns(0, 123456789)),
    ("2023-11-14T22:13:20.5Z", ns(0, 500000000)),  # trailing zeros trimmed
    ("2023-11-14T22:13:20.05Z", ns(0, 50000000)),
    ("2023-11-14T22:13:20.000000001Z", ns(0, 1)),
    ("2023-11-14T22:13:20.100000000Z", ns(0, 100000000)),  # fixed width, as some daemons do
    ("2023-11-14T22:13:20Z", ns(0)),  # no fraction at all
    ("1970-01-01T00:00:01Z", SECOND),
])
def test_parse_ts_reads_nanoseconds_trimmed_or_not(text, expected):
    assert parse_ts(text) == expected


def test_parse_ts_keeps_the_order_of_the_texts():
    texts = [stamp(0), stamp(0, 1), stamp(0, 10), stamp(0, 100000000), stamp(0, 999999999),
             stamp(1), stamp(1, 5)]
    assert [parse_ts(t) for t in texts] == sorted(parse_ts(t) for t in texts)
    assert len({parse_ts(t) for t in texts}) == len(texts)


# -- the follower ------------------------------------------------------------------------
class FakeApi:
    """``client.api.logs``: the frames given (``streamed`` to a follower, all of them to a
    reader), as Docker would; records how it was asked."""

    def __init__(self, frames, streamed=None):
        self.frames, self.streamed = frames, frames if streamed is None else streamed
        self.asked = []

    def logs(self, container_id, **kwargs):
        self.asked.append(dict(kwargs, container=container_id))
        return iter(self.streamed if kwargs["follow"] else self.frames)


def follow(frames, cursor=(0, 0), stream="stdout", streamed=None):
    """Run a follower over ``frames`` from ``cursor``; the lines it queued and how it asked
    for the stream (it then reads once more, from where it got, not following)."""
    api = FakeApi(frames, streamed)
    queued = []
    shipper = SimpleNamespace(client=SimpleNamespace(api=api),
                              queue=SimpleNamespace(put=queued.append),
                              pending=defaultdict(int))
    follower = Follower(shipper, CONTAINER, stream, cursor)
    follower.run()
    asked, again = api.asked
    assert asked["follow"] is True and again["follow"] is False
    assert asked["since"] <= again["since"] <= max(follower.cursor[0] // SECOND, 1)
    assert {k: v for k, v in again.items() if k not in ("follow", "since")} == {
        k: v for k, v in asked.items() if k not in ("follow", "since")}
    assert shipper.pending == ({CONTAINER.id: len(queued)} if queued else {})
    return [(s, ts, n, line) for _c, s, ts, n, line in queued], asked


def test_a_new_stream_is_read_from_the_start_and_numbered_per_timestamp():
    frames = [frame(0, 1, "a"), frame(0, 2, "b"), frame(0, 2, "c"), frame(0, 2, "d"),
              frame(1, 0, "e"), frame(1, 7, ""), frame(1, 7, "g")]
    queued, asked = follow(frames)
    assert queued == [("stdout", ns(0, 1), 1, "a"), ("stdout", ns(0, 2), 1, "b"),
                      ("stdout", ns(0, 2), 2, "c"), ("stdout", ns(0, 2), 3, "d"),
                      ("stdout", ns(1), 1, "e"), ("stdout", ns(1, 7), 1, ""),
                      ("stdout", ns(1, 7), 2, "g")]
    assert asked["container"] == CONTAINER.id
    assert asked["stdout"] is True and asked["stderr"] is False
    assert asked["stream"] and asked["follow"] and asked["timestamps"]
    assert asked["since"] >= 1  # Docker's 0 would mean "no bound", which is what we want too


def test_the_stderr_follower_asks_for_stderr_only():
    queued, asked = follow([frame(0, 1, "oops")], stream="stderr")
    assert queued == [("stderr", ns(0, 1), 1, "oops")]
    assert asked["stderr"] is True and asked["stdout"] is False


def test_a_cursor_skips_exactly_the_lines_already_shipped():
    """Docker's ``since`` has whole seconds: the follower asks from the cursor's second and
    drops what it shipped before, by (timestamp, position among lines of that timestamp)."""
    frames = [frame(5, 100, "x1"),  # same second as the cursor, earlier
              frame(5, 200, "x2"), frame(5, 200, "x3"), frame(5, 200, "x4"),  # the cursor's ts
              frame(5, 300, "x5"), frame(6, 0, "x6")]
    queued, asked = follow(frames, cursor=(ns(5, 200), 2))
    assert asked["since"] == T0 + 5
    assert queued == [("stdout", ns(5, 200), 3, "x4"), ("stdout", ns(5, 300), 1, "x5"),
                      ("stdout", ns(6), 1, "x6")]


def test_a_cursor_at_the_last_line_queues_nothing_more():
    frames = [frame(5, 100, "x1"), frame(5, 200, "x2")]
    queued, _ = follow(frames, cursor=(ns(5, 200), 1))
    assert queued == []


def test_reading_again_from_a_saved_cursor_gives_each_line_once():
    frames = [frame(0, i * 1000 + (i % 3 == 0), f"line {i}") for i in range(1, 40)]
    frames[10:13] = [frame(0, 11000, "same a"), frame(0, 11000, "same b"),
                     frame(0, 11000, "same c")]
    everything, _ = follow(frames)
    for cut in range(len(everything)):
        _stream, ts, n, _line = everything[cut]
        rest, _ = follow(frames, cursor=(ts, n))
        assert rest == everything[cut + 1:], cut


def test_a_long_line_split_into_partial_frames_is_one_line():
    """Docker splits lines longer than 16 KiB into frames without a newline, each stamped
    with the line's timestamp."""
    first, middle, last = "a" * 16384, "b" * 16384, "c" * 100
    frames = [frame(0, 1, "before"), frame(0, 2, first, end=b""), frame(0, 2, middle, end=b""),
              frame(0, 2, last), frame(0, 5, "after")]
    queued, _ = follow(frames)
    assert queued == [("stdout", ns(0, 1), 1, "before"),
                      ("stdout", ns(0, 2), 1, first + middle + last),
                      ("stdout", ns(0, 5), 1, "after")]


def test_a_last_line_without_a_newline_is_kept():
    """A container that stops after ``printf "bye"``: Docker's last frame has no newline and
    nothing follows it."""
    queued, _ = follow([frame(0, 1, "first"), frame(0, 2, "bye", end=b"")])
    assert queued == [("stdout", ns(0, 1), 1, "first"), ("stdout", ns(0, 2), 1, "bye")]


def test_the_last_lines_are_read_after_the_stream_ends():
    """Docker may end a follower's stream when the container stops, before its last output
    (here a line without a newline) reached the stream: it is read once more."""
    frames = [frame(0, 1, "first"), frame(0, 2, "second"), frame(0, 2, "third"),
              frame(0, 3, "bye", end=b"")]
    for cut in range(len(frames) + 1):
        queued, _ = follow(frames, streamed=frames[:cut])
        assert queued == [("stdout", ns(0, 1), 1, "first"), ("stdout", ns(0, 2), 1, "second"),
                          ("stdout", ns(0, 2), 2, "third"), ("stdout", ns(0, 3), 1, "bye")], cut


def test_a_line_without_a_newline_then_a_restart_are_two_lines_each_shipped_once():
    """The pieces of one split line share its timestamp; a frame with another timestamp after
    a line without a newline starts a new line (the container was restarted)."""
    frames = [frame(0, 1, "first"), frame(0, 2, "bye", end=b""), frame(1, 5, "again"),
              frame(1, 6, "more")]
    everything, _ = follow(frames)
    assert everything == [("stdout", ns(0, 1), 1, "first"), ("stdout", ns(0, 2), 1, "bye"),
                          ("stdout", ns(1, 5), 1, "again"), ("stdout", ns(1, 6), 1, "more")]
    # shipped up to "bye" before the restart: the rest only
    rest, _ = follow(frames, cursor=(ns(0, 2), 1))
    assert rest == everything[2:]


def test_a_character_split_between_partial_frames_stays_whole():
    """Docker splits by bytes: a UTF-8 character may straddle two frames."""
    text = "é" * 3 + "日本"
    raw = text.encode()
    cut = 3  # inside the second "é"
    frames = [frame(0, 1, raw[:cut], end=b""), frame(0, 1, raw[cut:])]
    queued, _ = follow(frames)
    assert queued == [("stdout", ns(0, 1), 1, text)]


def test_bytes_that_are_not_utf8_do_not_stop_the_follower():
    queued, _ = follow([frame(0, 1, b"\xff\xfe bad"), frame(0, 2, "good")])
    assert [line for *_, line in queued] == ["\ufffd\ufffd bad", "good"]


# -- the publisher -----------------------------------------------------------------------
@pytest.fixture
def scheduler_store(tmp_path):
    database = bind(scheduler_models.database, f"sqlite:///{tmp_path / 'scheduler.db'}",
                    scheduler_models.MODELS)
    yield database
    database.close()


def cursors():
    with scheduler_models.database.connection_context():
        return {(c.container_id, c.stream): (c.ts, c.n)
                for c in scheduler_models.LogCursor.select()}


class FakeDispatch:
    """Records what was published and the cursors at that moment; fails ``failures`` times."""

    def __init__(self, failures=0):
        self.sent, self.cursors_seen, self.failures = [], [], failures

    def __call__(self, source, event_type, payload):
        self.cursors_seen.append(cursors())
        if self.failures:
            self.failures -= 1
            raise ConnectionError("broker down")
        self.sent.append((source, event_type, payload))


def shipper_with(dispatch, client=None, runtime=None):
    return Shipper(client, runtime, dispatch, None)


def queue_lines(shipper, container, stream, first, count, ns_step=1000):
    """Queue lines as a follower does."""
    for i in range(first, first + count):
        shipper.pending[container.id] += 1
        shipper.queue.put((container, stream, ns(0, i * ns_step), 1, f"{stream} {i}"))


def test_a_batch_is_published_then_the_cursor_moves(scheduler_store):
    dispatch = FakeDispatch()
    shipper = shipper_with(dispatch)
    queue_lines(shipper, CONTAINER, "stdout", 1, 3)
    queue_lines(shipper, CONTAINER, "stderr", 1, 2)
    batch = shipper.collect()
    assert len(batch) == 5 and shipper.pending[CONTAINER.id] == 5
    shipper.ship(batch)

    (source, event_type, payload), = dispatch.sent
    assert (source, event_type) == ("scheduler", "instance_log")
    assert {k: payload[k] for k in ("id", "name", "index", "version", "container")} == {
        "id": 7, "name": "fileinfo", "index": 1, "version": "v1", "container": CONTAINER.id}
    assert payload["eventId"] and payload["time"]
    assert payload["lines"] == (
        [{"stream": "stdout", "ts": ns(0, i * 1000), "n": 1, "line": f"stdout {i}"}
         for i in (1, 2, 3)]
        + [{"stream": "stderr", "ts": ns(0, i * 1000), "n": 1, "line": f"stderr {i}"}
           for i in (1, 2)])
    assert dispatch.cursors_seen == [{}]  # not moved before the broker took the batch
    assert cursors() == {(CONTAINER.id, "stdout"): (ns(0, 3000), 1),
                         (CONTAINER.id, "stderr"): (ns(0, 2000), 1)}
    assert shipper.pending[CONTAINER.id] == 0


def test_the_cursor_moves_forward_batch_after_batch(scheduler_store):
    dispatch = FakeDispatch()
    shipper = shipper_with(dispatch)
    for first in (1, 4):
        queue_lines(shipper, CONTAINER, "stdout", first, 3)
        shipper.ship(shipper.collect())
        assert cursors() == {(CONTAINER.id, "stdout"): (ns(0, (first + 2) * 1000), 1)}
    assert [len(p["lines"]) for _s, _t, p in dispatch.sent] == [3, 3]
    assert len({p["eventId"] for _s, _t, p in dispatch.sent}) == 2


def test_lines_of_two_containers_go_in_an_event_each(scheduler_store):
    other = Observed("d" * 64, ufop_id=8, index=2, running=True, name="other", version="v9")
    dispatch = FakeDispatch()
    shipper = shipper_with(dispatch)
    queue_lines(shipper, CONTAINER, "stdout", 1, 2)
    queue_lines(shipper, other, "stdout", 1, 1)
    shipper.ship(shipper.collect())
    by_container = {p["container"]: p for _s, _t, p in dispatch.sent}
    assert set(by_container) == {CONTAINER.id, other.id}
    assert (by_container[other.id]["id"], by_container[other.id]["index"],
            by_container[other.id]["version"]) == (8, 2, "v9")
    assert len(by_container[CONTAINER.id]["lines"]) == 2
    assert cursors() == {(CONTAINER.id, "stdout"): (ns(0, 2000), 1),
                         (other.id, "stdout"): (ns(0, 1000), 1)}


def test_a_failed_publish_is_retried_and_the_cursor_waits_for_it(scheduler_store, monkeypatch):
    naps = []
    monkeypatch.setattr("scheduler.shipping.eventlet.sleep", naps.append)
    dispatch = FakeDispatch(failures=2)
    shipper = shipper_with(dispatch)
    queue_lines(shipper, CONTAINER, "stdout", 1, 2)
    shipper.ship(shipper.collect())
    assert len(naps) == 2
    assert dispatch.cursors_seen == [{}, {}, {}]
    assert len(dispatch.sent) == 1 and len(dispatch.sent[0][2]["lines"]) == 2
    assert cursors() == {(CONTAINER.id, "stdout"): (ns(0, 2000), 1)}


def test_a_batch_is_bounded_in_size(scheduler_store, monkeypatch):
    monkeypatch.setattr("scheduler.shipping.BATCH_LINES", 10)
    shipper = shipper_with(FakeDispatch())
    queue_lines(shipper, CONTAINER, "stdout", 1, 25)
    assert [len(shipper.collect()) for _ in range(3)] == [10, 10, 5]
    assert shipper.collect() == []


class FakeRuntime:
    def __init__(self, containers):
        self.containers = containers

    def observe(self):
        return self.containers


class FakeClient:
    """Docker's logs per (container, stream): each follower gets the frames of its stream."""

    def __init__(self, frames):
        self.frames = frames
        self.api = self

    def logs(self, container_id, stdout, stderr, **_):
        return iter(self.frames[(container_id, "stdout" if stdout else "stderr")])


def test_after_a_restart_shipping_resumes_at_the_saved_cursors(scheduler_store):
    """A scheduler that stopped after shipping part of a log: a new shipper follows each
    stream from its cursor in the store, so the rest is shipped and nothing twice."""
    frames = {(CONTAINER.id, "stdout"): [frame(0, i, f"out {i}") for i in range(1, 7)],
              (CONTAINER.id, "stderr"): [frame(0, i, f"err {i}") for i in range(1, 4)]}
    stopped = Observed("e" * 64, ufop_id=7, index=2, running=False)
    dispatch = FakeDispatch()
    first = shipper_with(dispatch, FakeClient(frames), FakeRuntime([CONTAINER, stopped]))
    first.scan()
    eventlet.sleep(0)  # the followers run
    batch = first.collect()
    assert len(batch) == 9
    first.ship(batch[:4])  # out 1-4 shipped, then the scheduler stops
    assert cursors() == {(CONTAINER.id, "stdout"): (ns(0, 4), 1)}

    second = shipper_with(dispatch, FakeClient(frames), FakeRuntime([CONTAINER, stopped]))
    second.scan()
    eventlet.sleep(0)
    second.ship(second.collect())
    shipped = [(line["stream"], line["line"]) for _s, _t, p in dispatch.sent
               for line in p["lines"]]
    assert sorted(shipped) == sorted([("stdout", f"out {i}") for i in range(1, 7)]
                                     + [("stderr", f"err {i}") for i in range(1, 4)])
    assert cursors() == {(CONTAINER.id, "stdout"): (ns(0, 6), 1),
                         (CONTAINER.id, "stderr"): (ns(0, 3), 1)}
    assert not any(key[0] == stopped.id for key in second.followers)


def test_drain_waits_until_the_last_lines_are_shipped(scheduler_store):
    frames = {(CONTAINER.id, "stdout"): [frame(0, i, f"out {i}") for i in range(1, 4)],
              (CONTAINER.id, "stderr"): []}
    dispatch = FakeDispatch()
    shipper = shipper_with(dispatch, FakeClient(frames), FakeRuntime([CONTAINER]))
    shipper.scan()
    publisher = eventlet.spawn(lambda: shipper.ship(shipper.collect()))
    shipper.drain(CONTAINER.id, timeout=10)
    assert publisher.dead
    assert [line["line"] for line in dispatch.sent[0][2]["lines"]] == ["out 1", "out 2",
                                                                        "out 3"]
    assert not shipper.followers and CONTAINER.id not in shipper.pending


# -- the logs service's line store ---------------------------------------------------------
@pytest.fixture(scope="module")
def pg_lines_url(pg_url):
    """A PostgreSQL database of this module only, dropped at the end."""
    name = "ufop_lines_" + uuid.uuid4().hex[:10]
    admin = psycopg2.connect(pg_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    yield urlunparse(urlparse(pg_url)._replace(path="/" + name))
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
def line_store(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'logs.db'}"
    else:
        url = request.getfixturevalue("pg_lines_url")
    database = bind(logs_models.database, url, logs_models.MODELS)
    database.connect(reuse_if_open=True)
    logs_models.InstanceLine.delete().execute()
    yield database
    database.close()


def batch(numbers, stream="stdout", ufop_id=7, index=1, container="c1", version="v1",
          n=1):
    return {"id": ufop_id, "name": "fileinfo", "index": index, "version": version,
            "container": container,
            "lines": [{"stream": stream, "ts": ns(0, i), "n": n, "line": f"{stream} {i}"}
                      for i in numbers]}


def texts(ufop_id=7, index=1, count=100000, since=None):
    return [line["line"] for line in lines.tail(ufop_id, index, count, since)]


def test_a_batch_shipped_twice_is_stored_once(line_store):
    lines.store(batch(range(1, 6)), retention=1000)
    lines.store(batch(range(1, 6)), retention=1000)
    lines.store(batch(range(4, 9)), retention=1000)  # overlaps the first
    assert texts() == [f"stdout {i}" for i in range(1, 9)]
    assert logs_models.InstanceLine.select().count() == 8


def test_lines_are_told_apart_by_container_stream_and_position(line_store):
    lines.store(batch([1], stream="stdout"), retention=1000)
    lines.store(batch([1], stream="stderr"), retention=1000)
    lines.store(batch([1], container="c2"), retention=1000)
    lines.store(batch([1], n=2), retention=1000)  # same timestamp, the next line
    assert logs_models.InstanceLine.select().count() == 4


def test_retention_keeps_the_newest_lines_of_each_instance(line_store):
    lines.store(batch(range(1, 8)), retention=5)
    assert texts() == [f"stdout {i}" for i in range(3, 8)]
    lines.store(batch(range(8, 10)), retention=5)
    assert texts() == [f"stdout {i}" for i in range(5, 10)]
    lines.store(batch(range(1, 4), index=2), retention=5)  # another instance: its own bound
    assert texts(index=2) == ["stdout 1", "stdout 2", "stdout 3"]
    assert texts() == [f"stdout {i}" for i in range(5, 10)]
    lines.store(batch(range(1, 500)), retention=5)  # a batch larger than the bound
    assert len(texts()) == 5


def test_retention_holds_when_instances_take_turns(line_store):
    """Lines of two instances stored alternately: their ids interleave."""
    for i in range(1, 21):
        lines.store(batch([i], index=1), retention=3)
        lines.store(batch([i], index=2, container="c2"), retention=4)
    assert texts(index=1) == ["stdout 18", "stdout 19", "stdout 20"]
    assert texts(index=2) == ["stdout 17", "stdout 18", "stdout 19", "stdout 20"]
    assert logs_models.InstanceLine.select().count() == 7


def test_a_batch_larger_than_one_insert_is_stored_whole(line_store):
    count = lines.INSERT_CHUNK * 3 + 7
    lines.store(batch(range(1, count + 1)), retention=100000)
    assert texts() == [f"stdout {i}" for i in range(1, count + 1)]


def test_tail_and_since(line_store):
    lines.store(batch(range(1, 11)), retention=1000)
    assert texts(count=3) == ["stdout 8", "stdout 9", "stdout 10"]
    assert texts(count=0) == []
    assert texts(since=ns(0, 7)) == ["stdout 7", "stdout 8", "stdout 9", "stdout 10"]
    assert texts(since=ns(0, 7), count=2) == ["stdout 9", "stdout 10"]
    assert texts(since=ns(1)) == []
    newest = lines.newest_id(7, 1)
    assert [r["line"] for r in lines.after(7, 1, newest - 2)] == ["stdout 9", "stdout 10"]
    assert lines.after(7, 1, newest) == [] and lines.newest_id(7, 9) == 0


def test_purge_drops_only_that_ufop(line_store):
    lines.store(batch(range(1, 4)), retention=1000)
    lines.store(batch(range(1, 4), ufop_id=8, container="c8"), retention=1000)
    lines.purge(7)
    assert texts() == [] and len(texts(ufop_id=8)) == 3
