"""A client of the gateway: one method per endpoint, every request signed the Qiniu way.

``Client(url, ak, sk).get_ufop("fileinfo")`` returns the ``data`` of the answer; a failure is
one ``ApiError(status, error, message)`` built from the server's ``{code, error, message}``
envelope (SPEC §2), or ``GatewayUnreachable`` when no gateway answers at ``url``. ``ufopctl``
is built on it; other tools may use it too.
"""
import json
import os
import time
from urllib.parse import quote, urlsplit

import requests

from .auth import OCTET_STREAM, sign_qiniu

CONNECT_TIMEOUT = 10
#: seconds to wait for an answer: instance operations wait for health on the server
READ_TIMEOUT = 180
#: a followed log sends a blank line every 15 s: silence past this means the gateway is gone
FOLLOW_READ_TIMEOUT = 60


class ApiError(Exception):
    """An error answer of the gateway: its HTTP status, error name and message."""

    def __init__(self, status, error, message):
        super().__init__(message)
        self.status, self.error, self.message = status, error, message

    def __str__(self):
        return f"{self.message} ({self.error}, {self.status})"


class GatewayUnreachable(ApiError):
    """No gateway answered at the URL (refused, timed out, not HTTP)."""

    def __init__(self, url, reason):
        super().__init__(0, "GatewayUnreachable",
                         f"cannot reach the gateway at {url}: {reason}")

    def __str__(self):
        return self.message


class QiniuAuth(requests.auth.AuthBase):
    """Signs a prepared request: ``Authorization: Qiniu AK:sign`` with an ``X-Qiniu-Date``,
    as the official SDK's ``QiniuMacRequestsAuth`` does. A body is signed only when it is in
    memory and its Content-Type is not octet-stream (a streamed upload is octet-stream)."""

    def __init__(self, access_key, secret_key):
        self.access_key, self.secret_key = access_key, secret_key

    def __call__(self, request):
        parts = urlsplit(request.url)
        path_query = parts.path + (f"?{parts.query}" if parts.query else "")
        request.headers["X-Qiniu-Date"] = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        body = request.body if isinstance(request.body, (bytes, str)) else b""
        request.headers["Authorization"] = sign_qiniu(
            self.access_key, self.secret_key, request.method, path_query, parts.netloc,
            request.headers.get("Content-Type"), body or b"", headers=request.headers)
        return request


class ProgressReader:
    """A file object whose reads report how many bytes went so far; its ``len`` gives
    requests the Content-Length, so the body streams from the file and is never read whole."""

    def __init__(self, fileobj, size, callback=None):
        self.fileobj, self.size, self.callback = fileobj, size, callback
        self.sent = 0

    def __len__(self):
        return self.size

    def read(self, amount=-1):
        chunk = self.fileobj.read(amount)
        self.sent += len(chunk)
        if self.callback and chunk:
            self.callback(self.sent, self.size)
        return chunk


def error_of(answer):
    """The ApiError of a failed answer (its envelope, or what can be said without one)."""
    body = envelope(answer)
    if body is not None:
        return ApiError(body["code"], body["error"], body["message"])
    text = answer.text.strip()[:200] or answer.reason or "no message"
    return ApiError(answer.status_code, "HTTPError", f"HTTP {answer.status_code}: {text}")


def envelope(answer):
    """The ``{code, error, message}`` body of a gateway error, or None when it is not one
    (the data plane passes an instance's own answers through as they are)."""
    if not answer.headers.get("Content-Type", "").startswith("application/json"):
        return None
    try:
        body = answer.json()
    except ValueError:
        return None
    if (isinstance(body, dict) and set(body) == {"code", "error", "message"}
            and body["code"] == answer.status_code):
        return body
    return None


