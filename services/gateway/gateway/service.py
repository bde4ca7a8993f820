"""The gateway: REST over HTTP in front of the registry, scheduler and logs (SPEC §2-4)."""
import functools
import io
import re
import time

import eventlet
from nameko.events import BROADCAST, event_handler
from nameko.timer import timer
from werkzeug.wrappers import Response

from ufop_common import config
from ufop_common.blobs import BlobStore
from ufop_common.errors import (Forbidden, InstanceNotFound, InvalidArgs, PayloadTooLarge,
                                UfopError, UfopNotfound)
from ufop_common.rpc import DeadlineRpc
from ufop_common.schemas import NAME_RE, check_name, check_version

from . import metrics, openapi
from .auth import Identity
from .entrypoints import Reply, api, json_response
from .follow import follow_log
from .proxy import Body, Route, body_of
from .upstream import Upstream
from .requests import bool_arg, int_arg, json_object, read_body, time_arg

SERVICES = ("registry", "scheduler", "logs")
ARCHIVE_TYPES = ("application/octet-stream", "application/x-tar", "application/gzip",
                 "application/x-gzip")
HEALTH_DEADLINE = 2.0
ARCHIVE_CHECK_DEADLINE = 120.0


def signed_body(body, limit):
    """A call's body that its signature covers (a type other than octet-stream, SPEC §3): read
    whole, up to ``limit``, to be checked before anything goes to an instance."""
    if body.length > limit:
        raise PayloadTooLarge(f"body: a signed body may be at most {limit} bytes; send files "
                              f"as application/octet-stream (not signed)")
    data = body.read_all()
    return Body(io.BytesIO(data), len(data))


def changes_route(handler):
    """A route handler after which this process's data-plane route of ``name`` is fetched
    again before the answer goes, so the caller's next call already sees the change."""
    @functools.wraps(handler)
    def wrapper(self, request, name, *args, **kwargs):
        result = handler(self, request, name, *args, **kwargs)
        self.refresh_route(name)
        return result
    return wrapper


