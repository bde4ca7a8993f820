"""The data plane's HTTP to instances against scripted instances on 127.0.0.1 (no Docker):
answer framings, keep-alive reuse, failures before and during a call."""
import os
import socket

import eventlet
import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from gateway.proxy import Route, body_of
from gateway.upstream import Upstream
from ufop_common.errors import BadGateway, NoInstance, PayloadTooLarge, UpstreamTimeout


class Instance:
    """A scripted instance: each connection reads requests and answers the next script entry
    (raw bytes, or a callable given the request); ``requests`` and ``connections`` count."""

    def __init__(self, answers, keep_open=True):
        self.answers, self.keep_open = list(answers), keep_open
        self.requests, self.connections = [], 0
        self.server = eventlet.listen(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.thread = eventlet.spawn(self.serve)

    def serve(self):
        while True:
            conn, _ = self.server.accept()
            self.connections += 1
            eventlet.spawn(self.handle, conn)

    def handle(self, conn):
        reader = conn.makefile("rb")
        while self.answers:
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                line = reader.readline()
                if not line:
                    return conn.close()
                head += line
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            body = reader.read(length) if length else b""
            if b"chunked" in head.lower():
                while (size := int(reader.readline().strip(), 16)):
                    body += reader.read(size)
                    reader.readline()
                reader.readline()
            self.requests.append((head, body))
            answer = self.answers.pop(0)
            answer = answer(head, body) if callable(answer) else answer
            if answer is None:
                return conn.close()
            conn.sendall(answer)
            if not self.keep_open:
                return conn.close()
        conn.close()

    def close(self):
        self.thread.kill()
        self.server.close()


@pytest.fixture
def upstream(monkeypatch):
    monkeypatch.setenv("UFOP_INVOKE_TIMEOUT", "0.5")
    provider = Upstream()
    provider.setup()
    yield provider
    provider.stop()


def route(*ports):
    return Route("resize", 1, "owner", 0, frozenset(), "v1",
                 [{"index": i + 1, "version": "v1", "port": p} for i, p in enumerate(ports)])


def request(data=None, chunked=False, query=""):
    builder = EnvironBuilder(method="POST" if data is not None else "GET", path="/ufop/resize",
                             query_string=query, data=data,
                             content_type="application/octet-stream" if data else None)
    environ = builder.get_environ()
    if chunked:
        environ.pop("CONTENT_LENGTH", None)
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
        environ["wsgi.input_terminated"] = True  # as the gateway's WSGI app sets it
    return Request(environ)


def call(upstream, route_, req=None, limit=1 << 20):
    req = req or request()
    response = upstream.forward(route_, "resize", "", req, body_of(req, limit))
    try:
        return response.status_code, dict(response.headers), b"".join(response.response)
    finally:
        response.close()  # as the WSGI server does


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Mine: yes\r\n\r\nok"


def test_what_the_instance_gets_and_what_comes_back(upstream):
    instance = Instance([OK])
    try:
        status, headers, body = call(upstream, route(instance.port),
                                     request(b"file bytes", query="url=http%3A%2F%2Fx%2Fy"))
    finally:
        instance.close()
    assert (status, body, headers["X-Mine"]) == (200, b"ok", "yes")
    head, sent = instance.requests[0]
    assert head.startswith(b"POST /handler?cmd=resize&url=http%3A%2F%2Fx%2Fy HTTP/1.1\r\n")
    assert b"Content-Length: 10\r\n" in head and sent == b"file bytes"


def test_a_chunked_answer_is_passed_on_whole_and_rechunked_by_the_server(upstream):
    chunked = (b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    instance = Instance([chunked])
    try:
        status, headers, body = call(upstream, route(instance.port))
    finally:
        instance.close()
    assert (status, body) == (201, b"hello world")
    assert "Transfer-Encoding" not in headers  # hop by hop: the gateway's server frames it


def test_an_answer_ending_with_the_connection(upstream):
    instance = Instance([b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it"],
                        keep_open=False)
    try:
        assert call(upstream, route(instance.port))[2] == b"all of it"
    finally:
        instance.close()


def test_a_kept_alive_connection_carries_the_next_call(upstream):
    instance = Instance([OK, OK, OK])
    try:
        for _ in range(3):
            assert call(upstream, route(instance.port))[2] == b"ok"
    finally:
        instance.close()
    assert instance.connections == 1 and len(instance.requests) == 3


def test_a_kept_alive_connection_the_instance_closed_is_replaced(upstream):
    instance = Instance([OK, OK], keep_open=False)  # closes after each answer, says nothing
    try:
        assert call(upstream, route(instance.port))[2] == b"ok"
        eventlet.sleep(0.05)
        assert call(upstream, route(instance.port))[2] == b"ok"
    finally:
        instance.close()
    assert instance.connections == 2


@pytest.mark.parametrize("size", [10, 200_000, 3 << 20])  # in one send, pumped, spooled to disk
def test_a_chunked_call_body_reaches_the_instance_with_its_length(upstream, size):
    instance = Instance([OK])
    data = os.urandom(size)
    try:
        req = request(data, chunked=True)
        assert call(upstream, route(instance.port), req, limit=size)[0] == 200
    finally:
        instance.close()
    head, sent = instance.requests[0]
    assert b"chunked" not in head.lower() and f"Content-Length: {size}\r\n".encode() in head
    assert sent == data


def test_an_unreachable_instance_is_skipped_and_none_reachable_is_no_instance(upstream):
    instance = Instance([OK])
    dead = free_port()
    try:
        assert call(upstream, route(dead, instance.port))[2] == b"ok"
    finally:
        instance.close()
    assert dead in upstream.router.suspected()
    with pytest.raises(NoInstance):
        call(upstream, route(free_port(), free_port()))


def test_an_instance_silent_past_the_invoke_timeout_is_504(upstream):
    instance = Instance([lambda head, body: eventlet.sleep(2) or OK])
    try:
        with pytest.raises(UpstreamTimeout, match="0.5 s"):
            call(upstream, route(instance.port))
    finally:
        instance.close()


def test_a_failure_mid_call_retries_once_without_a_body_and_is_502_with_one(upstream):
    broken = Instance([None, None, None])  # reads the call, closes without answering
    healthy = Instance([OK])
    try:
        assert call(upstream, route(broken.port, healthy.port))[2] == b"ok"
        with pytest.raises(BadGateway, match="not sent twice"):
            call(upstream, route(broken.port, healthy.port), request(b"payload"))
        with pytest.raises(BadGateway):  # both fail: one retry only
            call(upstream, route(broken.port, broken.port))
    finally:
        broken.close()
        healthy.close()


def test_an_answer_cut_short_is_cut_for_the_caller_too(upstream):
    instance = Instance([b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this"],
                        keep_open=False)
    try:
        response = upstream.forward(route(instance.port), "resize", "", request(), None)
        assert response.status_code == 200
        with pytest.raises(Exception):
            b"".join(response.response)
        response.close()
        assert not upstream.connections.idle.get(instance.port)  # never pooled
    finally:
        instance.close()


def test_bodies_past_the_limit_are_refused_before_any_call(upstream):
    instance = Instance([OK])
    try:
        with pytest.raises(PayloadTooLarge):
            call(upstream, route(instance.port), request(b"y" * 300_000), limit=100_000)
        with pytest.raises(PayloadTooLarge):
            call(upstream, route(instance.port), request(b"y" * 300_000, chunked=True),
                 limit=100_000)
    finally:
        instance.close()
    assert instance.requests == []


def test_an_answer_never_read_closes_its_connection(upstream):
    instance = Instance([b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nthe start"])
    try:
        response = upstream.forward(route(instance.port), "resize", "", request(), None)
        response.close()  # the caller went away before the body was sent on
    finally:
        instance.close()
    assert upstream.connections.idle.get(instance.port) in (None, [])
