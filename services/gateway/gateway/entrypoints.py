"""The HTTP entrypoint: every answer in the envelope of SPEC §2, errors from the one table.

A route returns its ``data`` (or a ``Reply`` for extra top-level keys, or a werkzeug
``Response`` to take over); any exception becomes ``{"code", "error", "message"}`` with the
status of its class in ``ufop_common.errors`` -- never a traceback, never HTML.
"""
import json
import logging
import socket
import time
from dataclasses import dataclass, field

from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer, WsgiApp
from werkzeug.exceptions import (HTTPException, MethodNotAllowed, NotFound,
                                 RequestEntityTooLarge)
from werkzeug.wrappers import Request, Response

from ufop_common import errors

from . import metrics

log = logging.getLogger(__name__)

JSON = "application/json; charset=utf-8"


@dataclass
class Reply:
    data: object = None
    extra: dict = field(default_factory=dict)
    status: int = 200


def json_response(body, status=200, headers=None):
    return Response(json.dumps(body, ensure_ascii=False, separators=(",", ":")),
                    status=status, headers=headers, content_type=JSON)


def error_response(exc):
    err = errors.as_ufop_error(exc)
    if err is not exc:
        log.error("unexpected error answered as 500", exc_info=exc)
    body = {"code": err.status, "error": err.name, "message": err.message}
    extra = getattr(exc, "extra", None)
    if extra:
        body.update(extra)
    return json_response(body, err.status)


def routing_error(exc):
    """werkzeug's routing exceptions as our errors."""
    if isinstance(exc, NotFound):
        return errors.NotFound("no such endpoint")
    if isinstance(exc, MethodNotAllowed):
        return errors.MethodNotAllowed("method not allowed on this endpoint")
    if isinstance(exc, RequestEntityTooLarge):
        return errors.PayloadTooLarge("request body too large")
    return errors.InvalidArgs(exc.description or "bad request")


class JsonWsgiApp(WsgiApp):
    """nameko's WSGI app, with unknown paths and methods answered in the envelope too."""

    def __call__(self, environ, start_response):
        # eventlet's wsgi.input ends at Content-Length and decodes a chunked body itself;
        # saying so keeps werkzeug from reading a body without Content-Length as empty
        environ.setdefault("wsgi.input_terminated", True)
        started = time.perf_counter()
        request = Request(environ, shallow=True)
        adapter = self.url_map.bind_to_environ(environ)
        route = "unmatched"
        try:
            provider, values = adapter.match()
            route = provider.url
            request.path_values = values
            response = provider.handle_request(request)
        except HTTPException as exc:
            response = error_response(routing_error(exc))
        except Exception as exc:  # a failure outside any route: still the envelope
            response = error_response(exc)
        metrics.observe(request.method, route, response.status_code,
                        time.perf_counter() - started)
        return response(environ, start_response)


class ApiServer(WebServer):
    def get_wsgi_app(self):
        return JsonWsgiApp(self)

    def get_wsgi_server(self, sock, wsgi_app, **kwargs):
        # answers go out as written: without this, a head and body sent in two writes wait
        # for the client's delayed ACK (40 ms) under Nagle. Accepted sockets inherit it.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return super().get_wsgi_server(sock, wsgi_app, **kwargs)


class ApiRoute(HttpRequestHandler):
    server = ApiServer()

    def response_from_result(self, result):
        if isinstance(result, Response):
            return result
        if isinstance(result, Reply):
            body = {"code": result.status}
            if result.data is not None:
                body["data"] = result.data
            body.update(result.extra)
            return json_response(body, result.status)
        body = {"code": 200}
        if result is not None:
            body["data"] = result
        return json_response(body)

    def response_from_exception(self, exc):
        if isinstance(exc, HTTPException):
            exc = routing_error(exc)
        return error_response(exc)


def api(method, url):
    """``@api(method, url)``: a route whose UfopErrors are answers, not crashes."""
    return ApiRoute.decorator(method, url, expected_exceptions=errors.UfopError)
