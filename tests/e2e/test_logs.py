"""Instance logs through HTTP, with real Docker and RabbitMQ (SPEC §4 endpoint 14, §8; issue 5).

The ufops here run a busybox shell script that writes numbered lines -- ``out <version> <run>
<i>`` on stdout, ``err <version> <run> <i>`` on stderr, ``<count>`` of each (0: forever), then
``done <version> <run> <count>`` -- logs each data-plane call on stderr as ``req <method>
<target>`` and, stopped, says ``bye <version> <run>`` without a newline (the last line of a
container need not end with one). ``<run>`` counts the starts of the container, so a line never
repeats. Docker's own
log of each container is the truth the stored log is compared with: equal, stream by stream,
means no line lost and none doubled.

Every ufop made here is deleted at the end of its test (the registry removes its images, the
scheduler its containers); anything of it still there afterwards is removed by force.
"""
import json
import re
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from scheduler.shipping import parse_ts

from support import assert_ok, refused, tar_gz, upload_built, wait_for

BUSYBOX = Path("/bin/busybox")
STREAMS = ("stdout", "stderr")

BUILD_DEADLINE = 180  # seconds; every deadline here only catches a hang
SHIP_DEADLINE = 60
ACTION_TIMEOUT = 120

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
# UFOP_CONFIGURATION = "<count> <pause>": <count> numbered lines on stdout and on stderr
# (0: forever), <pause> seconds apart, then a "done" line; then it idles, serving 9100.
# Stopped, it says "bye" without a newline.
nc -ll -p 9100 -e /bin/sh /ufop/handler.sh &
run=$(($(cat /tmp/run 2>/dev/null || echo 0) + 1))
echo "$run" > /tmp/run
trap 'printf "bye %s %s" "$UFOP_VERSION" "$run"; exit 0' TERM
set -- $UFOP_CONFIGURATION
count=${1:-0}
pause=${2:-0.05}
i=0
while [ "$count" -eq 0 ] || [ "$i" -lt "$count" ]; do
  echo "out $UFOP_VERSION $run $i"
  echo "err $UFOP_VERSION $run $i" >&2
  i=$((i + 1))
  sleep "$pause"
done
echo "done $UFOP_VERSION $run $i"
while :; do sleep 1; done
"""

HANDLER = b"""\
#!/bin/sh
# One HTTP request per connection (nc -ll -e): 200 "ok" to anything; every request but the
# health probes is logged on stderr as "req <method> <target>".
CR=$(printf '\\r')
read -r method target _proto || exit 0
while IFS= read -r line; do
  line=${line%"$CR"}
  [ -z "$line" ] && break
done
[ "$target" = /health ] || echo "req $method $target" >&2
printf 'HTTP/1.1 200 OK\\r\\nContent-Type: text/plain\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\nok'
"""

LINE_RE = re.compile(r"^(out|err) (\S+) (\d+) (\d+)$")
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")  # follow's "time"


def writer_context():
    assert BUSYBOX.is_file(), "Debian's busybox-static is needed (make test installs it)"
    return tar_gz({"Dockerfile": (DOCKERFILE, 0o644), "writer.sh": (WRITER, 0o755),
                   "handler.sh": (HANDLER, 0o755), "busybox": (BUSYBOX.read_bytes(), 0o755)})


# -- HTTP helpers ----------------------------------------------------------------------------
def log_path(name, index=1):
    return f"/api/ufops/{name}/instances/{index}/log"


def read_log(client, name, index=1, **params):
    """The lines of the log endpoint's answer (``tail`` 100000 unless given)."""
    params.setdefault("tail", 100000)
    data = assert_ok(client.get(log_path(name, index), params=params))
    assert set(data) == {"log"}
    return data["log"].split("\n") if data["log"] else []


def act(client, name, index, action):
    return assert_ok(client.post(f"/api/ufops/{name}/instances/{index}/{action}", json={},
                                 timeout=ACTION_TIMEOUT))


def stream_of(line):
    return "stdout" if line.startswith(("out ", "done ", "bye ")) else "stderr"


def by_stream(lines):
    return {stream: [line for line in lines if stream_of(line) == stream] for stream in STREAMS}


def of_version(lines, version):
    return [line for line in lines if line.split(" ")[1] == version]


