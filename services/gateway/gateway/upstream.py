"""Calls to instances (SPEC §6, §7): ``POST /handler?cmd=...`` over pooled keep-alive
connections, full duplex.

The request body is sent by its own greenthread while the answer is read, so an instance may
start answering before it has read the whole body (an echo, a transcoder) without either side
waiting on the other; nothing is buffered whole in either direction. ``UFOP_INVOKE_TIMEOUT``
bounds every wait on the instance (its head, each read and write); connecting is bounded by
``CONNECT_TIMEOUT``. ``httptools`` (the HTTP parser of uvicorn) reads the answer: its head and
its Content-Length, chunked or close-delimited body.
"""
import collections
import http.client
import logging
import socket
from urllib.parse import urlencode

import eventlet
import httptools
from eventlet import patcher
from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Response

from ufop_common import config
from ufop_common.errors import BadGateway, NoInstance, UfopError, UpstreamTimeout

from . import metrics
from .proxy import CHUNK, Router

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 2.0
IDLE_PER_INSTANCE = 32  # keep-alive connections kept per instance
PASSED_ON = ("content-type", "accept")  # request headers an instance gets from the caller
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailers", "transfer-encoding", "upgrade"}
_select = patcher.original("select")
#: what a call meets when the instance fails it once it began
BROKEN = (OSError, http.client.HTTPException, httptools.HttpParserError)


class Unreachable(Exception):
    """No connection could be made: nothing of the call was sent."""


class Connections:
    """Idle keep-alive sockets per instance port."""

    def __init__(self):
        self.idle = {}

    def take(self, port):
        """A socket to ``port``, and whether it was used before."""
        idle = self.idle.get(port)
        while idle:
            sock = idle.pop()
            if _alive(sock):
                return sock, True
            sock.close()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(CONNECT_TIMEOUT)
        try:
            sock.connect(("127.0.0.1", port))  # an address: no name lookup
        except OSError as exc:
            sock.close()
            raise Unreachable(str(exc)) from None
        return sock, False

    def give(self, port, sock):
        idle = self.idle.setdefault(port, [])
        if len(idle) < IDLE_PER_INSTANCE:
            idle.append(sock)
        else:
            sock.close()

    def close(self):
        for idle in self.idle.values():
            for sock in idle:
                sock.close()
        self.idle.clear()


