"""Our signer (ufop_common.auth) produces exactly what the official qiniu SDK produces."""
import pytest
from qiniu import Auth
from qiniu.auth import QiniuMacAuth

from ufop_common import auth as signing

AK, SK = "ak-Example_0123", "sk-Secret/=+0123"
HOST = "127.0.0.1:8080"


def sdk_qiniu(method, path_query, content_type=None, body=None, headers=None):
    mac = QiniuMacAuth(AK, SK, disable_qiniu_timestamp_signature=True)
    token = mac.token_of_request(method, HOST, f"http://{HOST}{path_query}",
                                 mac.qiniu_headers(headers or {}), content_type, body)
    return f"Qiniu {token}"


CASES = [
    ("GET", "/api/ufops", None, None, None),
    ("GET", "/api/ufops?limit=10&marker=abcde", None, None, None),
    ("DELETE", "/api/ufops/hello", None, None, None),
    ("POST", "/api/ufops", "application/json", b'{"name":"hello","aclMode":0}', None),
    ("PUT", "/api/ufops/hello", "application/json", '{"desc":"d\u00e9j\u00e0 vu"}', None),
    ("POST", "/api/ufops/hello/apply", "application/x-www-form-urlencoded", b"", None),
    ("POST", "/api/images?ufop=hello&version=v1", "application/octet-stream", b"\x00tar",
     None),
    ("GET", "/api/accounts/me", None, None, {"X-Qiniu-Date": "20240102T030405Z"}),
    ("POST", "/api/ufops", "application/json", b"{}",
     {"X-Qiniu-Date": "20240102T030405Z", "X-Qiniu-Bbb": "2", "X-Qiniu-Aaa": "1"}),
]


@pytest.mark.parametrize("method,path_query,content_type,body,headers", CASES)
def test_qiniu_signature_matches_the_sdk(method, path_query, content_type, body, headers):
    ours = signing.sign_qiniu(AK, SK, method, path_query, HOST, content_type, body or b"",
                              headers)
    assert ours == sdk_qiniu(method, path_query, content_type, body, headers)


def test_body_is_signed_only_with_a_content_type_other_than_octet_stream():
    json_a = signing.sign_qiniu(AK, SK, "POST", "/x", HOST, "application/json", b"a")
    json_b = signing.sign_qiniu(AK, SK, "POST", "/x", HOST, "application/json", b"b")
    assert json_a != json_b
    octet_a = signing.sign_qiniu(AK, SK, "POST", "/x", HOST, "application/octet-stream", b"a")
    octet_b = signing.sign_qiniu(AK, SK, "POST", "/x", HOST, "application/octet-stream", b"b")
    assert octet_a == octet_b
    bare_a = signing.sign_qiniu(AK, SK, "POST", "/x", HOST, None, b"a")
    assert bare_a == signing.sign_qiniu(AK, SK, "POST", "/x", HOST, None, b"b")


def test_every_part_of_the_request_is_covered():
    base = signing.sign_qiniu(AK, SK, "GET", "/api/ufops/a", HOST)
    assert base != signing.sign_qiniu(AK, SK, "POST", "/api/ufops/a", HOST)
    assert base != signing.sign_qiniu(AK, SK, "GET", "/api/ufops/b", HOST)
    assert base != signing.sign_qiniu(AK, SK, "GET", "/api/ufops/a?x=1", HOST)
    assert base != signing.sign_qiniu(AK, SK, "GET", "/api/ufops/a", "other:8080")
    assert base != signing.sign_qiniu(AK, "other-sk", "GET", "/api/ufops/a", HOST)
    assert base != signing.sign_qiniu(AK, SK, "GET", "/api/ufops/a", HOST,
                                      headers={"X-Qiniu-Date": "20240102T030405Z"})
    assert base.startswith(f"Qiniu {AK}:")


def test_only_x_qiniu_headers_are_signed_by_their_canonical_names():
    plain = signing.sign_qiniu(AK, SK, "GET", "/x", HOST, headers={"Accept": "*/*",
                                                                    "X-Qiniu-": "empty"})
    assert plain == signing.sign_qiniu(AK, SK, "GET", "/x", HOST)
    lower = signing.sign_qiniu(AK, SK, "GET", "/x", HOST, headers={"x-qiniu-date": "1"})
    assert lower == signing.sign_qiniu(AK, SK, "GET", "/x", HOST,
                                       headers={"X-Qiniu-Date": "1"})
    assert signing.canonical_header_key("x-QINIU-meta-key") == "X-Qiniu-Meta-Key"


QBOX_CASES = [
    ("/api/ufops", None, None),
    ("/api/ufops?limit=3", None, None),
    ("/api/ufops/hello/apply", "application/x-www-form-urlencoded", "a=1&b=2"),
    ("/api/ufops", "application/json", '{"name":"hello"}'),
]


@pytest.mark.parametrize("path_query,content_type,body", QBOX_CASES)
def test_qbox_signature_matches_the_sdk(path_query, content_type, body):
    sdk = Auth(AK, SK).token_of_request(f"http://{HOST}{path_query}", body, content_type)
    assert signing.sign_qbox(AK, SK, path_query, content_type, body or b"") == f"QBox {sdk}"


def test_qbox_signs_a_form_body_and_nothing_else():
    form = "application/x-www-form-urlencoded"
    assert signing.sign_qbox(AK, SK, "/x", form, b"a=1") != signing.sign_qbox(AK, SK, "/x",
                                                                              form, b"a=2")
    assert (signing.sign_qbox(AK, SK, "/x", "application/json", b"1")
            == signing.sign_qbox(AK, SK, "/x", "application/json", b"2"))
