"""The data plane through HTTP: ``/ufop/<name>`` to Running containers on the real Docker
engine, with routes kept by real RabbitMQ events (SPEC §3, §7; issue 6).

The ``probe`` ufop (tests/e2e/probe) echoes, answers late or never as its call's params say;
the example ``fileinfo`` answers what it was given. Platforms of our own serve the tests that
need tight bounds (invoke timeout, body limit).
"""
import hashlib
import http.client
import os
import socket
import threading
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from support import (OCTET, STATE_DEADLINE, Docker, act, add, all_running, assert_ok, call,
                     clone, refused, sdk_authorization, served_on_the_bridge, wait_for)

MiB = 1 << 20
INVOKE_TIMEOUT = 2  # the limits platform's UFOP_INVOKE_TIMEOUT
INVOKE_LIMIT = MiB  # and UFOP_MAX_INVOKE_BYTES


@pytest.fixture(scope="module")
def limited(make_platform):
    """A platform with a short invoke timeout and a small body limit."""
    return make_platform(UFOP_INVOKE_TIMEOUT=INVOKE_TIMEOUT, UFOP_MAX_INVOKE_BYTES=INVOKE_LIMIT)


def running(platform, ufops, size, **make):
    """A new ufop with ``size`` instances, all Running."""
    name = ufops.make(platform, **make)
    assert_ok(add(make.get("client") or platform.admin, name, size))
    wait_for(lambda: all_running(platform.admin, name, size), STATE_DEADLINE, "Running")
    return name