def assert_numbered_in_order(lines):
    """Per stream, version and run, the numbers go 0, 1, 2, ... with no gap and no repeat;
    the runs of a version follow each other in order."""
    seen = {}
    for line in lines:
        match = LINE_RE.match(line)
        if not match:
            continue
        stream, version, run, i = match[1], match[2], int(match[3]), int(match[4])
        key = (stream, version)
        expected = seen.get(key, (run, 0))
        if run != expected[0]:
            assert run > expected[0], f"{line!r} after run {expected[0]}"
            expected = (run, 0)
        assert i == expected[1], f"{line!r}: expected number {expected[1]}"
        seen[key] = (run, i + 1)
    return seen


def describe(mine, truth):
    counts = Counter(mine)
    doubled = sorted(line for line, n in counts.items() if n > 1)
    missing = [line for line in truth if line not in counts]
    extra = [line for line in counts if line not in set(truth)]
    return (f"{len(mine)} stored, {len(truth)} written; doubled {doubled[:10]}; "
            f"missing {missing[:10]}; not written {extra[:10]}")


def assert_same_as_docker(stored, truth):
    """``stored`` (the log endpoint's lines) holds exactly Docker's lines, stream by stream
    and in Docker's order."""
    mine = by_stream(stored)
    for stream in STREAMS:
        assert mine[stream] == truth[stream], f"{stream}: {describe(mine[stream], truth[stream])}"


# -- Docker helpers ------------------------------------------------------------------------------
def as_lines(frames):
    """Docker's log frames as lines: a frame is a line, with or without its newline (the
    lines here are far too short to be split)."""
    return [frame.decode().removesuffix("\n") for frame in frames]


def docker_log(docker_client, container_id, stream, timestamps=False):
    lines = as_lines(docker_client.api.logs(container_id, stdout=stream == "stdout",
                                            stderr=stream == "stderr", timestamps=timestamps,
                                            stream=True, follow=False))
    if not timestamps:
        return lines
    return [(parse_ts(line.partition(" ")[0]), line.partition(" ")[2]) for line in lines]


def docker_truth(docker_client, *container_ids):
    """Every line the containers wrote, per stream, in order."""
    return {stream: [line for cid in container_ids
                     for line in docker_log(docker_client, cid, stream)] for stream in STREAMS}


class Tap:
    """Docker's log of one container as it is written, kept after the container is gone: a
    thread per stream follows it until the container stops."""

    def __init__(self, docker_client, container_id):
        self.lines = {stream: [] for stream in STREAMS}
        self.threads = [threading.Thread(target=self.follow, args=(docker_client, container_id,
                                                                   stream), daemon=True)
                        for stream in STREAMS]
        for thread in self.threads:
            thread.start()

    def follow(self, docker_client, container_id, stream):
        self.lines[stream] = as_lines(docker_client.api.logs(
            container_id, stdout=stream == "stdout", stderr=stream == "stderr", stream=True,
            follow=True))

    def finished(self, timeout):
        for thread in self.threads:
            thread.join(timeout)
        assert not any(t.is_alive() for t in self.threads), "the container did not stop"
        return self.lines


def containers_of(docker_client, platform, name):
    platform_id = (platform.stack.data_dir / "platform-id").read_text().strip()
    return docker_client.api.containers(all=True, filters={
        "label": [f"ufop.platform={platform_id}", f"ufop.name={name}"]})


def container_of(docker_client, platform, name, index=1):
    (found,) = [c for c in containers_of(docker_client, platform, name)
                if c["Labels"]["ufop.index"] == str(index)]
    return found["Id"]


