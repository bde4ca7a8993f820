"""Identity (SPEC §3) through HTTP: accounts, Qiniu and QBox signatures made by the official SDK."""
import requests
from qiniu import Auth
from qiniu.auth import QiniuMacAuth, QiniuMacRequestsAuth, RequestsAuth

from support import (assert_error, assert_ok, new_name, qiniu_date, sdk_authorization,
                     send_signed)


def qbox(platform, client):
    session = requests.Session()
    session.auth = RequestsAuth(Auth(client.access_key, client.secret_key))
    return session


def test_admin_creates_accounts_that_sign_with_their_keys(platform):
    data = assert_ok(platform.admin.post("/api/accounts", json={}))
    assert set(data) == {"uid", "accessKey", "secretKey"}
    assert data["uid"].isdigit()
    session = requests.Session()
    session.auth = QiniuMacRequestsAuth(QiniuMacAuth(data["accessKey"], data["secretKey"]))
    me = assert_ok(session.get(platform.url + "/api/accounts/me", timeout=10))
    assert (me["uid"], me["accessKey"], me["admin"]) == (data["uid"], data["accessKey"], False)
    assert "secretKey" not in me


def test_accounts_are_distinct(platform):
    made = [platform.new_account() for _ in range(3)]
    assert len({c.uid for c in made}) == 3 and len({c.access_key for c in made}) == 3


def test_only_an_admin_creates_accounts(platform):
    user = platform.new_account()
    assert_error(user.post("/api/accounts", json={}), 403, "Forbidden")
    assert_error(user.post("/api/accounts", json={"admin": True}), 403, "Forbidden")
    assert_error(platform.anonymous.post("/api/accounts", json={}), 401, "Unauthorized")


def test_an_admin_may_make_admins(platform):
    second = platform.new_account(admin=True)
    assert assert_ok(second.get("/api/accounts/me"))["admin"] is True
    third = assert_ok(second.post("/api/accounts", json={"admin": False}))
    assert third["uid"]


def test_account_creation_validates_its_body(platform):
    assert_error(platform.admin.post("/api/accounts", json={"admin": "yes"}), 400,
                 "InvalidArgs", "admin")
    assert_error(platform.admin.post("/api/accounts", json={"admin": 1}), 400, "InvalidArgs",
                 "admin")
    assert_error(platform.admin.post("/api/accounts", data=b"{not json",
                                     headers={"Content-Type": "application/json"}), 400,
                 "InvalidArgs", "body")
    assert_ok(platform.admin.post("/api/accounts"))  # no body: defaults
    assert_ok(platform.admin.post("/api/accounts", json={"admin": False, "extra": 1}))


def test_me(platform):
    me = assert_ok(platform.admin.get("/api/accounts/me"))
    assert me["accessKey"] == platform.admin.access_key and me["admin"] is True


def test_qbox_legacy_signature(platform):
    user = platform.new_account()
    session = qbox(platform, user)
    me = assert_ok(session.get(platform.url + "/api/accounts/me", timeout=10))
    assert me["uid"] == user.uid
    name = new_name()
    detail = assert_ok(session.post(platform.url + "/api/ufops",
                                    json={"name": name, "aclMode": 0}, timeout=10))
    assert detail["owner"] == user.uid
    listing = assert_ok(session.get(platform.url + "/api/ufops?limit=1000", timeout=10))
    assert name in [u["name"] for u in listing]
    assert_ok(session.delete(f"{platform.url}/api/ufops/{name}", timeout=10))


def test_qbox_forged_and_for_another_path(platform):
    user = platform.new_account()
    forged = Auth(user.access_key, "not-the-secret").token_of_request(
        platform.url + "/api/accounts/me")
    assert_error(requests.get(platform.url + "/api/accounts/me",
                              headers={"Authorization": f"QBox {forged}"}, timeout=10),
                 401, "Unauthorized")
    other = Auth(user.access_key, user.secret_key).token_of_request(platform.url + "/api/ufops")
    assert_error(requests.get(platform.url + "/api/accounts/me",
                              headers={"Authorization": f"QBox {other}"}, timeout=10),
                 401, "Unauthorized")


def test_forged_signature_is_401(platform):
    user = platform.new_account()
    user.secret_key = "guessed"
    assert_error(send_signed(user, "GET", "/api/accounts/me"), 401, "Unauthorized")


def test_unknown_access_key_is_401(platform):
    user = platform.new_account()
    user.access_key = "nobody-has-this-key"
    assert_error(send_signed(user, "GET", "/api/accounts/me"), 401, "Unauthorized")


def test_stale_x_qiniu_date_is_401(platform):
    user = platform.new_account()
    for offset in (-16 * 60, 16 * 60, -86400):
        answer = send_signed(user, "GET", "/api/accounts/me",
                             headers={"X-Qiniu-Date": qiniu_date(offset)})
        assert_error(answer, 401, "Unauthorized", "X-Qiniu-Date")
    fresh = send_signed(user, "GET", "/api/accounts/me",
                        headers={"X-Qiniu-Date": qiniu_date(-10 * 60)})
    assert assert_ok(fresh)["uid"] == user.uid


def test_malformed_x_qiniu_date_is_401(platform):
    user = platform.new_account()
    answer = send_signed(user, "GET", "/api/accounts/me", headers={"X-Qiniu-Date": "today"})
    assert_error(answer, 401, "Unauthorized", "X-Qiniu-Date")


def test_signature_for_another_path_is_401(platform):
    user = platform.new_account()
    name = platform.register(user)
    ok = send_signed(user, "GET", f"/api/ufops/{name}")
    assert assert_ok(ok)["name"] == name
    for signed_for in ("/api/accounts/me", f"/api/ufops/{name}?x=1", "/api/ufops"):
        answer = send_signed(user, "GET", f"/api/ufops/{name}", sign_path=signed_for)
        assert_error(answer, 401, "Unauthorized")
    answer = send_signed(user, "DELETE", f"/api/ufops/{name}", sign_path=f"/api/ufops/{name}x")
    assert_error(answer, 401, "Unauthorized")
    assert_ok(user.get(f"/api/ufops/{name}"))  # still there


def test_tampered_body_is_401(platform):
    user = platform.new_account()
    name = new_name()
    headers = {"Content-Type": "application/json"}
    good = f'{{"name":"{name}","aclMode":0}}'.encode()
    bad = f'{{"name":"{name}","aclMode":2}}'.encode()
    url = platform.url + "/api/ufops"
    headers["Authorization"] = sdk_authorization(user, "POST", url, headers, good)
    answer = requests.post(url, data=bad, headers=headers, timeout=10)
    assert_error(answer, 401, "Unauthorized")
    assert_error(user.get(f"/api/ufops/{name}"), 404, "UfopNotfound")


def test_the_sdk_signs_every_method_and_query(platform):
    user = platform.new_account()
    name = platform.register(user, acl=1)
    assert assert_ok(user.get("/api/ufops?limit=5")) is not None
    assert_ok(user.put(f"/api/ufops/{name}", json={"desc": "ünïcödé 描述"}))
    assert assert_ok(user.get(f"/api/ufops/{name}"))["description"] == "ünïcödé 描述"
    assert_ok(user.delete(f"/api/ufops/{name}"))
