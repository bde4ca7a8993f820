"""HTTP conventions of SPEC §2 through the real gateway: envelope, JSON errors, health, the
OpenAPI document, unknown routes and methods."""
import socket

import pytest
import requests

from gateway import openapi
from support import assert_error, assert_ok


def test_healthz_reports_each_service_unsigned(platform):
    data = assert_ok(platform.anonymous.get("/healthz"))
    assert data == {"gateway": "ok", "registry": "ok", "scheduler": "ok", "logs": "ok"}


def test_openapi_document_is_served_unsigned(platform):
    answer = platform.anonymous.get("/api/openapi.json")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    doc = answer.json()
    assert doc["openapi"].startswith("3.")
    served = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert served == {(m.upper(), p) for m, p, *_ in openapi.ROUTES}
    assert ("POST", "/api/ufops") in served and ("GET", "/api/ufops/{name}/events") in served


@pytest.mark.parametrize("method,path", [
    ("GET", "/nothing-here"), ("GET", "/api"), ("GET", "/api/ufops/a/b/c/d"),
    ("POST", "/api/nope"), ("GET", "/api/ufops/hello/nonsense"), ("GET", "/favicon.ico"),
])
def test_unknown_routes_are_json_404(platform, method, path):
    assert_error(platform.admin.request(method, path), 404)
    assert_error(platform.anonymous.request(method, path), 404)


@pytest.mark.parametrize("method,path", [
    ("DELETE", "/api/accounts/me"), ("PUT", "/api/ufops"), ("POST", "/healthz"),
    ("PATCH", "/api/ufops/hello"), ("DELETE", "/api/openapi.json"),
    ("GET", "/api/ufops/hello/apply"),
])
def test_unknown_methods_are_json_405(platform, method, path):
    assert_error(platform.admin.request(method, path), 405)


@pytest.mark.parametrize("method,path", [
    ("GET", "/api/ufops"), ("POST", "/api/ufops"), ("GET", "/api/ufops/hello"),
    ("PUT", "/api/ufops/hello"), ("DELETE", "/api/ufops/hello"),
    ("POST", "/api/ufops/hello/apply"), ("POST", "/api/ufops/hello/unapply"),
    ("GET", "/api/ufops/hello/events"), ("GET", "/api/accounts/me"),
    ("POST", "/api/accounts"),
])
def test_every_api_route_needs_a_signature(platform, method, path):
    assert_error(platform.anonymous.request(method, path, json={"name": "hello"}), 401,
                 "Unauthorized", "Authorization")


@pytest.mark.parametrize("header", ["Bearer abc", "Qiniu", "Qiniu x", "QBox :", "Basic Zm9v"])
def test_malformed_authorization_is_401(platform, header):
    assert_error(platform.anonymous.get("/api/ufops", headers={"Authorization": header}), 401,
                 "Unauthorized")


def test_success_envelope(platform):
    answer = platform.admin.get("/api/accounts/me")
    body = answer.json()
    assert set(body) == {"code", "data"} and body["code"] == 200
    assert answer.headers["Content-Type"] == "application/json; charset=utf-8"


def test_delete_answers_without_data(platform):
    name = platform.register(platform.admin)
    answer = platform.admin.delete(f"/api/ufops/{name}")
    assert answer.status_code == 200 and answer.json() == {"code": 200}


def test_body_over_the_limit_is_413(platform):
    answer = platform.admin.post("/api/ufops", data=b"{" + b" " * (1 << 20) + b"}",
                                 headers={"Content-Type": "application/json"})
    assert_error(answer, 413, "PayloadTooLarge")


def test_a_garbled_request_line_is_not_answered_with_html(platform):
    host, port = platform.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /api/ufops/%zz%ff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert b"text/html" not in head.lower() and b"<html" not in body.lower()


def test_requests_without_a_host_port_still_answer(platform):
    answer = requests.get(platform.url + "/healthz", headers={"Host": "example.com"}, timeout=10)
    assert answer.status_code == 200