def _alive(sock):
    """An idle keep-alive socket the instance has not closed (nothing to read on it)."""
    try:
        readable, _, _ = _select.select([sock.fileno()], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


class Answer:
    """The instance's answer as ``httptools`` parses it: the head, then body pieces."""

    def __init__(self):
        self.headers, self.pieces = [], collections.deque()
        self.head = self.complete = self.keep_alive = False
        self.framed = False  # a Content-Length or chunked body; else it ends with the connection
        self.parser = httptools.HttpResponseParser(self)

    def on_header(self, name, value):
        name = name.decode("latin-1")
        if name.lower() in ("content-length", "transfer-encoding"):
            self.framed = True
        self.headers.append((name, value.decode("latin-1")))

    def on_headers_complete(self):
        self.head = True
        self.keep_alive = self.parser.should_keep_alive()  # known only until the end

    def on_body(self, piece):
        self.pieces.append(piece)

    def on_message_complete(self):
        self.complete = True


class Exchange:
    """One call on one connection: the head (and a small body) sent at once, a larger body
    pumped by a greenthread while the answer is read."""

    def __init__(self, sock, body, timeout):
        self.sock, self.body, self.timeout = sock, body, timeout
        self.pump, self.failure = None, None
        self.answer = Answer()

    def start(self, head):
        """Send the call; return once the answer's head is in."""
        self.sock.settimeout(self.timeout)
        body = self.body
        if body is not None and body.length <= CHUNK:
            head += body.read_all()
            body = None
        self.sock.sendall(head)
        if body is not None:
            self.pump = eventlet.spawn(self._send, body)
        try:
            while not self.answer.head:
                self._receive()
        except Exception:
            if self.failure is not None:
                raise self.failure from None
            raise
        return self.answer.parser.get_status_code(), self.answer.headers

    def _receive(self):
        """Parse what arrives next; False at the end of a body that ends with the connection."""
        data = self.sock.recv(CHUNK)
        if not data:
            if self.answer.head and not self.answer.framed:
                return False
            raise http.client.RemoteDisconnected("the instance closed the connection")
        self.answer.parser.feed_data(data)
        return True

    def pieces(self):
        """The body of the answer as it arrives."""
        answer = self.answer
        while True:
            while answer.pieces:
                yield answer.pieces.popleft()
            if answer.complete or not self._receive():
                return

    def _send(self, body):
        try:
            while chunk := body.read(CHUNK):
                self.sock.sendall(chunk)
        except Exception as exc:
            self.failure = exc
            try:
                self.sock.shutdown(socket.SHUT_RDWR)  # the reader of the answer stops too
            except OSError:
                pass

    @property
    def reusable(self):
        """Whether the connection may carry another call (all sent, all read, kept alive)."""
        return ((self.pump is None or self.pump.dead) and self.answer.complete
                and self.answer.keep_alive)

    def abandon(self):
        if self.pump is not None and not self.pump.dead:
            self.pump.kill()
        self.sock.close()


class Upstream(DependencyProvider):
    """HTTP to instances (pooled connections) and the routing cache."""

    def setup(self):
        self.settings = config.load()
        self.router = Router(self.settings.route_ttl)
        self.connections = Connections()

    def stop(self):
        self.connections.close()

    def get_dependency(self, worker_ctx):
        return self

    def forward(self, route, name, params, request, body):
        """``POST /handler?cmd=<name>[/<params>][&<query>]`` to an instance; the answer streams
        back as the instance writes it.

        An instance that cannot be reached is replaced by the next one (nothing was sent). One
        that fails once the call is under way is replaced once for a call without a body; a
        call whose body was (partly) sent ends 502 (SPEC §7)."""
        target = "/handler?" + urlencode({"cmd": name + (f"/{params}" if params else "")})
        query = request.environ.get("QUERY_STRING", "")
        if query:
            target += "&" + query
        passed = "".join(f"{k}: {v}\r\n" for k, v in request.headers.items()
                         if k.lower() in PASSED_ON)
        framing = f"Content-Length: {body.length if body is not None else 0}\r\n"
        ports = route.ports(self.router.suspected())
        retried = False
        for attempt, port in enumerate(ports):
            head = (f"POST {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{passed}{framing}"
                    f"\r\n").encode("latin-1")
            try:
                return self._call(port, head, body, name)
            except Unreachable as exc:
                log.warning("instance of %s at port %s unreachable: %s", name, port, exc)
                self.router.suspect(port)
                if attempt == len(ports) - 1:
                    raise NoInstance("no instance of this ufop could be reached") from None
            except BROKEN as exc:
                log.warning("instance of %s at port %s failed: %r", name, port, exc)
                if body is not None and body.started:
                    raise BadGateway("the instance went away during the call; a call with a "
                                     "body is not sent twice") from None
                if retried or attempt == len(ports) - 1:
                    raise BadGateway("the instance went away during the call") from None
                retried = True
            metrics.RETRIES.labels(name).inc()

    def _call(self, port, head, body, name):
        sock, reused = self.connections.take(port)
        while True:
            exchange = Exchange(sock, body, self.settings.invoke_timeout)
            try:
                status, headers = exchange.start(head)
                break
            except socket.timeout:
                exchange.abandon()
                raise UpstreamTimeout(f"the instance did not answer within "
                                      f"{self.settings.invoke_timeout:g} s") from None
            except UfopError:
                exchange.abandon()
                raise
            except BROKEN:
                exchange.abandon()
                if not reused or (body is not None and body.started):
                    raise
                # a keep-alive connection the instance closed meanwhile: a new one
                sock, reused = self.connections.take(port)

        def relay():
            try:
                yield from exchange.pieces()
            except Exception as exc:
                # the head is gone: the connection is cut, never ended as if complete
                log.warning("answer of %s cut: %r", name, exc)
                raise

        def finish():  # the server closes the answer however it ended, even never begun
            if exchange.reusable:
                self.connections.give(port, sock)
            else:
                exchange.abandon()

        response = Response(relay(), status=status, direct_passthrough=True,
                            headers=[(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP])
        response.call_on_close(finish)
        return response