def metrics(platform):
    answer = requests.get(platform.url + "/metrics", timeout=30)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def sample(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def rss(platform):
    """The gateway process's resident memory, in bytes."""
    with open(f"/proc/{platform.stack.procs['gateway'].pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def duplex_post(url, path, blocks, count):
    """POST ``count`` blocks to ``path`` while reading the answer (full duplex, as curl does:
    an echo answers before the body is all sent); the status, headers and the answer's SHA-1
    and size."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=120)
    sent = hashlib.sha1()

    def send():
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {OCTET}\r\n"
                     f"Content-Length: {len(blocks[0]) * count}\r\n\r\n".encode())
        for i in range(count):
            block = blocks[i % len(blocks)]
            sent.update(block)
            sock.sendall(block)
    sender = threading.Thread(target=send)
    sender.start()
    try:
        answer = http.client.HTTPResponse(sock, method="POST")
        answer.begin()
        received, size = hashlib.sha1(), 0
        while chunk := answer.read(MiB):
            received.update(chunk)
            size += len(chunk)
    finally:
        sender.join(120)
        sock.close()
    return answer.status, dict(answer.getheaders()), received.hexdigest(), size, sent.hexdigest()


# -- calling ------------------------------------------------------------------------------
def test_a_50_mib_file_streams_through_both_ways_without_the_gateway_growing(platform, ufops):
    name = running(platform, ufops, 1, context="probe")
    call(platform.anonymous, name, "echo", data=b"warm up").raise_for_status()
    before, peak, done = rss(platform), [0], threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], rss(platform))
            time.sleep(0.02)
    watcher = threading.Thread(target=watch)
    watcher.start()
    blocks = [os.urandom(MiB) for _ in range(4)]
    try:
        status, headers, echoed, size, sent = duplex_post(platform.url, f"/ufop/{name}/echo",
                                                          blocks, 50)
    finally:
        done.set()
        watcher.join()
    assert status == 201 and headers["Content-Length"] == str(50 * MiB)
    assert size == 50 * MiB and echoed == sent
    growth = peak[0] - before
    assert growth < 16 * MiB, f"the gateway grew by {growth / MiB:.1f} MiB for a 50 MiB call"


def test_answers_are_what_the_instance_wrote(platform, ufops):
    name = running(platform, ufops, 1, context="probe")
    body = os.urandom(100_000)
    answer = call(platform.anonymous, name, "echo", data=body, headers={"Content-Type": OCTET})
    assert answer.status_code == 201  # the instance's status, headers and body, as written
    assert answer.headers["Content-Type"] == "application/x-probe"
    assert answer.headers["X-Probe-Instance"] == "1"
    assert answer.content == body
    assert call(platform.anonymous, name, "a/b%20c", params={"x": "1"}).json() == {
        "cmd": f"{name}/a/b c", "instance": "1", "version": "v1", "bytes": 0}


def test_an_answer_goes_out_piece_by_piece_as_the_instance_writes_it(platform, ufops,
                                                                   docker_client):
    """The instance writes "first", then waits for the test to have read it before writing
    the rest: a gateway holding the answer back would never let the test see "first"."""
    name = running(platform, ufops, 1, context="probe")
    (container,) = Docker(docker_client, platform).by_index(name)[1]
    answer = requests.get(f"{platform.url}/ufop/{name}/drip", stream=True, timeout=20)
    assert answer.status_code == 200 and "Content-Length" not in answer.headers
    lines = answer.iter_lines()
    assert next(lines) == b"first"
    go = docker_client.api.exec_create(container["Id"], ["touch", "/tmp/go"])
    docker_client.api.exec_start(go["Id"])
    assert list(lines) == [b"second"]  # the body that ended with the instance's connection


def test_the_body_params_and_url_reach_the_example_ufop(platform, ufops, docker_client):
    name = running(platform, ufops, 1)
    anonymous = platform.anonymous

    body = b"first line of the file\n" + os.urandom(200_000)
    answer = call(anonymous, name, "resize/100x100", data=body,
                  headers={"Content-Type": OCTET})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"cmd": f"{name}/resize/100x100", "instance": "1", "version": "v1",
                             "bytes": len(body), "sha1": hashlib.sha1(body).hexdigest(),
                             "firstLine": "first line of the file"}
    assert answer.headers["Content-Type"] == "application/json"
    # a chunked body (no Content-Length) reaches the instance with its length
    answer = call(anonymous, name, data=(body[i:i + 50_000] for i in range(0, len(body), 50_000)),
                  headers={"Content-Type": OCTET})
    assert answer.json()["bytes"] == len(body)
    assert answer.json()["sha1"] == hashlib.sha1(body).hexdigest()

    # ?url=: the instance fetches the file itself, from a server on the Docker bridge
    source = b"fetched by url\nsecond line\n" * 100
    with served_on_the_bridge(docker_client, source) as (base, _):
        answer = call(anonymous, name, params={"url": f"{base}/source.txt"})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"cmd": name, "instance": "1", "version": "v1",
                                 "bytes": len(source), "sha1": hashlib.sha1(source).hexdigest(),
                                 "firstLine": "fetched by url"}
    # the handler's own error status comes back as it is
    answer = call(anonymous, name, params={"url": "http://127.0.0.1:1/nothing"})
    assert answer.status_code == 400 and answer.json() == {"error": "cannot fetch url"}


def test_both_instances_get_work_round_robin(platform, ufops):
    name = running(platform, ufops, 2, context="probe")
    seen = [call(platform.anonymous, name).json()["instance"] for _ in range(10)]
    assert sorted(seen) == ["1"] * 5 + ["2"] * 5 and seen[0] != seen[1], seen


# -- access (SPEC §3) ------------------------------------------------------------------------
EXPECTED = {  # mode -> caller -> (status, error)
    "PUBLIC": {"owner": 200, "listed": 200, "other": 200, "unsigned": 200},
    "PROTECTED": {"owner": 200, "listed": 200, "other": (403, "Forbidden"),
                  "unsigned": (401, "Unauthorized")},
    "PRIVATE": {"owner": 200, "listed": 200, "other": (404, "UfopNotfound"),
                "unsigned": (404, "UfopNotfound")},  # not there for them, as a name never used
}


@pytest.mark.parametrize("mode", sorted(EXPECTED))
def test_the_acl_matrix(platform, ufops, mode):
    owner, listed, other = (platform.new_account() for _ in range(3))
    name = running(platform, ufops, 1, client=owner, acl=mode, context="probe")
    assert_ok(owner.put(f"/api/ufops/{name}", json={"accessList": [listed.uid]}))
    callers = {"owner": owner, "listed": listed, "other": other,
               "unsigned": platform.anonymous}
    for who, expected in EXPECTED[mode].items():
        answer = call(callers[who], name, "echo", data=b"x", headers={"Content-Type": OCTET})
        if expected == 200:
            assert answer.status_code == 201 and answer.content == b"x", (who, answer.text)
        else:
            refused(answer, *expected)
    # the list changes at once: the listed account is refused right after it is emptied
    assert_ok(owner.put(f"/api/ufops/{name}", json={"accessList": []}))
    answer = call(listed, name)
    if mode == "PUBLIC":
        assert answer.status_code == 200
    else:
        refused(answer, *EXPECTED[mode]["other"])


def test_a_signed_body_is_checked_then_passed_on(platform, ufops):
    """A JSON body is covered by the signature (SPEC §3): checked whole, then sent on."""
    owner, stranger = platform.new_account(), platform.new_account()
    name = running(platform, ufops, 1, client=owner, acl="PROTECTED", context="probe")
    document = {"resize": [100, 100], "note": "ünïcode"}
    answer = call(owner, name, "echo", json=document)
    assert answer.status_code == 201 and answer.json() == document
    refused(call(stranger, name, "echo", json=document), 403, "Forbidden")
    # a body that does not match its signature is refused before any instance sees it
    url = f"{platform.url}/ufop/{name}/echo"
    headers = {"Content-Type": "application/json"}
    headers["Authorization"] = sdk_authorization(owner, "POST", url, headers, b'{"a": 1}')
    refused(requests.post(url, data=b'{"a": 2}', headers=headers, timeout=30), 401,
            "Unauthorized")


def test_applying_opens_a_protected_ufop_at_once(platform, ufops):
    owner, applicant = platform.new_account(), platform.new_account()
    name = running(platform, ufops, 1, client=owner, acl="PROTECTED", context="probe")
    refused(call(applicant, name), 403, "Forbidden")
    assert_ok(applicant.post(f"/api/ufops/{name}/apply", json={}))
    assert call(applicant, name).status_code == 200
    assert_ok(applicant.post(f"/api/ufops/{name}/unapply", json={}))
    refused(call(applicant, name), 403, "Forbidden")
    refused(call(platform.anonymous, "nosuchufop"), 404, "UfopNotfound")
    refused(call(platform.anonymous, "Not-A-Name!"), 404, "UfopNotfound")


# -- routing follows operations ----------------------------------------------------------------
def retries(platform, name):
    return sample(metrics(platform), "ufop_invocation_retries_total", ufop=name)


def answered_by(platform, name, count=6):
    """Which instance (and version) answered each of ``count`` calls with a body (a call with
    a body is never sent twice, so a stale route would show as a failure)."""
    seen = []
    for _ in range(count):
        answer = call(platform.anonymous, name, data=b"payload", headers={"Content-Type": OCTET})
        assert answer.status_code == 200, answer.text
        seen.append((answer.json()["instance"], answer.json()["version"]))
    return seen


def test_routing_follows_stop_start_and_switch_at_once(platform, ufops):
    client = platform.admin
    name = running(platform, ufops, 2, context="probe", versions=("v1", "v2"))
    assert sorted(set(answered_by(platform, name))) == [("1", "v1"), ("2", "v1")]
    before = retries(platform, name)

    assert_ok(act(client, name, 1, "stop"))
    assert set(answered_by(platform, name)) == {("2", "v1")}
    assert_ok(act(client, name, 1, "start"))
    assert sorted(set(answered_by(platform, name))) == [("1", "v1"), ("2", "v1")]

    assert_ok(client.put(f"/api/ufops/{name}", json={"version": "v2"}))
    assert sorted(set(answered_by(platform, name))) == [("1", "v1"), ("2", "v1")]
    assert_ok(act(client, name, 2, "switch"))
    assert set(answered_by(platform, name)) == {("2", "v2")}  # the current version first
    assert_ok(client.delete(f"/api/ufops/{name}/instances/2", timeout=120))
    assert set(answered_by(platform, name)) == {("1", "v1")}  # until one of it runs again
    assert retries(platform, name) == before  # no call met a stale route


def test_nothing_running_is_503_no_instance(platform, ufops):
    client = platform.admin
    name = ufops.make(platform, context="probe")
    refused(call(platform.anonymous, name), 503, "NoInstance")
    assert_ok(add(client, name, 1))
    wait_for(lambda: all_running(client, name, 1), STATE_DEADLINE, "Running")
    assert call(platform.anonymous, name).status_code == 200
    assert_ok(act(client, name, 1, "stop"))
    refused(call(platform.anonymous, name), 503, "NoInstance")
    refused(call(platform.anonymous, name, data=b"x", headers={"Content-Type": OCTET}),
            503, "NoInstance")


# -- failures ------------------------------------------------------------------------------------
def test_a_slow_instance_is_504_upstream_timeout(limited, ufops):
    name = running(limited, ufops, 1, context="probe")
    assert call(limited.anonymous, name, "slow/0").status_code == 200
    started = time.monotonic()
    refused(call(limited.anonymous, name, "slow/8"), 504, "UpstreamTimeout", f"{INVOKE_TIMEOUT} s")
    assert time.monotonic() - started < 8  # not waited out
    assert call(limited.anonymous, name, "slow/0").status_code == 200


def hang_and_kill(platform, docker_client, name, data=None):
    """Calls ``hangon/1`` until one lands on instance 1, kills that container in the middle
    of the call and returns the call's answer."""
    engine = Docker(docker_client, platform)
    (container,) = engine.by_index(name)[1]
    caller = clone(platform.anonymous)
    for _ in range(3):  # round robin: at most every other call goes to instance 1
        answers = []
        thread = threading.Thread(target=lambda: answers.append(call(
            caller, name, "hangon/1", timeout=60,
            **({"data": data, "headers": {"Content-Type": OCTET}} if data else {}))))
        thread.start()

        def hanging():
            if answers:
                return "answered"
            check = docker_client.api.exec_create(container["Id"], ["test", "-f", "/tmp/hanging"])
            docker_client.api.exec_start(check["Id"])
            return docker_client.api.exec_inspect(check["Id"])["ExitCode"] == 0 and "hanging"
        if wait_for(hanging, 30, "the call to reach an instance") == "hanging":
            docker_client.api.kill(container["Id"])
            thread.join(60)
            return answers[0]
        thread.join(60)
    raise AssertionError("no call reached instance 1")


def test_an_instance_dying_mid_call_retries_a_call_without_body_once(platform, ufops,
                                                                      docker_client):
    name = running(platform, ufops, 2, context="probe")
    before = retries(platform, name)
    answer = hang_and_kill(platform, docker_client, name)
    assert answer.status_code == 200, answer.text
    assert answer.json()["instance"] == "2"  # the other instance answered
    assert retries(platform, name) == before + 1


def test_an_instance_dying_mid_call_with_a_body_is_502(platform, ufops, docker_client):
    name = running(platform, ufops, 2, context="probe")
    answer = hang_and_kill(platform, docker_client, name, data=b"file contents" * 1000)
    refused(answer, 502, "BadGateway", "not sent twice")
    # the reconciler restarts the instance and it serves again
    wait_for(lambda: call(platform.anonymous, name).json()["instance"] == "1", STATE_DEADLINE,
             "instance 1 to serve again")
    assert all_running(platform.admin, name, 2)


def test_bodies_over_the_limit_are_413(limited, ufops):
    name = running(limited, ufops, 1, context="probe")
    anonymous = limited.anonymous
    exact = os.urandom(INVOKE_LIMIT)
    answer = call(anonymous, name, data=exact, headers={"Content-Type": OCTET})
    assert answer.status_code == 200 and answer.json()["bytes"] == INVOKE_LIMIT
    refused(call(anonymous, name, data=exact + b"!", headers={"Content-Type": OCTET}),
            413, "PayloadTooLarge", str(INVOKE_LIMIT))
    # without a Content-Length (chunked) the body is counted as it streams
    chunks = (os.urandom(64 * 1024) for _ in range(3 * INVOKE_LIMIT // (64 * 1024)))
    refused(call(anonymous, name, data=chunks, headers={"Content-Type": OCTET}),
            413, "PayloadTooLarge", str(INVOKE_LIMIT))
    assert call(anonymous, name).status_code == 200  # the instance is unharmed


# -- metrics ------------------------------------------------------------------------------------
def test_metrics_count_what_was_done(platform, ufops):
    name = running(platform, ufops, 1, context="probe")
    before = metrics(platform)
    for _ in range(3):
        assert call(platform.anonymous, name).status_code == 200
    assert call(platform.anonymous, name, "echo", data=b"x").status_code == 201
    assert_ok(act(platform.admin, name, 1, "stop"))  # the route is fetched again: RPCs
    refused(call(platform.anonymous, name), 503, "NoInstance")
    after = metrics(platform)

    def grew(metric, **labels):
        return sample(after, metric, **labels) - sample(before, metric, **labels)
    assert grew("ufop_invocations_total", ufop=name, code="200") == 3
    assert grew("ufop_invocations_total", ufop=name, code="201") == 1
    assert grew("ufop_invocations_total", ufop=name, code="503") == 1
    assert grew("ufop_invocation_seconds_count", ufop=name) == 5
    assert grew("ufop_invocation_seconds_bucket", ufop=name, le="+Inf") == 5
    assert grew("ufop_gateway_requests_total", method="GET", route="/ufop/<name>",
                code="200") >= 3
    assert grew("ufop_gateway_requests_total", method="POST",
                route="/api/ufops/<name>/instances/<int:index>/stop", code="200") == 1
    for service, method in (("registry", "route"), ("scheduler", "endpoints"),
                            ("scheduler", "stop_instance")):
        assert grew("ufop_rpc_seconds_count", service=service, method=method,
                    outcome="ok") >= 1, (service, method)


# -- faults -----------------------------------------------------------------------------------
def test_calls_go_on_while_the_registry_and_the_scheduler_are_down(limited, ufops):
    """Routes live in the gateway: a ufop it has routed goes on answering while the services
    that know its routes are stopped; a name it never routed needs them (503)."""
    name = running(limited, ufops, 2, context="probe")
    assert call(limited.anonymous, name).status_code == 200
    for service in ("registry", "scheduler"):
        limited.stack.stop_service(service)
    try:
        seen = [call(limited.anonymous, name).json()["instance"] for _ in range(6)]
        assert sorted(set(seen)) == ["1", "2"]
        refused(call(limited.anonymous, "neverrouted"), 503, "ServiceUnavailable")
    finally:
        for service in ("registry", "scheduler"):
            limited.stack.start_service(service)
        limited.stack.wait_healthy(90)
