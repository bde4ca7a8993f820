"""gateway.auth.Accounts.verify on fake werkzeug requests, signed by the official qiniu SDK."""
from datetime import datetime, timedelta, timezone

import pytest
from qiniu import Auth
from qiniu.auth import QiniuMacAuth
from werkzeug.test import EnvironBuilder

from gateway import models
from gateway.auth import Accounts
from ufop_common.config import Settings
from ufop_common.errors import Unauthorized
from ufop_common.store import bind

BASE = "http://127.0.0.1:8080"
HOST = "127.0.0.1:8080"
AK, SK = "unit-ak", "unit-sk"


@pytest.fixture
def accounts(tmp_path):
    bind(models.database, f"sqlite:///{tmp_path / 'gateway.db'}", models.MODELS)
    accounts = Accounts(Settings(admin_ak="admin-ak", admin_sk="admin-sk"))
    accounts.bootstrap_admin()
    accounts.create(keys=(AK, SK))
    yield accounts
    models.database.close()


def qiniu_date(delta=timedelta(0)):
    return (datetime.now(timezone.utc) + delta).strftime("%Y%m%dT%H%M%SZ")


def signed(method, path, body=b"", content_type=None, headers=None, ak=AK, sk=SK,
           sign_path=None, sign_body=None):
    """A werkzeug request signed by the SDK (optionally for another path or body)."""
    headers = dict(headers or {})
    if content_type:
        headers["Content-Type"] = content_type
    mac = QiniuMacAuth(ak, sk, disable_qiniu_timestamp_signature=True)
    token = mac.token_of_request(method, HOST, BASE + (sign_path or path),
                                 mac.qiniu_headers(headers), content_type,
                                 body if sign_body is None else sign_body)
    headers["Authorization"] = f"Qiniu {token}"
    return request(method, path, body, headers)


def request(method, path, body=b"", headers=None):
    path, _, query = path.partition("?")
    builder = EnvironBuilder(method=method, path=path, query_string=query, base_url=BASE,
                             headers=headers or {}, data=body)
    return builder.get_request()


def test_good_signature_identifies_the_account(accounts):
    caller = accounts.verify(signed("GET", "/api/accounts/me"))
    assert (caller.access_key, caller.admin) == (AK, False)
    assert caller.uid.isdigit()


def test_body_and_query_and_date_are_accepted_when_signed(accounts):
    body = b'{"name":"hello","aclMode":0}'
    req = signed("POST", "/api/ufops?x=1&y=2", body, "application/json",
                 headers={"X-Qiniu-Date": qiniu_date()})
    assert accounts.verify(req, body).access_key == AK


def test_admin_from_settings(accounts):
    req = signed("GET", "/api/accounts/me", ak="admin-ak", sk="admin-sk")
    assert accounts.verify(req).admin is True


def test_missing_authorization(accounts):
    with pytest.raises(Unauthorized, match="Authorization"):
        accounts.verify(request("GET", "/api/accounts/me"))


@pytest.mark.parametrize("header", ["Bearer abc", "Qiniu", "Qiniu nocolon", "Qiniu :sig",
                                    "Qiniu ak:", "", "qiniu unit-ak:x"])
def test_malformed_authorization(accounts, header):
    with pytest.raises(Unauthorized):
        accounts.verify(request("GET", "/api/accounts/me", headers={"Authorization": header}))


def test_forged_signature(accounts):
    req = signed("GET", "/api/accounts/me", sk="not-the-secret")
    with pytest.raises(Unauthorized, match="signature"):
        accounts.verify(req)


def test_unknown_access_key(accounts):
    req = signed("GET", "/api/accounts/me", ak="nobody", sk=SK)
    with pytest.raises(Unauthorized, match="access key"):
        accounts.verify(req)


@pytest.mark.parametrize("delta", [timedelta(minutes=-16), timedelta(minutes=16),
                                   timedelta(days=-1)])
def test_stale_date(accounts, delta):
    req = signed("GET", "/api/accounts/me", headers={"X-Qiniu-Date": qiniu_date(delta)})
    with pytest.raises(Unauthorized, match="X-Qiniu-Date"):
        accounts.verify(req)


@pytest.mark.parametrize("delta", [timedelta(minutes=-14), timedelta(minutes=14)])
def test_date_within_the_window(accounts, delta):
    req = signed("GET", "/api/accounts/me", headers={"X-Qiniu-Date": qiniu_date(delta)})
    assert accounts.verify(req).access_key == AK


@pytest.mark.parametrize("value", ["yesterday", "2024-01-02T03:04:05Z", "20241302T030405Z",
                                   "", "20240102T030405"])
def test_malformed_date(accounts, value):
    req = signed("GET", "/api/accounts/me", headers={"X-Qiniu-Date": value})
    with pytest.raises(Unauthorized, match="X-Qiniu-Date"):
        accounts.verify(req)


