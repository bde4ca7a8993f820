"""The Peewee store every service owns (STYLE: a dependency provider per external resource).

The database is picked at run time from a URL (``playhouse.db_url``): a SQLite file under
``UFOP_DATA_DIR`` by default, PostgreSQL or anything Peewee speaks by ``UFOP_<SERVICE>_DB``.
Peewee keeps one connection per thread; under eventlet's monkey patching that means one per
greenthread, so each worker connects in ``worker_setup`` and closes in ``worker_teardown``.
"""
import logging

from nameko.extensions import DependencyProvider
from peewee import DatabaseProxy, Model
from playhouse.db_url import connect
from playhouse.pool import PooledDatabase

from . import config

log = logging.getLogger(__name__)

SQLITE_PRAGMAS = (
    ("journal_mode", "wal"),  # readers never block the writer
    ("busy_timeout", 5000),  # a second process (a test, a CLI) waits instead of failing
    ("foreign_keys", 1),
    ("synchronous", "normal"),
)


def open_database(url):
    """A Peewee database for ``url``, not yet connected.

    A SQLite file is opened through a pool of connections: a worker's ``connect``/``close``
    then checks a connection out and back in instead of opening the file and setting its
    pragmas each time, which was a third of the registry's CPU per request (``make bench``).
    The pool is unbounded, like the one-connection-per-worker it replaces.
    """
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if not path or path.startswith(":memory:"):
            return connect(url, pragmas=SQLITE_PRAGMAS, autoconnect=False)
        from pathlib import Path

        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return connect("sqlite+pool:" + url.split(":", 1)[1], pragmas=SQLITE_PRAGMAS,
                       max_connections=None, autoconnect=False)
    if url.startswith("postgres"):
        # make psycopg2 cooperate with eventlet: a slow query must not stall the hub
        from psycogreen.eventlet import patch_psycopg

        patch_psycopg()
    return connect(url, autoconnect=False)


def make_base_model():
    """A fresh proxy and base model for one service's tables."""
    proxy = DatabaseProxy()

    class BaseModel(Model):
        class Meta:
            database = proxy

    return proxy, BaseModel


def bind(proxy, url, models):
    """Point ``proxy`` at the database of ``url`` and create missing tables."""
    database = open_database(url)
    proxy.initialize(database)
    with database.connection_context():
        database.create_tables(models, safe=True)
    return database


class Prepared:
    """A select whose SQL is built once per database, then run again with new values.

    Peewee builds a query's SQL text anew on every execution; for the small lookups every
    request makes, that was most of their cost (about 0.2 ms of 0.25 ms each, ``make bench``).
    ``build(*values)`` returns the query; it is built once with markers to learn its SQL, whose
    parameters must be exactly those markers, in order. The values are then handed to the
    driver as they are: pass plain column values (an id, not a model instance).
    """

    def __init__(self, model, build):
        self.model = model
        self.build = build
        self.markers = [f"\0prepared-{i}" for i in range(build.__code__.co_argcount)]
        self.database = self.sql = None

    def __call__(self, *values):
        """The rows, as instances of the model."""
        database = self.model._meta.database
        database = getattr(database, "obj", database)  # the database behind a DatabaseProxy
        if database is not self.database:
            sql, params = self.build(*self.markers).sql()
            if params != self.markers:
                raise ValueError(f"prepared query: parameters {params!r} are not the values")
            self.database, self.sql = database, sql
        return self.model.raw(self.sql, *values)

    def first(self, *values):
        """The first row, or None."""
        return next(iter(self(*values)), None)


class Store(DependencyProvider):
    """Gives each worker the service's database, connected for the worker's lifetime."""

    def __init__(self, service, proxy, models):
        self.service = service
        self.proxy = proxy
        self.models = models
        self.database = None

    def setup(self):
        url = config.load().db_url(self.service)
        self.database = bind(self.proxy, url, self.models)
        log.info("%s store at %s", self.service, url.split("@")[-1])

    def stop(self):
        if self.database is None:
            return
        if isinstance(self.database, PooledDatabase):
            self.database.close_all()
        elif not self.database.is_closed():
            self.database.close()

    def worker_setup(self, worker_ctx):
        self.database.connect(reuse_if_open=True)

    def worker_teardown(self, worker_ctx):
        if not self.database.is_closed():
            self.database.close()

    def get_dependency(self, worker_ctx):
        return self.database