def rfc3339(ns, offset_hours=0):
    """``ns`` since the epoch as RFC 3339 with microseconds (rounded down)."""
    zone = timezone(timedelta(hours=offset_hours))
    moment = datetime.fromtimestamp(ns // 10**9, zone).replace(microsecond=ns % 10**9 // 1000)
    return moment.isoformat().replace("+00:00", "Z")


# -- fixtures --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def context():
    return writer_context()


class Writers:
    """``make(platform, client, count, pause, ...)``: a ufop running the writer, built and
    made current; ``start`` adds instances. Deleted at the end, containers and images checked."""

    def __init__(self, docker_client, context):
        self.docker, self.context = docker_client, context
        self.made = []  # (platform, name)

    def make(self, platform, client=None, count=0, pause=0.05, acl="PUBLIC",
             versions=("v1",), name=None):
        client = client or platform.admin
        name = platform.register(client, name=name, acl=acl, configuration=f"{count} {pause}")
        self.made.append((platform, name))
        upload_built(client, name, versions, self.context, BUILD_DEADLINE)
        assert_ok(client.put(f"/api/ufops/{name}", json={"version": versions[0]}))
        return name

    def start(self, platform, name, client=None, size=1):
        client = client or platform.admin
        added = assert_ok(client.post(f"/api/ufops/{name}/instances", json={"size": size},
                                      timeout=ACTION_TIMEOUT))
        assert {i["state"] for i in added} == {"Running"}, added
        return added

    def cleanup(self):
        for platform, name in self.made:
            try:
                platform.admin.delete(f"/api/ufops/{name}", timeout=60)
            except requests.RequestException:
                pass
        for platform, name in self.made:
            end = time.monotonic() + 30
            while containers_of(self.docker, platform, name) and time.monotonic() < end:
                time.sleep(0.5)
            for container in containers_of(self.docker, platform, name):
                self.docker.api.remove_container(container["Id"], force=True)
            while self.docker.api.images(name=f"ufop/{name}") and time.monotonic() < end:
                time.sleep(0.5)
            for image in self.docker.api.images(name=f"ufop/{name}"):
                for tag in image.get("RepoTags") or []:
                    if tag.startswith(f"ufop/{name}:"):
                        self.docker.api.remove_image(tag, force=True)


@pytest.fixture
def writers(docker_client, context):
    made = Writers(docker_client, context)
    yield made
    made.cleanup()


@pytest.fixture(scope="module")
def written(platform, docker_client, context):
    """A PUBLIC ufop of its own account whose one instance wrote 60 lines on each stream and
    the ``done`` line, all shipped: ``(owner, name, container id)``. Nothing else writes to it."""
    made = Writers(docker_client, context)
    try:
        owner = platform.new_account()
        name = made.make(platform, owner, count=60, pause=0.02)
        made.start(platform, name, owner)
        wait_for(lambda: len(read_log(owner, name)) == 121, SHIP_DEADLINE, "121 lines")
        yield owner, name, container_of(docker_client, platform, name)
    finally:
        made.cleanup()


def wait_shipped(client, name, truth, index=1):
    """Wait until the stored log holds as many lines per stream as Docker's; return it."""
    want = {stream: len(lines) for stream, lines in truth.items()}

    def shipped():
        stored = read_log(client, name, index)
        counts = {stream: len(lines) for stream, lines in by_stream(stored).items()}
        return counts == want and stored
    try:
        return wait_for(shipped, SHIP_DEADLINE, f"the log of {name} as long as Docker's")
    except pytest.fail.Exception:
        mine = by_stream(read_log(client, name, index))
        pytest.fail(f"the log of {name} is not Docker's: " + "; ".join(
            f"{stream}: {describe(mine[stream], truth[stream])}" for stream in STREAMS))


# -- order, tail, since ------------------------------------------------------------------------
def test_lines_appear_in_order_from_both_streams(written, docker_client):
    owner, name, container_id = written
    stored = read_log(owner, name)
    streams = by_stream(stored)
    assert streams["stdout"] == [f"out v1 1 {i}" for i in range(60)] + ["done v1 1 60"]
    assert streams["stderr"] == [f"err v1 1 {i}" for i in range(60)]
    assert_numbered_in_order(stored)
    assert_same_as_docker(stored, docker_truth(docker_client, container_id))
    # the whole log is in time order, as Docker stamped the lines
    stamped = sorted(docker_log(docker_client, container_id, "stdout", timestamps=True)
                     + docker_log(docker_client, container_id, "stderr", timestamps=True))
    assert stored == [line for _ts, line in stamped]


def test_tail_gives_exactly_the_last_lines(written):
    owner, name, _ = written
    everything = read_log(owner, name)
    assert len(everything) == 121
    assert assert_ok(owner.get(log_path(name)))["log"].split("\n") == everything[-100:]  # default
    for count in (1, 10, 100, 120, 121):
        assert read_log(owner, name, tail=count) == everything[-count:], count
    assert read_log(owner, name, tail=1000) == everything
    assert read_log(owner, name, tail=0) == []
    assert read_log(owner, name, tail=1) == ["done v1 1 60"]


@pytest.mark.parametrize("tail", ["-1", "abc", "1.5", "100001"])
def test_a_bad_tail_is_invalid_args(written, tail):
    owner, name, _ = written
    refused(owner.get(log_path(name), params={"tail": tail}), 400, "InvalidArgs", "tail")


def test_since_gives_the_lines_at_or_after_it(written, docker_client):
    owner, name, container_id = written
    stamped = sorted(docker_log(docker_client, container_id, "stdout", timestamps=True)
                     + docker_log(docker_client, container_id, "stderr", timestamps=True))
    everything = read_log(owner, name)
    assert everything == [line for _ts, line in stamped]
    for at in (1, 30, 77, len(stamped) - 1):
        since = stamped[at][0] // 1000 * 1000  # what RFC 3339 with microseconds can say
        expected = [line for ts, line in stamped if ts >= since]
        # a suffix that starts at or before line ``at`` (two lines may share a microsecond)
        assert len(expected) >= len(stamped) - at
        assert everything[len(everything) - len(expected):] == expected
        assert read_log(owner, name, since=rfc3339(since)) == expected, at
        assert read_log(owner, name, since=rfc3339(since, offset_hours=8)) == expected
        assert read_log(owner, name, since=rfc3339(since, offset_hours=-5)) == expected
        assert read_log(owner, name, since=rfc3339(since), tail=3) == expected[-3:]
    assert read_log(owner, name, since=rfc3339(stamped[0][0] - 10**9)) == everything
    assert read_log(owner, name, since=rfc3339(stamped[-1][0] + 1000)) == []
    assert read_log(owner, name, since="2001-02-03T04:05:06Z") == everything
    assert read_log(owner, name, since="2999-01-01T00:00:00Z") == []
    # valid times a 64-bit count of nanoseconds since 1970 cannot hold
    assert read_log(owner, name, since="1960-01-01T00:00:00Z") == everything
    assert read_log(owner, name, since="0001-01-01T00:00:00+00:00") == everything
    assert read_log(owner, name, since="9999-12-31T23:59:59Z") == []


@pytest.mark.parametrize("since", ["yesterday", "2024-13-01T00:00:00Z",
                                   "2024-01-01T00:00:00", "1700000000", "2024-01-01 25:00Z"])
def test_a_bad_since_is_invalid_args(written, since):
    owner, name, _ = written
    refused(owner.get(log_path(name), params={"since": since}), 400, "InvalidArgs", "since")
    refused(owner.get(log_path(name), params={"since": since, "follow": "true"}), 400,
            "InvalidArgs", "since")


def test_an_unknown_index_is_instance_not_found(written, platform):
    owner, name, _ = written
    for index in (0, 2, 99):
        refused(owner.get(log_path(name, index)), 404, "InstanceNotFound")
        refused(owner.get(log_path(name, index), params={"follow": "true"}), 404,
                "InstanceNotFound")
    refused(owner.get(log_path("nosuchufop" + uuid.uuid4().hex[:8])), 404, "UfopNotfound")


# -- who may read ----------------------------------------------------------------------------
def test_another_account_cannot_read_the_log(written, platform):
    owner, name, _ = written
    other = platform.new_account()
    everything = read_log(owner, name)
    # PUBLIC: visible to all, managed by its owner only
    refused(other.get(log_path(name)), 403, "Forbidden")
    refused(other.get(log_path(name), params={"follow": "true"}), 403, "Forbidden")
    refused(other.get(log_path(name, 99)), 403, "Forbidden")
    refused(platform.anonymous.get(log_path(name)), 401, "Unauthorized")
    assert read_log(platform.admin, name) == everything  # an admin may

    # PRIVATE: not even visible to others
    private = platform.register(owner, acl="PRIVATE")
    try:
        for index in (1, 2):
            refused(other.get(log_path(private, index)), 404, "UfopNotfound")
        refused(other.get(log_path(private), params={"follow": "true"}), 404, "UfopNotfound")
        # on the access list, it may call the ufop, not manage it
        assert_ok(owner.put(f"/api/ufops/{private}", json={"accessList": [other.uid]}))
        refused(other.get(log_path(private)), 403, "Forbidden")
        refused(owner.get(log_path(private)), 404, "InstanceNotFound")
    finally:
        owner.delete(f"/api/ufops/{private}")


# -- follow ----------------------------------------------------------------------------------
def test_follow_delivers_a_line_written_after_it_started(platform, writers):
    owner = platform.new_account()
    name = writers.make(platform, owner, count=5, pause=0.02)
    writers.start(platform, name, owner)
    wait_for(lambda: "done v1 1 5" in read_log(owner, name), SHIP_DEADLINE, "done line")
    before = read_log(owner, name)
    marker = "mark-" + uuid.uuid4().hex

    with owner.get(log_path(name), params={"follow": "true", "tail": 3}, stream=True,
                   timeout=(10, 30)) as answer:  # a heartbeat comes every 15 s
        assert answer.status_code == 200, answer.text
        assert answer.headers["Content-Type"].startswith("application/x-ndjson")
        lines = (line for line in answer.iter_lines() if line)
        tail = [json.loads(next(lines)) for _ in range(3)]
        assert [entry["line"] for entry in tail] == before[-3:]
        for entry in tail:
            assert set(entry) == {"time", "stream", "version", "line"}
            assert entry["version"] == "v1" and entry["stream"] == stream_of(entry["line"])
            assert TIME_RE.match(entry["time"]), entry

        called = platform.anonymous.get(f"/ufop/{name}/{marker}", timeout=30)
        assert called.status_code == 200 and called.text == "ok", called.text
        end = time.monotonic() + SHIP_DEADLINE
        while True:
            assert time.monotonic() < end, "the new line did not come"
            entry = json.loads(next(lines))
            if marker in entry["line"]:
                break
    assert entry["stream"] == "stderr" and entry["line"].startswith("req ")
    assert entry["version"] == "v1" and TIME_RE.match(entry["time"]), entry
    written = datetime.fromisoformat(entry["time"][:26] + "+00:00")
    assert abs(written - datetime.now(timezone.utc)) < timedelta(minutes=5)
    assert read_log(owner, name)[-1] == entry["line"]


# -- restarts: no gap, no duplicate --------------------------------------------------------------
def lines_of_run(client, name, run, count=5, version="v1"):
    """True once ``count`` lines of ``run`` are stored on each stream."""
    stored = read_log(client, name)
    return all(f"{prefix} {version} {run} {count - 1}" in stored for prefix in ("out", "err"))


def test_a_reboot_and_a_kill_in_the_middle_lose_and_double_nothing(platform, writers,
                                                                   docker_client):
    client = platform.admin
    name = writers.make(platform, count=0, pause=0.02)  # writes until stopped
    writers.start(platform, name)
    container_id = container_of(docker_client, platform, name)
    wait_for(lambda: lines_of_run(client, name, 1, 20), SHIP_DEADLINE, "run 1 lines")

    assert act(client, name, 1, "reboot")["state"] == "Running"
    wait_for(lambda: lines_of_run(client, name, 2, 20), SHIP_DEADLINE, "run 2 lines")

    docker_client.api.kill(container_id)  # the reconciler restarts it
    wait_for(lambda: lines_of_run(client, name, 3, 20), SHIP_DEADLINE + 60,
             "run 3 lines, after the reconciler restarted the killed container")

    assert act(client, name, 1, "stop")["state"] == "Stopped"  # the log ends here
    assert container_of(docker_client, platform, name) == container_id
    truth = docker_truth(docker_client, container_id)
    stored = wait_shipped(client, name, truth)
    assert_same_as_docker(stored, truth)
    runs = assert_numbered_in_order(stored)
    assert runs[("out", "v1")][0] == runs[("err", "v1")][0] == 3
    assert "bye v1 1" in stored and "bye v1 3" in stored  # the reboot's and the stop's


def test_lines_written_while_the_scheduler_is_down_are_shipped_once(make_platform, writers,
                                                                    docker_client):
    platform = make_platform()
    client = platform.admin
    name = writers.make(platform, count=0, pause=0.02)
    writers.start(platform, name)
    container_id = container_of(docker_client, platform, name)
    wait_for(lambda: lines_of_run(client, name, 1, 20), SHIP_DEADLINE, "first lines")

    stopped_at = time.time_ns()
    platform.stack.stop_service("scheduler")
    time.sleep(3)  # the container goes on writing, nobody ships
    platform.stack.start_service("scheduler")
    started_at = time.time_ns()
    platform.stack.wait_healthy(90)
    written_meanwhile = [line for stream in STREAMS
                         for ts, line in docker_log(docker_client, container_id, stream, True)
                         if stopped_at < ts < started_at]
    assert len(written_meanwhile) > 20
    wait_for(lambda: set(written_meanwhile) <= set(read_log(client, name)),
             SHIP_DEADLINE, "the lines written while the scheduler was down")

    # and once more while a batch may be in flight: kill -9
    platform.stack.stop_service("scheduler", sig=9)
    platform.stack.start_service("scheduler")
    platform.stack.wait_healthy(90)
    time.sleep(1)

    assert act(client, name, 1, "stop")["state"] == "Stopped"
    truth = docker_truth(docker_client, container_id)
    stored = wait_shipped(client, name, truth)
    assert_same_as_docker(stored, truth)
    assert_numbered_in_order(stored)


def test_a_switch_keeps_the_old_containers_last_lines(platform, writers, docker_client):
    client = platform.admin
    name = writers.make(platform, count=0, pause=0.02, versions=("v1", "v2"))
    writers.start(platform, name)
    old = container_of(docker_client, platform, name)
    tap = Tap(docker_client, old)
    wait_for(lambda: lines_of_run(client, name, 1, 20), SHIP_DEADLINE, "v1 lines")

    assert_ok(client.put(f"/api/ufops/{name}", json={"version": "v2"}))
    assert act(client, name, 1, "switch") == {"index": 1, "version": "v2", "state": "Running"}
    old_truth = tap.finished(timeout=60)  # written by v1 up to its last line, but for one:
    # Docker may end a follower's stream before a stopped container's last output (the shipper
    # reads once more; the container is gone by now), and v1, stopped, said "bye"
    if old_truth["stdout"][-1:] != ["bye v1 1"]:
        old_truth["stdout"].append("bye v1 1")
    new = container_of(docker_client, platform, name)
    assert new != old
    wait_for(lambda: lines_of_run(client, name, 1, 20, version="v2"), SHIP_DEADLINE,
             "v2 lines")
    assert act(client, name, 1, "stop")["state"] == "Stopped"

    new_truth = docker_truth(docker_client, new)
    stored = wait_shipped(client, name, {stream: old_truth[stream] + new_truth[stream]
                                         for stream in STREAMS})
    # the two containers ran side by side for a moment: compare each with its own
    assert_same_as_docker(of_version(stored, "v1"), old_truth)
    assert_same_as_docker(of_version(stored, "v2"), new_truth)
    assert_numbered_in_order(stored)


# -- retention ---------------------------------------------------------------------------------
def test_retention_keeps_the_newest_lines(make_platform, writers):
    platform = make_platform(UFOP_LOG_RETENTION_LINES=50)
    client = platform.admin
    name = writers.make(platform, count=150, pause=0.01)
    writers.start(platform, name)
    written = {"stdout": [f"out v1 1 {i}" for i in range(150)] + ["done v1 1 150"],
               "stderr": [f"err v1 1 {i}" for i in range(150)]}

    def finished():
        stored = read_log(client, name)
        assert len(stored) <= 50, len(stored)  # at every moment
        return "done v1 1 150" in stored and "err v1 1 149" in stored and stored
    stored = wait_for(finished, SHIP_DEADLINE, "the last lines")
    time.sleep(1)
    assert read_log(client, name) == stored
    assert len(stored) == 50
    for stream, lines in by_stream(stored).items():  # the newest of each stream
        assert lines and lines == written[stream][-len(lines):], stream
    assert read_log(client, name, tail=10) == stored[-10:]


# -- deleting ----------------------------------------------------------------------------------
def test_a_deleted_instance_keeps_its_log_until_the_ufop_is_deleted(platform, writers):
    owner = platform.new_account()
    name = writers.make(platform, owner, count=10, pause=0.02)
    writers.start(platform, name, owner)
    wait_for(lambda: len(read_log(owner, name)) == 21, SHIP_DEADLINE, "21 lines")
    before = read_log(owner, name)

    assert_ok(owner.delete(f"/api/ufops/{name}/instances/1", timeout=ACTION_TIMEOUT))
    assert assert_ok(owner.get(f"/api/ufops/{name}/instances")) == []
    after = before + ["bye v1 1"]  # its last words, shipped before the container went
    assert wait_for(lambda: read_log(owner, name) == after and after, SHIP_DEADLINE,
                    "the log of the deleted instance")
    assert read_log(owner, name, tail=5) == after[-5:]
    refused(owner.get(log_path(name, 2)), 404, "InstanceNotFound")

    assert_ok(owner.delete(f"/api/ufops/{name}", timeout=60))
    refused(owner.get(log_path(name)), 404, "UfopNotfound")

    # the name is free again: the new ufop's log starts empty
    again = writers.make(platform, owner, count=3, pause=0.02, name=name)
    assert again == name
    refused(owner.get(log_path(name)), 404, "InstanceNotFound")
    writers.start(platform, name, owner)
    wait_for(lambda: "done v1 1 3" in read_log(owner, name), SHIP_DEADLINE, "done line")
    time.sleep(1)
    stored = read_log(owner, name)
    assert by_stream(stored) == {"stdout": ["out v1 1 0", "out v1 1 1", "out v1 1 2",
                                            "done v1 1 3"],
                                 "stderr": ["err v1 1 0", "err v1 1 1", "err v1 1 2"]}
