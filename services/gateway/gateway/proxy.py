"""The data plane (SPEC §7): ``/ufop/<name>[/<params>]`` to a Running instance.

Routing state -- who may call a ufop, its current version, where its Running instances
answer -- lives in each gateway process (``Router``). It is fetched once when a name is first
called, refreshed at once by the events that change it (broadcast: every gateway process gets
them) and by the gateway itself after an instance operation it carried out, and refreshed in
the background when older than ``UFOP_ROUTE_TTL`` (to heal events missed while the broker was
away). A call never waits for an RPC while its route is cached.

Calls go round robin over Running instances of the current version; while none of the current
version runs yet (a switch rolling out) the Running instances of earlier versions serve, so a
rollout has no gap. ``upstream.py`` makes the calls.
"""
import itertools
import logging
import tempfile
import time
from dataclasses import dataclass, field

from eventlet.event import Event

from ufop_common.errors import Forbidden, NoInstance, PayloadTooLarge, UfopNotfound, Unauthorized

log = logging.getLogger(__name__)

PUBLIC, PROTECTED, PRIVATE = 0, 1, 2
CHUNK = 64 * 1024
SPOOL_IN_MEMORY = 1 << 20  # a chunked body larger than this is spooled to a temporary file
SUSPECT_SECONDS = 3.0  # an instance that refused a connection is tried last for this long


@dataclass
class Route:
    name: str
    ufop_id: int
    owner: str
    acl_mode: int
    access_list: frozenset
    version: str
    endpoints: list  # [{index, version, port}]
    turn: itertools.count = field(default_factory=itertools.count)

    def allows(self, caller):
        """SPEC §3: anyone calls a PUBLIC ufop; the owner, an admin and listed accounts call
        the others. A PRIVATE ufop is not there for anyone else, signed or not (404, as for a
        name never registered); a PROTECTED one asks to sign (401) or refuses (403)."""
        if self.acl_mode == PUBLIC:
            return True
        if caller is not None and (caller.admin or caller.uid == self.owner
                                   or caller.uid in self.access_list):
            return True
        if self.acl_mode == PRIVATE:
            raise UfopNotfound(f"ufop {self.name!r} not found")
        if caller is None:
            raise Unauthorized("Authorization: this ufop is not public; sign the request")
        raise Forbidden("you are not on this ufop's access list; apply for it first")

    def ports(self, suspects=()):
        """Running instances to try, round robin, the current version's first; instances that
        just refused a connection go last."""
        current = [e["port"] for e in self.endpoints if e["version"] == self.version]
        ports = current or [e["port"] for e in self.endpoints]
        if not ports:
            raise NoInstance("no Running instance of this ufop")
        start = next(self.turn) % len(ports)
        ports = ports[start:] + ports[:start]
        return [p for p in ports if p not in suspects] + [p for p in ports if p in suspects]


#: a cached "no such ufop", dropped by ``ufop_registered``
MISSING = object()


@dataclass
class Entry:
    route: object  # a Route or MISSING
    fetched: float
    used: float