def test_date_header_is_covered_by_the_signature(accounts):
    req = signed("GET", "/api/accounts/me", headers={"X-Qiniu-Date": qiniu_date()})
    tampered = request("GET", "/api/accounts/me", headers={
        "Authorization": req.headers["Authorization"],
        "X-Qiniu-Date": qiniu_date(timedelta(minutes=1))})
    with pytest.raises(Unauthorized, match="signature"):
        accounts.verify(tampered)


@pytest.mark.parametrize("sign_path", ["/api/ufops/other", "/api/ufops/hello?limit=1",
                                       "/api/ufops"])
def test_signature_made_for_another_path(accounts, sign_path):
    req = signed("GET", "/api/ufops/hello", sign_path=sign_path)
    with pytest.raises(Unauthorized, match="signature"):
        accounts.verify(req)


def test_signature_made_for_another_method(accounts):
    good = signed("GET", "/api/ufops/hello")
    req = request("DELETE", "/api/ufops/hello",
                  headers={"Authorization": good.headers["Authorization"]})
    with pytest.raises(Unauthorized, match="signature"):
        accounts.verify(req)


def test_body_tampered(accounts):
    body = b'{"name":"hello","aclMode":0}'
    req = signed("POST", "/api/ufops", body, "application/json",
                 sign_body=b'{"name":"hello","aclMode":2}')
    with pytest.raises(Unauthorized, match="signature"):
        accounts.verify(req, body)


def test_octet_stream_body_is_not_signed(accounts):
    req = signed("POST", "/api/images?ufop=hello&version=v1", b"abc",
                 "application/octet-stream", sign_body=b"something else")
    assert accounts.verify(req, b"abc").access_key == AK


def test_body_streamed_in_chunks(accounts):
    body = b'{"desc":"' + b"x" * 5000 + b'"}'
    pending = accounts.begin(signed("PUT", "/api/ufops/hello", body, "application/json"))
    for start in range(0, len(body), 1000):
        pending.feed(body[start:start + 1000])
    assert pending.check().access_key == AK


def test_qbox_signed_by_the_sdk(accounts):
    token = Auth(AK, SK).token_of_request(BASE + "/api/ufops?limit=2")
    req = request("GET", "/api/ufops?limit=2", headers={"Authorization": f"QBox {token}"})
    assert accounts.verify(req).access_key == AK


def test_qbox_signs_a_form_body(accounts):
    form = "application/x-www-form-urlencoded"
    token = Auth(AK, SK).token_of_request(BASE + "/api/ufops/hello/apply", "a=1", form)
    headers = {"Authorization": f"QBox {token}", "Content-Type": form}
    assert accounts.verify(request("POST", "/api/ufops/hello/apply", b"a=1", headers),
                           b"a=1").access_key == AK
    with pytest.raises(Unauthorized):
        accounts.verify(request("POST", "/api/ufops/hello/apply", b"a=2", headers), b"a=2")


def test_qbox_forged_or_for_another_path(accounts):
    forged = Auth(AK, "wrong").token_of_request(BASE + "/api/ufops")
    with pytest.raises(Unauthorized):
        accounts.verify(request("GET", "/api/ufops", headers={"Authorization": f"QBox {forged}"}))
    other = Auth(AK, SK).token_of_request(BASE + "/api/ufops/a")
    with pytest.raises(Unauthorized):
        accounts.verify(request("GET", "/api/ufops/b", headers={"Authorization": f"QBox {other}"}))


def test_a_qbox_signature_is_not_a_qiniu_signature(accounts):
    token = Auth(AK, SK).token_of_request(BASE + "/api/accounts/me")
    req = request("GET", "/api/accounts/me", headers={"Authorization": f"Qiniu {token}"})
    with pytest.raises(Unauthorized):
        accounts.verify(req)


def test_bootstrap_admin_keeps_one_admin_and_takes_new_secret(tmp_path):
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    bind(models.database, url, models.MODELS)
    first = Accounts(Settings(admin_ak="adm", admin_sk="one")).bootstrap_admin()
    again = Accounts(Settings(admin_ak="adm", admin_sk="two")).bootstrap_admin()
    assert first.uid == again.uid and again.secret_key == "two" and again.admin
    with models.database.connection_context():
        assert models.Account.select().count() == 1
    models.database.close()


def test_bootstrap_without_keys_generates_them_once(tmp_path, capsys):
    bind(models.database, f"sqlite:///{tmp_path / 'gateway.db'}", models.MODELS)
    made = Accounts(Settings()).bootstrap_admin()
    assert made.admin and made.access_key and made.secret_key
    assert made.secret_key in capsys.readouterr().out
    assert Accounts(Settings()).bootstrap_admin() is None
    assert made.secret_key not in capsys.readouterr().out
    models.database.close()
