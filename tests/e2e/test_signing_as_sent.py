"""Signatures are checked against the headers as the client sent them, through the real server.

eventlet's WSGI server reports ``text/plain`` for a request that has no Content-Type; a client
that signs a GET without one (curl, Qiniu's Go SDK, ``wrk`` in ``make bench``) must still pass.
"""
from urllib.parse import urlparse

import requests
from support import assert_error, assert_ok

from ufop_common.auth import sign_qiniu


def get(platform, path, sign_content_type=None, send_content_type=None, extra=None):
    host = urlparse(platform.url).netloc
    headers = dict(extra or {})
    headers["Authorization"] = sign_qiniu(platform.admin.access_key, platform.admin.secret_key,
                                          "GET", path, host, sign_content_type, headers=extra)
    if send_content_type:
        headers["Content-Type"] = send_content_type
    return requests.get(platform.url + path, headers=headers, timeout=30)


def test_a_get_signed_and_sent_without_content_type_passes(platform):
    assert assert_ok(get(platform, "/api/accounts/me"))["accessKey"] == platform.admin.access_key


def test_signed_x_qiniu_headers_are_read_as_sent(platform):
    extra = {"X-Qiniu-Bench": "one", "x-qiniu-zeta": "two"}
    assert assert_ok(get(platform, "/api/accounts/me", extra=extra))


def test_a_content_type_sent_but_not_signed_still_fails(platform):
    assert_error(get(platform, "/api/accounts/me", send_content_type="application/json"), 401,
                 "Unauthorized")
    assert_error(get(platform, "/api/accounts/me", sign_content_type="text/plain"), 401,
                 "Unauthorized")