class Client:
    def __init__(self, url, access_key=None, secret_key=None, timeout=READ_TIMEOUT):
        self.url = url.rstrip("/")
        self.timeout = (CONNECT_TIMEOUT, timeout)
        self.session = requests.Session()
        self.signed = bool(access_key and secret_key)
        if self.signed:
            self.session.auth = QiniuAuth(access_key, secret_key)

    # -- transport ---------------------------------------------------------------------
    def send(self, method, path, *, json_body=None, **kwargs):
        """The answer to a request (any status); GatewayUnreachable when there is none."""
        kwargs.setdefault("timeout", self.timeout)
        if json_body is not None:
            kwargs["data"] = json.dumps(json_body).encode()
            kwargs.setdefault("headers", {})["Content-Type"] = "application/json"
        try:
            return self.session.request(method, self.url + path, **kwargs)
        except requests.exceptions.InvalidURL as exc:
            raise GatewayUnreachable(self.url, f"not a valid URL ({exc})") from None
        except requests.RequestException as exc:
            raise GatewayUnreachable(self.url, reason_of(exc)) from None

    def call(self, method, path, json_body=None, **kwargs):
        """The whole body of a successful answer (``{code, data[, marker]}``)."""
        answer = self.send(method, path, json_body=json_body, **kwargs)
        if not answer.ok:
            raise error_of(answer)
        try:
            return answer.json()
        except ValueError:
            raise ApiError(answer.status_code, "HTTPError",
                           f"the gateway at {self.url} answered something not JSON") from None

    def data(self, method, path, json_body=None, **kwargs):
        return self.call(method, path, json_body, **kwargs).get("data")

    # -- accounts ----------------------------------------------------------------------
    def me(self):
        return self.data("GET", "/api/accounts/me")

    def create_account(self, admin=False):
        return self.data("POST", "/api/accounts", {"admin": admin})

    # -- ufops -------------------------------------------------------------------------
    def create_ufop(self, name, acl_mode, desc=None, configuration=None):
        fields = {"name": name, "aclMode": acl_mode}
        if desc is not None:
            fields["desc"] = desc
        if configuration is not None:
            fields["configuration"] = configuration
        return self.data("POST", "/api/ufops", fields)

    def delete_ufop(self, name):
        self.data("DELETE", f"/api/ufops/{q(name)}")

    def list_ufops(self, limit=None, marker=None):
        """One page: ``(items, marker)``, the marker None on the last page."""
        params = {k: v for k, v in (("limit", limit), ("marker", marker)) if v is not None}
        body = self.call("GET", "/api/ufops", params=params)
        return body.get("data") or [], body.get("marker")

    def iter_ufops(self, page_size=1000):
        """Every ufop the caller may see, page after page."""
        marker = None
        while True:
            items, marker = self.list_ufops(page_size, marker)
            yield from items
            if not marker:
                return

    def get_ufop(self, name):
        return self.data("GET", f"/api/ufops/{q(name)}")

    def update_ufop(self, name, **fields):
        """Any of ``version, aclMode, desc, configuration, accessList, flavor,
        maxInstanceNum``; the detail after the change."""
        return self.data("PUT", f"/api/ufops/{q(name)}", fields)

    def set_version(self, name, version):
        return self.update_ufop(name, version=version)

    def events(self, name, limit=None):
        params = {"limit": limit} if limit is not None else {}
        return self.data("GET", f"/api/ufops/{q(name)}/events", params=params)

    # -- images and versions -----------------------------------------------------------
    def upload_image(self, name, version, fileobj, size, progress_callback=None, desc=None):
        """Upload an archive (``size`` bytes, streamed from ``fileobj``); the build starts in
        the background: ``{ufop, version, state: "building"}``."""
        params = {"ufop": name, "version": version}
        if desc:
            params["desc"] = desc
        body = ProgressReader(fileobj, size, progress_callback)
        return self.data("POST", "/api/images", params=params, data=body,
                         headers={"Content-Type": OCTET_STREAM})

    def list_versions(self, name):
        return self.data("GET", f"/api/ufops/{q(name)}/versions")

    def build_log(self, name, version):
        return self.data("GET", f"/api/ufops/{q(name)}/versions/{q(version)}/log")["log"]

    # -- instances ---------------------------------------------------------------------
    def list_instances(self, name):
        return self.data("GET", f"/api/ufops/{q(name)}/instances")

    def add_instances(self, name, size, version=None):
        fields = {"size": size}
        if version is not None:
            fields["version"] = version
        return self.data("POST", f"/api/ufops/{q(name)}/instances", fields)

    def delete_instance(self, name, index):
        self.data("DELETE", f"/api/ufops/{q(name)}/instances/{int(index)}")

    def instance_action(self, name, index, action):
        """``start``, ``stop``, ``reboot`` or ``switch``: ``{index, version, state}``."""
        if action not in ("start", "stop", "reboot", "switch"):
            raise ValueError(f"unknown instance action {action!r}")
        return self.data("POST", f"/api/ufops/{q(name)}/instances/{int(index)}/{action}", {})

    def instance_log(self, name, index, tail=None, since=None):
        return self.data("GET", f"/api/ufops/{q(name)}/instances/{int(index)}/log",
                         params=log_params(tail, since))["log"]

    def follow_log(self, name, index, tail=None, since=None):
        """The log's lines as they come (``{time, stream, version, line}``), until the
        caller stops iterating or the gateway ends the stream."""
        params = dict(log_params(tail, since), follow="true")
        answer = self.send("GET", f"/api/ufops/{q(name)}/instances/{int(index)}/log",
                           params=params, stream=True,
                           timeout=(CONNECT_TIMEOUT, FOLLOW_READ_TIMEOUT))
        with answer:
            if not answer.ok:
                raise error_of(answer)
            try:
                for raw in answer.iter_lines():
                    if not raw.strip():
                        continue  # the gateway's heartbeat
                    item = json.loads(raw)
                    if "error" in item:
                        raise ApiError(500, item["error"], item.get("message", ""))
                    yield item
            except requests.RequestException as exc:
                raise GatewayUnreachable(self.url, reason_of(exc)) from None

    # -- the data plane ----------------------------------------------------------------
    def invoke(self, name_with_params, body=None, url=None):
        """Call a ufop: ``GET /ufop/<name>[/<params>]`` (``?url=`` when given), or POST with
        ``body`` (bytes or a file object, streamed as octet-stream). Signed when the client
        has keys (PROTECTED and PRIVATE ufops need it). Returns the streamed answer of the
        instance, whatever its status; a gateway error (no instance, ...) raises ApiError."""
        params = {"url": url} if url is not None else None
        path = "/ufop/" + quote(name_with_params.strip("/"), safe="/")
        if body is None:
            answer = self.send("GET", path, params=params, stream=True)
        else:
            answer = self.send("POST", path, params=params, data=body, stream=True,
                               headers={"Content-Type": OCTET_STREAM})
        if not answer.ok and envelope(answer) is not None:
            answer.close()
            raise error_of(answer)
        return answer


def q(segment):
    """A path segment, quoted (a name with a slash is not a path)."""
    return quote(str(segment), safe="")


def log_params(tail, since):
    params = {}
    if tail is not None:
        params["tail"] = tail
    if since is not None:
        params["since"] = since
    return params


def reason_of(exc):
    """A short reason for a transport failure (``connection refused``), not the nested
    reprs of requests and urllib3."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "the connection timed out"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "no answer in time"
    cause = os_error_in(exc)
    if cause is not None:
        # errno's own words (eventlet's sockets give "ECONNREFUSED"); a name lookup's
        # error numbers are negative and only its strerror says them
        words = os.strerror(cause.errno) if cause.errno > 0 else cause.strerror
        return (words or str(cause)).lower()
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "the connection failed"
    return type(exc).__name__


def os_error_in(exc):
    """The operating system's error (with an errno) under a requests exception, if any."""
    pending, seen = [exc], set()
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and isinstance(current.errno, int):
            return current
        pending += [current.__cause__, current.__context__, getattr(current, "reason", None)]
        pending += [arg for arg in current.args if isinstance(arg, BaseException)]
    return None