class GatewayService:
    name = "gateway"

    accounts = Identity()
    registry = DeadlineRpc("registry")
    scheduler = DeadlineRpc("scheduler")
    logs = DeadlineRpc("logs")
    upstream = Upstream()

    @property
    def settings(self):
        """The configuration, loaded once when the container started (not per worker)."""
        return self.upstream.settings

    @functools.cached_property
    def blobs(self):
        """Made only by the worker of an upload, not by each worker (``make bench``)."""
        return BlobStore(self.settings.data_dir)

    # -- helpers -----------------------------------------------------------------------
    def caller(self, request, body=b""):
        return self.accounts.verify(request, body)

    def signed_json(self, request, required=True):
        body = read_body(request, self.settings.max_body_bytes)
        caller = self.caller(request, body)
        return caller, json_object(body, required)

    # -- platform ----------------------------------------------------------------------
    @api("GET", "/healthz")
    def healthz(self, request):
        """Each service's liveness: 200 when all answer, 503 naming those that do not."""
        def ping(service):
            try:
                getattr(self, service).ping.call_with_deadline(HEALTH_DEADLINE)
                return service, "ok"
            except UfopError as exc:
                return service, exc.message
        status = dict(eventlet.GreenPool().imap(ping, SERVICES), gateway="ok")
        down = sorted(s for s, state in status.items() if state != "ok")
        if down:
            return json_response({"code": 503, "error": "ServiceUnavailable",
                                  "message": f"not answering: {', '.join(down)}",
                                  "data": status}, 503)
        return status

    @api("GET", "/metrics")
    def prometheus_metrics(self, request):
        body, content_type = metrics.exposition()
        return Response(body, content_type=content_type)

    @api("GET", "/api/openapi.json")
    def openapi_document(self, request):
        return Response(openapi.document_json(), content_type="application/json")

    # -- accounts ----------------------------------------------------------------------
    @api("POST", "/api/accounts")
    def create_account(self, request):
        caller, fields = self.signed_json(request, required=False)
        if not caller.admin:
            raise Forbidden("only an admin may create accounts")
        admin = fields.get("admin", False)
        if not isinstance(admin, bool):
            raise InvalidArgs("admin: must be true or false")
        account = self.accounts.create(admin=admin)
        return {"uid": account.uid, "accessKey": account.access_key,
                "secretKey": account.secret_key}

    @api("GET", "/api/accounts/me")
    def me(self, request):
        caller = self.caller(request)
        return {"uid": caller.uid, "accessKey": caller.access_key, "admin": caller.admin}

    # -- ufops -------------------------------------------------------------------------
    @api("POST", "/api/ufops")
    def create_ufop(self, request):
        caller, fields = self.signed_json(request)
        detail = self.registry.create_ufop(caller.uid, fields)
        self.refresh_route(fields["name"])  # registered: a cached "not found" goes
        return detail

    @api("GET", "/api/ufops")
    def list_ufops(self, request):
        caller = self.caller(request)
        limit = int_arg(request, "limit", 100, 1, 1000)
        page = self.registry.list_ufops(caller.uid, limit, request.args.get("marker") or None,
                                        admin=caller.admin)
        extra = {"marker": page["marker"]} if page["marker"] else {}
        return Reply(page["items"], extra)

    @api("GET", "/api/ufops/<name>")
    def get_ufop(self, request, name):
        caller = self.caller(request)
        return self.registry.get_ufop(caller.uid, name, admin=caller.admin)

    @api("PUT", "/api/ufops/<name>")
    @changes_route
    def update_ufop(self, request, name):
        caller, fields = self.signed_json(request)
        return self.registry.update_ufop(caller.uid, name, fields, admin=caller.admin)

    @api("DELETE", "/api/ufops/<name>")
    @changes_route
    def delete_ufop(self, request, name):
        caller = self.caller(request)
        self.registry.delete_ufop(caller.uid, name, admin=caller.admin)

    @api("POST", "/api/ufops/<name>/apply")
    @changes_route
    def apply(self, request, name):
        caller, _ = self.signed_json(request, required=False)
        self.registry.apply(caller.uid, name, admin=caller.admin)

    @api("POST", "/api/ufops/<name>/unapply")
    @changes_route
    def unapply(self, request, name):
        caller, _ = self.signed_json(request, required=False)
        self.registry.unapply(caller.uid, name, admin=caller.admin)

    @api("GET", "/api/ufops/<name>/events")
    def events(self, request, name):
        caller = self.caller(request)
        limit = int_arg(request, "limit", 100, 1, 1000)
        ufop = self.registry.authorize(caller.uid, name, "manage", admin=caller.admin)
        return self.logs.list_events(ufop["id"], limit)

    # -- images and versions (SPEC §5) -------------------------------------------------
    @api("POST", "/api/images")
    def upload_image(self, request):
        """Stream the archive in the body to the blob store, then have the registry build it.

        When the signature leaves the body out (octet-stream), who may upload is settled
        before a byte is read; when it covers the body, the body is hashed as it streams and
        the signature checked at the end. Nothing is kept from an upload that fails.
        """
        content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip()
        if content_type not in ARCHIVE_TYPES:
            raise InvalidArgs("Content-Type: must be application/octet-stream, "
                              "application/x-tar or application/gzip")
        name = check_name(request.args.get("ufop"), "ufop")
        version = check_version(request.args.get("version"))
        desc = request.args.get("desc", "")
        limit = self.settings.max_image_bytes
        if request.content_length is not None and request.content_length > limit:
            raise PayloadTooLarge(f"body: the archive is larger than {limit} bytes")
        pending = self.accounts.begin(request)
        if not pending.body_signed:
            caller = pending.check()
            self.registry.prepare_image(caller.uid, name, version, admin=caller.admin)
        digest, _ = self.blobs.receive(request.stream, limit, feed=pending.feed)
        try:
            caller = pending.check()
            if pending.body_signed:
                self.registry.prepare_image(caller.uid, name, version, admin=caller.admin)
            # checking a large archive takes a while: a longer deadline for this one call
            return self.registry.add_version.call_with_deadline(
                ARCHIVE_CHECK_DEADLINE, caller.uid, name, version, digest, desc,
                admin=caller.admin)
        except Exception:
            try:
                self.registry.release_blob(digest)
            except UfopError:
                pass  # the registry sweeps unused blobs at its next start
            raise

    @api("GET", "/api/ufops/<name>/versions")
    def list_versions(self, request, name):
        caller = self.caller(request)
        return self.registry.list_versions(caller.uid, name, admin=caller.admin)

    @api("GET", "/api/ufops/<name>/versions/<version>/log")
    def build_log(self, request, name, version):
        caller = self.caller(request)
        ref = self.registry.version_ref(caller.uid, name, version, admin=caller.admin)
        return self.logs.build_log(ref["id"], ref["version"])

    # -- instances (SPEC §4, endpoints 7-13) ---------------------------------------------
    def operation_deadline(self):
        """Instance operations wait for health (bounded), so they get a longer deadline."""
        return max(self.settings.start_wait, self.settings.health_timeout) + 15

    @api("GET", "/api/ufops/<name>/instances")
    def list_instances(self, request, name):
        caller = self.caller(request)
        return self.scheduler.list_instances(caller.uid, name, admin=caller.admin)

    @api("POST", "/api/ufops/<name>/instances")
    @changes_route
    def add_instances(self, request, name):
        caller, fields = self.signed_json(request)
        size = fields.get("size")
        if isinstance(size, bool) or not isinstance(size, int):
            raise InvalidArgs("size: must be an integer of at least 1")
        return self.scheduler.add_instances.call_with_deadline(
            self.operation_deadline(), caller.uid, name, size, fields.get("version"),
            admin=caller.admin)

    def instance_action(self, request, name, index, method):
        caller, _ = self.signed_json(request, required=False)
        call = getattr(self.scheduler, method)
        return call.call_with_deadline(self.operation_deadline(), caller.uid, name, index,
                                       admin=caller.admin)

    @api("POST", "/api/ufops/<name>/instances/<int:index>/start")
    @changes_route
    def start_instance(self, request, name, index):
        return self.instance_action(request, name, index, "start_instance")

    @api("POST", "/api/ufops/<name>/instances/<int:index>/stop")
    @changes_route
    def stop_instance(self, request, name, index):
        return self.instance_action(request, name, index, "stop_instance")

    @api("POST", "/api/ufops/<name>/instances/<int:index>/reboot")
    @changes_route
    def reboot_instance(self, request, name, index):
        return self.instance_action(request, name, index, "reboot_instance")

    @api("POST", "/api/ufops/<name>/instances/<int:index>/switch")
    @changes_route
    def switch_instance(self, request, name, index):
        return self.instance_action(request, name, index, "switch_instance")

    @api("DELETE", "/api/ufops/<name>/instances/<int:index>")
    @changes_route
    def delete_instance(self, request, name, index):
        caller = self.caller(request)
        self.scheduler.delete_instance.call_with_deadline(
            self.operation_deadline(), caller.uid, name, index, admin=caller.admin)

    @api("GET", "/api/ufops/<name>/instances/<int:index>/log")
    def instance_log(self, request, name, index):
        """The instance's log: ``tail`` lines (at or after ``since``), or with ``follow``
        an NDJSON stream of them and of every new line until the client leaves."""
        caller = self.caller(request)
        tail = int_arg(request, "tail", 100, 0, 100000)
        since = time_arg(request, "since")
        follow = bool_arg(request, "follow")
        ufop = self.registry.authorize(caller.uid, name, "manage", admin=caller.admin)
        answer = self.logs.instance_log(ufop["id"], index, tail, since)
        if not answer["known"]:
            listed = self.scheduler.list_instances(caller.uid, name, admin=caller.admin)
            if index not in [i["index"] for i in listed]:
                raise InstanceNotFound(f"instance {index} not found")
        if not follow:
            return {"log": "\n".join(line["line"] for line in answer["lines"])}
        request.environ["eventlet.minimum_write_chunk_size"] = 0  # each line goes out at once
        return Response(follow_log(self.logs, ufop["id"], index, answer),
                        content_type="application/x-ndjson")

    # -- the data plane (SPEC §7) ----------------------------------------------------------
    @api("GET,POST", "/ufop/<name>")
    def call_ufop(self, request, name):
        return self.call(request, name, "")

    @api("GET,POST", "/ufop/<name>/<path:params>")
    def call_ufop_with_params(self, request, name, params):
        return self.call(request, name, params)

    def call(self, request, name, params):
        started, label, status = time.perf_counter(), "", 500
        try:
            if not re.match(NAME_RE, name):
                raise UfopNotfound(f"ufop {name!r} not found")
            route = self.upstream.router.get(name, lambda: self.fetch_route(name))
            label = name
            caller, body = None, body_of(request, self.settings.max_invoke_bytes)
            if request.headers.get("Authorization"):
                pending = self.accounts.begin(request)
                if pending.body_signed and body is not None:
                    body = signed_body(body, self.settings.max_body_bytes)
                    pending.feed(body.stream.getvalue())
                caller = pending.check()
            route.allows(caller)
            request.environ["eventlet.minimum_write_chunk_size"] = 0  # pieces go out as they come
            response = self.upstream.forward(route, name, params, request, body)
            status = response.status_code
            return response
        except UfopError as exc:
            status = exc.status
            raise
        finally:
            metrics.observe_invocation(label, status, time.perf_counter() - started)

    def fetch_route(self, name):
        ufop = self.registry.route(name)
        endpoints = self.scheduler.endpoints(ufop["id"])
        return Route(name, ufop["id"], ufop["owner"], ufop["aclMode"],
                     frozenset(ufop["accessList"]), ufop["version"], endpoints)

    def refresh_route(self, name):
        """After an event or an operation done here: the route of ``name`` is fetched again
        (when this process uses it), so the next call already sees the change."""
        self.upstream.router.refresh(name, lambda: self.fetch_route(name))

    @timer(interval=config.load().route_ttl / 2)
    def refresh_stale_routes(self):
        """Routes older than ``UFOP_ROUTE_TTL`` are fetched again (heals missed events)."""
        router = self.upstream.router
        for name in router.stale():
            router.revalidate(name, lambda: self.fetch_route(name))


#: events after which every gateway process refreshes its cached route (broadcast, SPEC §8)
ROUTE_EVENTS = (("registry", "ufop_registered"), ("registry", "ufop_updated"),
                ("registry", "ufop_deleted"), ("registry", "current_version_changed"),
                ("scheduler", "instance_state_changed"), ("scheduler", "instance_deleted"),
                ("scheduler", "instance_switched"))


def _route_refresher(source, event_type):
    @event_handler(source, event_type, handler_type=BROADCAST, reliable_delivery=False)
    def handle(self, payload):
        self.refresh_route(payload["name"])

    handle.__name__ = f"on_{event_type}"
    return handle


for _source, _event_type in ROUTE_EVENTS:
    setattr(GatewayService, f"on_{_event_type}", _route_refresher(_source, _event_type))
