"""Qiniu request signing, as Qiniu defines it (SPEC §3).

``Qiniu AK:sign`` signs ``"<METHOD> <path>[?<query>]\\nHost: <host>[\\nContent-Type: <ct>]
[\\n<X-Qiniu-* headers, sorted>]\\n\\n[<body>]"``; the body only when a Content-Type is present
and is not ``application/octet-stream``. Legacy ``QBox AK:sign`` signs ``path[?query]\\n`` plus a
form-encoded body. The gateway verifies with these; clients and tools sign with them.
"""
import base64
import hashlib
import hmac

OCTET_STREAM = "application/octet-stream"
FORM = "application/x-www-form-urlencoded"
QINIU_HEADER_PREFIX = "X-Qiniu-"


def urlsafe_b64(data):
    return base64.urlsafe_b64encode(data).decode()


def canonical_header_key(key):
    """``x-qiniu-date`` -> ``X-Qiniu-Date`` (Go's CanonicalMIMEHeaderKey, as Qiniu uses)."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in key.split("-"))


def qiniu_headers(headers):
    """The ``X-Qiniu-*`` header lines, canonical names, sorted, joined by newlines."""
    picked = {}
    for key, value in headers.items():
        canon = canonical_header_key(key)
        if canon.startswith(QINIU_HEADER_PREFIX) and len(canon) > len(QINIU_HEADER_PREFIX):
            picked[canon] = value
    return "\n".join(f"{key}: {picked[key]}" for key in sorted(picked))


def body_is_signed(content_type):
    return bool(content_type) and content_type != OCTET_STREAM


def mac_prefix(method, path_query, host, content_type, qheaders):
    """Everything a ``Qiniu`` signature covers before the body."""
    data = f"{method} {path_query}\nHost: {host}"
    if content_type:
        data += f"\nContent-Type: {content_type}"
    if qheaders:
        data += f"\n{qheaders}"
    return (data + "\n\n").encode()


def qbox_prefix(path_query):
    return (path_query + "\n").encode()


def new_mac(secret_key, prefix):
    """An incremental HMAC-SHA1 already fed with ``prefix``: feed it the body, then compare."""
    mac = hmac.new(secret_key.encode(), digestmod=hashlib.sha1)
    mac.update(prefix)
    return mac


def digest(mac):
    return urlsafe_b64(mac.digest())


def sign_qiniu(access_key, secret_key, method, path_query, host, content_type=None,
               body=b"", headers=None):
    """The ``Authorization`` header value for a request (our own client's signer)."""
    mac = new_mac(secret_key, mac_prefix(method, path_query, host, content_type,
                                         qiniu_headers(headers or {})))
    if body_is_signed(content_type) and body:
        mac.update(body if isinstance(body, bytes) else body.encode())
    return f"Qiniu {access_key}:{digest(mac)}"


def sign_qbox(access_key, secret_key, path_query, content_type=None, body=b""):
    mac = new_mac(secret_key, qbox_prefix(path_query))
    if body and content_type == FORM:
        mac.update(body if isinstance(body, bytes) else body.encode())
    return f"QBox {access_key}:{digest(mac)}"