class Router:
    """The per-process routing cache.

    ``get`` answers from the cache; a name not cached is fetched once, however many calls
    want it at the same moment. ``refresh`` (an event, an operation done here) drops what is
    cached and, when the name is in use, fetches it again at once; a fetch that began before
    the latest ``refresh`` is never stored nor handed to a caller, so a route read after an
    operation returned never predates it.
    """

    def __init__(self, ttl, clock=time.monotonic):
        self.ttl, self.clock = ttl, clock
        self.entries = {}
        self.generation = {}
        self.inflight = {}  # name -> (generation, Event)
        self.suspects = {}  # port -> until

    def get(self, name, fetch):
        entry = self.entries.get(name)
        if entry is None:
            entry = self._fetch(name, fetch)
        entry.used = self.clock()
        if entry.route is MISSING:
            raise UfopNotfound(f"ufop {name!r} not found")
        return entry.route

    def refresh(self, name, fetch):
        generation = self.generation[name] = self.generation.get(name, 0) + 1
        was = self.entries.pop(name, None)
        if was is not None and was.route is not MISSING:
            try:
                self._fetch(name, fetch)
            except Exception as exc:  # the next call fetches it
                log.warning("refreshing the route of %s: %s", name, exc)
        return generation

    def revalidate(self, name, fetch):
        """A route past its TTL, fetched again; while that fails (the registry or scheduler
        down) the route it had keeps serving."""
        entry = self.entries.get(name)
        if entry is None:
            return
        try:
            self._fetch(name, fetch)
        except Exception as exc:
            log.warning("revalidating the route of %s: %s (the cached one serves on)", name, exc)
            entry.fetched = self.clock()

    def _fetch(self, name, fetch):
        generation = self.generation.get(name, 0)
        pending = self.inflight.get(name)
        if pending is not None and pending[0] == generation:
            return pending[1].wait()
        done = Event()
        self.inflight[name] = (generation, done)
        try:
            try:
                route = fetch()
            except UfopNotfound:
                route = MISSING
            now = self.clock()
            entry = Entry(route, now, now)
        except Exception as exc:
            done.send_exception(exc)
            raise
        finally:
            if self.inflight.get(name, (None,))[0] == generation:
                del self.inflight[name]
        if self.generation.get(name, 0) == generation:
            self.entries[name] = entry
            if route is not MISSING:  # the scheduler's word is newer than a failed call's
                for endpoint in route.endpoints:
                    self.suspects.pop(endpoint["port"], None)
        done.send(entry)
        return entry

    def stale(self):
        """Names whose route is older than the TTL and was used lately (to refresh), after
        forgetting those nobody called for a while."""
        now = self.clock()
        for name in [n for n, e in self.entries.items() if now - e.used > 2 * self.ttl]:
            del self.entries[name]
        self.suspects = {p: t for p, t in self.suspects.items() if t > now}
        return [n for n, e in self.entries.items() if now - e.fetched > self.ttl]

    def suspect(self, port):
        self.suspects[port] = self.clock() + SUSPECT_SECONDS

    def suspected(self):
        now = self.clock()
        return {p for p, t in self.suspects.items() if t > now}


class Body:
    """The request body, streamed on with its length. ``started`` says whether any of it was
    read: then it cannot be sent again."""

    def __init__(self, stream, length):
        self.stream, self.length = stream, length
        self.sent = 0

    @property
    def started(self):
        return self.sent > 0

    def read(self, size=CHUNK):
        chunk = self.stream.read(min(size, self.length - self.sent))
        self.sent += len(chunk)
        return chunk

    def read_all(self):
        """What is left of the body, whole (a small one: a stream may return less per read)."""
        parts = []
        while chunk := self.read(self.length - self.sent):
            parts.append(chunk)
        return b"".join(parts)


def body_of(request, limit):
    """The body to forward: ``None`` when there is none, else a ``Body`` to stream on; past
    ``limit`` bytes, 413 (at once by its Content-Length, or as a chunked one arrives).

    A chunked body is spooled first (memory, then a temporary file) and sent on with its
    length: instances read bodies by Content-Length (SPEC §6), as nginx buffers them too."""
    length = request.content_length
    if length:
        if length > limit:
            raise PayloadTooLarge(f"body: larger than {limit} bytes")
        return Body(request.stream, length)
    if "chunked" not in (request.headers.get("Transfer-Encoding") or "").lower():
        return None
    spool, size = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY), 0
    while chunk := request.stream.read(CHUNK):
        size += len(chunk)
        if size > limit:
            spool.close()
            raise PayloadTooLarge(f"body: larger than {limit} bytes")
        spool.write(chunk)
    if not size:
        spool.close()
        return None
    spool.seek(0)
    return Body(spool, size)
