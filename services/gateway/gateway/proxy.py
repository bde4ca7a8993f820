"""The data plane (SPEC §7): ``/ufop/<name>[/<params>]`` to a Running instance.

Routing state -- who may call a ufop, its current version, where its Running instances
answer -- is cached per gateway process and dropped by events (every gateway process gets
them: broadcast handlers), not fetched per request. Calls go round robin over Running
instances of the current version; while none of the current version runs yet (a switch is
rolling out) the Running instances of earlier versions serve, so a rollout has no gap.
"""
import itertools
import logging
from dataclasses import dataclass, field
from urllib.parse import urlencode

import requests
from requests.adapters import HTTPAdapter
from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Response

from ufop_common import config
from ufop_common.errors import Forbidden, NoInstance, UfopNotfound, Unauthorized, UpstreamTimeout

log = logging.getLogger(__name__)

PUBLIC, PROTECTED, PRIVATE = 0, 1, 2
CONNECT_TIMEOUT = 2.0
CHUNK = 64 * 1024
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailers", "transfer-encoding", "upgrade", "content-encoding"}


@dataclass
class Route:
    ufop_id: int
    owner: str
    acl_mode: int
    access_list: frozenset
    version: str
    endpoints: list  # [{index, version, port}]
    turn: itertools.count = field(default_factory=itertools.count)

    def allows(self, caller):
        if self.acl_mode == PUBLIC:
            return True
        if caller is None:
            raise Unauthorized("Authorization: this ufop is not public; sign the request")
        if caller.admin or caller.uid == self.owner or caller.uid in self.access_list:
            return True
        if self.acl_mode == PRIVATE:
            raise UfopNotfound("ufop not found")
        raise Forbidden("you are not on this ufop's access list; apply for it first")

    def ports(self):
        """Running instances to try, round robin, the current version's first."""
        current = [e["port"] for e in self.endpoints if e["version"] == self.version]
        ports = current or [e["port"] for e in self.endpoints]
        if not ports:
            raise NoInstance("no Running instance of this ufop")
        start = next(self.turn) % len(ports)
        return ports[start:] + ports[:start]


class Body:
    """A request body to stream on, with its length so it is not re-chunked."""

    def __init__(self, stream, length):
        self.stream, self.length = stream, length

    def read(self, size=-1):
        return self.stream.read(size if size and size > 0 else CHUNK)

    def __len__(self):
        return self.length


def body_of(request):
    """The body to forward: ``None`` when there is none, else something to stream."""
    length = request.content_length
    if length:
        return Body(request.stream, length)
    if "chunked" in (request.headers.get("Transfer-Encoding") or "").lower():
        return iter(lambda: request.stream.read(CHUNK), b"")
    return None


class Router:
    """The per-process routing cache; ``drop(name)`` on any event that may change a route."""

    def __init__(self):
        self.routes = {}
        self.generation = {}

    def get(self, name, fetch):
        route = self.routes.get(name)
        if route is None:
            generation = self.generation.get(name, 0)
            route = fetch()
            if self.generation.get(name, 0) == generation:  # no event raced the fetch
                self.routes[name] = route
        return route

    def drop(self, name):
        self.generation[name] = self.generation.get(name, 0) + 1
        self.routes.pop(name, None)


class Upstream(DependencyProvider):
    """HTTP to instances (pooled connections) and the routing cache."""

    def setup(self):
        self.settings = config.load()
        self.router = Router()
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=64, pool_maxsize=64)
        self.session.mount("http://", adapter)

    def stop(self):
        self.session.close()

    def get_dependency(self, worker_ctx):
        return self

    def forward(self, route, name, params, request, body_iter):
        """POST /handler?cmd=<name>[/<params>][&<query>] to an instance; stream the answer.

        A request without a body is tried once more on the next instance when the first
        cannot be reached (SPEC §7)."""
        target = "/handler?" + urlencode({"cmd": name + (f"/{params}" if params else "")})
        query = request.environ.get("QUERY_STRING", "")
        if query:
            target += "&" + query
        has_body = body_iter is not None
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() in ("content-type", "content-length")}
        ports = route.ports()
        attempts = ports[:1] if has_body else ports[:2]
        for attempt, port in enumerate(attempts):
            try:
                answer = self.session.post(
                    f"http://127.0.0.1:{port}{target}", data=body_iter if has_body else None,
                    headers=headers, stream=True,
                    timeout=(CONNECT_TIMEOUT, self.settings.upstream_timeout))
                break
            except requests.Timeout:
                raise UpstreamTimeout(f"the instance did not answer within "
                                      f"{self.settings.upstream_timeout:g} s") from None
            except requests.ConnectionError as exc:
                log.warning("instance at %s unreachable: %s", port, exc)
                self.router.drop(name)
                if attempt == len(attempts) - 1:
                    raise NoInstance("the instance went away during the call") from None
        passed = [(k, v) for k, v in answer.raw.headers.items() if k.lower() not in HOP_BY_HOP]

        def relay():
            try:
                yield from answer.raw.stream(CHUNK, decode_content=False)
            finally:
                answer.close()

        return Response(relay(), status=answer.status_code, headers=passed,
                        direct_passthrough=True)
