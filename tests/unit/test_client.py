"""The client library and ufopctl's pieces that need no platform: signatures against the
official qiniu SDK, error envelopes, the saved profile and its precedence, packing, ``--since``."""
import io
import json
import stat
import tarfile

import click
import pytest
import requests
from qiniu.auth import QiniuMacAuth

from ufop_common.client import (ApiError, Client, GatewayUnreachable, ProgressReader,
                                QiniuAuth, envelope, error_of)
from ufop_common.ufopctl import instances, packing, profile

AK, SK = "test-ak", "test-sk"


def prepared(method, url, **kwargs):
    session = requests.Session()
    session.auth = QiniuAuth(AK, SK)
    return session.prepare_request(requests.Request(method, url, **kwargs))


def sdk_authorization(request):
    """What the official SDK signs for the same request (its headers as sent)."""
    mac = QiniuMacAuth(AK, SK)
    headers = {k: v for k, v in request.headers.items()}
    body = request.body if isinstance(request.body, (bytes, str)) else None
    token = mac.token_of_request(request.method, None, request.url, mac.qiniu_headers(headers),
                                 headers.get("Content-Type"), body)
    return f"Qiniu {token}"


@pytest.mark.parametrize("method, url, kwargs", [
    ("GET", "http://127.0.0.1:8080/api/ufops", {}),
    ("GET", "http://127.0.0.1:8080/api/ufops", {"params": {"limit": 2, "marker": "a b"}}),
    ("POST", "http://gw.example:9000/api/ufops", {"json": {"name": "fileinfo",
                                                           "aclMode": "PUBLIC"}}),
    ("PUT", "http://127.0.0.1:8080/api/ufops/x", {"data": b'{"desc": "\xc3\xa9"}',
                                                  "headers": {"Content-Type":
                                                              "application/json"}}),
    ("POST", "http://127.0.0.1:8080/api/images?ufop=x&version=v1",
     {"data": b"\x1f\x8b binary", "headers": {"Content-Type": "application/octet-stream"}}),
    ("DELETE", "http://127.0.0.1:8080/api/ufops/x/instances/2", {}),
])
def test_signatures_match_the_official_sdk(method, url, kwargs):
    request = prepared(method, url, **kwargs)
    assert request.headers["X-Qiniu-Date"]  # signed with a date, as the SDK does by default
    assert request.headers["Authorization"] == sdk_authorization(request)


def test_a_streamed_upload_is_signed_without_its_body():
    body = ProgressReader(io.BytesIO(b"x" * 10), 10)
    request = prepared("POST", "http://127.0.0.1:8080/api/images?ufop=a&version=b", data=body,
                       headers={"Content-Type": "application/octet-stream"})
    assert request.headers["Content-Length"] == "10"
    assert request.headers["Authorization"] == sdk_authorization(
        prepared("POST", "http://127.0.0.1:8080/api/images?ufop=a&version=b", data=b"",
                 headers={"Content-Type": "application/octet-stream",
                          "X-Qiniu-Date": request.headers["X-Qiniu-Date"]}))


def test_progress_reader_reports_every_read():
    seen = []
    reader = ProgressReader(io.BytesIO(b"abcdefgh"), 8, lambda sent, total: seen.append(
        (sent, total)))
    assert len(reader) == 8
    while reader.read(3):
        pass
    assert seen == [(3, 8), (6, 8), (8, 8)]


def answer(status, body, content_type="application/json"):
    response = requests.Response()
    response.status_code = status
    response.headers["Content-Type"] = content_type
    response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return response


def test_errors_come_from_the_envelope():
    error = error_of(answer(404, {"code": 404, "error": "UfopNotfound",
                                  "message": "ufop 'x' not found"}))
    assert (error.status, error.error, error.message) == (404, "UfopNotfound",
                                                          "ufop 'x' not found")
    assert str(error) == "ufop 'x' not found (UfopNotfound, 404)"
    # an instance's own JSON answer is not the gateway's envelope
    assert envelope(answer(400, {"error": "cannot fetch url"})) is None
    assert envelope(answer(503, {"code": 500, "error": "X", "message": "m"})) is None
    plain = error_of(answer(502, b"<html>bad gateway</html>", "text/html"))
    assert plain.status == 502 and "bad gateway" in plain.message


def test_no_gateway_is_one_clear_error():
    client = Client("http://127.0.0.1:1", AK, SK)
    with pytest.raises(GatewayUnreachable) as caught:
        client.me()
    assert isinstance(caught.value, ApiError)
    assert str(caught.value) == ("cannot reach the gateway at http://127.0.0.1:1: "
                                 "connection refused")


# -- ufopctl's profile ------------------------------------------------------------------------
@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("HOME", str(tmp_path))
    for variable in profile.ENV.values():
        monkeypatch.delenv(variable, raising=False)
    return tmp_path


def test_the_profile_is_saved_for_its_owner_only(home):
    path = profile.save("http://gw:1", "ak", "sk")
    assert path == home / "config" / "ufopctl" / "config.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o666)
    profile.save("http://gw:2", "ak", "sk")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"url": "http://gw:2", "ak": "ak", "sk": "sk"}


def test_flags_then_environment_then_profile(home, monkeypatch):
    assert profile.resolve() == profile.Profile("http://127.0.0.1:8080", None, None)
    profile.save("http://saved:1", "saved-ak", "saved-sk")
    assert profile.resolve() == profile.Profile("http://saved:1", "saved-ak", "saved-sk")
    monkeypatch.setenv("UFOP_URL", "env:2/")
    monkeypatch.setenv("UFOP_SK", "env-sk")
    assert profile.resolve() == profile.Profile("http://env:2", "saved-ak", "env-sk")
    assert profile.resolve(url="https://flag:3", ak="flag-ak") == profile.Profile(
        "https://flag:3", "flag-ak", "env-sk")


def test_an_unreadable_profile_says_to_log_in_again(home):
    path = profile.config_path()
    path.parent.mkdir(parents=True)
    path.write_text("{oops")
    with pytest.raises(click.ClickException, match="ufopctl login"):
        profile.resolve()


# -- packing and --since ------------------------------------------------------------------------
def test_a_folder_is_packed_and_the_archive_removed(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "file").write_text("x")
    with packing.archive_of(tmp_path) as (path, size):
        assert path.stat().st_size == size
        with tarfile.open(path) as tar:
            names = sorted(tar.getnames())
            assert {m.uid for m in tar.getmembers()} == {0}
    assert names == ["Dockerfile", "sub", "sub/file"]
    assert not path.exists()


def test_a_folder_without_dockerfile_or_ufop_yaml_is_refused(tmp_path):
    with pytest.raises(click.BadParameter, match="no Dockerfile and no ufop.yaml"):
        with packing.archive_of(tmp_path):
            pass


def test_an_archive_file_is_sent_as_it_is(tmp_path):
    archive = tmp_path / "saved.tar"
    archive.write_bytes(b"tar")
    with packing.archive_of(archive) as (path, size):
        assert (path, size) == (archive, 3)
    assert archive.exists()


def test_since_takes_rfc3339_or_a_duration_ago():
    assert instances.since_of(None) is None
    assert instances.since_of("2024-01-02T03:04:05Z") == "2024-01-02T03:04:05Z"
    ago = instances.since_of("10m")
    assert ago.endswith("Z") and ago[:2] == "20"
