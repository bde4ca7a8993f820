"""The store's two fast paths (``make bench``): pooled SQLite connections, prepared selects."""
import pytest
from peewee import CharField, IntegerField
from playhouse.pool import PooledDatabase

from ufop_common.store import Prepared, Store, bind, make_base_model, open_database

proxy, BaseModel = make_base_model()


class Thing(BaseModel):
    name = CharField(unique=True)
    size = IntegerField(default=0)


BY_NAME = Prepared(Thing, lambda name: Thing.select().where(Thing.name == name))
BIGGER = Prepared(Thing, lambda low: Thing.select(Thing.name).where(Thing.size > low)
                  .order_by(Thing.name))


@pytest.fixture(params=["sqlite", "postgres"])
def database(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'things.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    db = bind(proxy, url, [Thing])
    with db.connection_context():
        Thing.delete().execute()
        Thing.insert_many([{"name": "alpha", "size": 1}, {"name": "beta", "size": 5},
                           {"name": "gamma", "size": 9}]).execute()
    db.connect()
    yield db
    db.close()
    if request.param == "postgres":
        with db.connection_context():
            db.drop_tables([Thing])


def test_a_prepared_select_answers_like_the_query(database):
    beta = BY_NAME.first("beta")
    assert isinstance(beta, Thing) and (beta.name, beta.size) == ("beta", 5)
    assert beta.id == Thing.get(Thing.name == "beta").id
    assert BY_NAME.first("nothing") is None
    assert [t.name for t in BIGGER(3)] == ["beta", "gamma"]
    assert list(BIGGER(0).dicts()) == [{"name": n} for n in ("alpha", "beta", "gamma")]


def test_a_prepared_select_follows_the_proxy_to_another_database(tmp_path):
    for n in (1, 2):
        db = bind(proxy, f"sqlite:///{tmp_path / f'{n}.db'}", [Thing])
        with db.connection_context():
            Thing.create(name=f"only-in-{n}")
            assert [t.name for t in BIGGER(-1)] == [f"only-in-{n}"]


def test_a_query_whose_parameters_are_not_the_values_is_refused(tmp_path):
    bind(proxy, f"sqlite:///{tmp_path / 'x.db'}", [Thing])
    limited = Prepared(Thing, lambda name: Thing.select().where(Thing.name == name).limit(1))
    with pytest.raises(ValueError, match="parameters"):
        limited("alpha")


def test_a_sqlite_file_is_pooled_and_a_worker_reuses_its_connection(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'p.db'}")
    assert isinstance(db, PooledDatabase)
    db.connect()
    first = db.connection()
    assert db.execute_sql("PRAGMA journal_mode").fetchone() == ("wal",)
    db.close()
    db.connect()
    assert db.connection() is first
    db.close()
    assert not isinstance(open_database("sqlite:///:memory:"), PooledDatabase)


def test_the_store_closes_every_pooled_connection_at_stop(tmp_path, monkeypatch):
    monkeypatch.setenv("UFOP_DATA_DIR", str(tmp_path))
    store = Store("things", proxy, [Thing])
    store.setup()
    store.worker_setup(None)
    store.worker_teardown(None)
    assert len(store.database._connections) == 1
    store.stop()
    assert store.database._connections == [] and store.database._in_use == {}
