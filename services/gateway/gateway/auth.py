"""Who is calling: Qiniu and QBox signatures verified against the account store (SPEC §3)."""
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import quote

from nameko.extensions import DependencyProvider
from peewee import IntegrityError

from ufop_common import auth as signing
from ufop_common import config
from ufop_common.errors import Unauthorized
from ufop_common.store import bind

from .models import MODELS, Account, database

log = logging.getLogger(__name__)

DATE_FORMAT = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class Caller:
    uid: str
    access_key: str
    secret_key: str
    admin: bool

    @classmethod
    def of(cls, account):
        return cls(account.uid, account.access_key, account.secret_key, account.admin)


def new_keys():
    return secrets.token_urlsafe(30)[:40], secrets.token_urlsafe(30)[:40]


def path_query(request):
    """The request target exactly as the client sent (and signed) it."""
    environ = request.environ
    path = environ.get("RAW_PATH_INFO") or quote(environ.get("PATH_INFO", "/"))
    query = environ.get("QUERY_STRING", "")
    return f"{path}?{query}" if query else path


def sent_headers(request):
    """The request's headers as the client sent them: ``(name, value)`` pairs.

    eventlet's WSGI server keeps them raw in ``headers_raw``. Its ``CONTENT_TYPE`` says
    ``text/plain`` when a request has no Content-Type, which would break every signature made
    without one (curl, Qiniu's Go SDK, a plain GET); and the few raw pairs are quicker to read
    than the whole WSGI environ, which ``request.headers`` scans for every ``X-Qiniu-*``.
    """
    raw = request.environ.get("headers_raw")
    return raw if raw is not None else list(request.headers.items())


def content_type_of(headers):
    """The Content-Type among ``headers`` (pairs), or None when there is none."""
    for key, value in headers:
        if key.lower() == "content-type":
            return value
    return None


def check_date(value, now, window):
    try:
        then = datetime.strptime(value, DATE_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        raise Unauthorized("X-Qiniu-Date: must be YYYYMMDDTHHMMSSZ") from None
    if abs((now - then).total_seconds()) > window:
        raise Unauthorized("X-Qiniu-Date: outside the 15-minute window of server time")


def split_authorization(header):
    scheme, _, token = (header or "").strip().partition(" ")
    access_key, _, sign = token.strip().rpartition(":")
    if scheme not in ("Qiniu", "QBox") or not access_key or not sign:
        raise Unauthorized("Authorization: expected 'Qiniu <AK>:<sign>' or 'QBox <AK>:<sign>'")
    return scheme, access_key, sign


class Accounts:
    """Account lookups with a per-process cache (accounts are created, never changed)."""

    def __init__(self, settings):
        self.settings = settings
        self.cache = {}

    def by_key(self, access_key):
        caller = self.cache.get(access_key)
        if caller is None:
            with database.connection_context():
                account = Account.get_or_none(Account.access_key == access_key)
            if account is None:
                return None
            caller = self.cache[access_key] = Caller.of(account)
        return caller

    def create(self, admin=False, keys=None):
        access_key, secret_key = keys or new_keys()
        with database.connection_context():
            while True:
                uid = str(secrets.randbelow(9 * 10**9) + 10**9)
                try:
                    account = Account.create(uid=uid, access_key=access_key,
                                             secret_key=secret_key, admin=admin)
                    break
                except IntegrityError:
                    if Account.select().where(Account.access_key == access_key).exists():
                        raise
        caller = self.cache[access_key] = Caller.of(account)
        return caller

    def bootstrap_admin(self):
        """The admin of UFOP_ADMIN_AK/SK, or generated keys printed once (SPEC §3)."""
        ak, sk = self.settings.admin_ak, self.settings.admin_sk
        with database.connection_context():
            if ak and sk:
                account = Account.get_or_none(Account.access_key == ak)
                if account is not None:
                    account.secret_key, account.admin = sk, True
                    account.save()
                    return Caller.of(account)
            elif Account.select().where(Account.admin == True).exists():  # noqa: E712
                return None
        if ak and sk:
            return self.create(admin=True, keys=(ak, sk))
        caller = self.create(admin=True)
        print(f"ufop gateway: created admin account uid={caller.uid} "
              f"UFOP_ADMIN_AK={caller.access_key} UFOP_ADMIN_SK={caller.secret_key}",
              flush=True)
        return caller

    def verify(self, request, body=b""):
        """The signing account of ``request`` whose whole body is ``body``; 401 otherwise."""
        pending = self.begin(request)
        pending.feed(body)
        return pending.check()

    def begin(self, request):
        """Start checking ``request``: feed the body to the result (only when the signature
        covers it, see ``body_signed``), then ``check()``. Headers are checked at once."""
        header = request.headers.get("Authorization")
        if not header:
            raise Unauthorized("Authorization: missing; sign the request with your keys")
        scheme, access_key, sign = split_authorization(header)
        caller = self.by_key(access_key)
        if caller is None:
            raise Unauthorized("Authorization: unknown access key")
        headers = sent_headers(request)
        content_type = content_type_of(headers)
        if scheme == "Qiniu":
            date = request.headers.get("X-Qiniu-Date")
            if date is not None:
                check_date(date, datetime.now(timezone.utc), self.settings.date_window_seconds)
            prefix = signing.mac_prefix(request.method, path_query(request),
                                        request.headers.get("Host", ""), content_type,
                                        signing.qiniu_headers(dict(headers)))
            body_signed = signing.body_is_signed(content_type)
        else:
            prefix = signing.qbox_prefix(path_query(request))
            body_signed = content_type == signing.FORM
        return PendingSignature(caller, signing.new_mac(caller.secret_key, prefix), sign,
                                body_signed)


class PendingSignature:
    """A signature whose headers are checked and whose body may still be streaming in."""

    def __init__(self, caller, mac, sign, body_signed):
        self.caller, self.mac, self.sign, self.body_signed = caller, mac, sign, body_signed

    def feed(self, chunk):
        if self.body_signed and chunk:
            self.mac.update(chunk)

    def check(self):
        if not hmac.compare_digest(signing.digest(self.mac), self.sign):
            raise Unauthorized("Authorization: signature does not match the request")
        return self.caller


class Identity(DependencyProvider):
    """The account store and signature checks, shared by every gateway worker."""

    def setup(self):
        settings = config.load()
        bind(database, settings.db_url("gateway"), MODELS)
        self.accounts = Accounts(settings)
        self.accounts.bootstrap_admin()

    def get_dependency(self, worker_ctx):
        return self.accounts
