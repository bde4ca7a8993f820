"""Instances' log lines: stored once each, kept up to a bound per instance, served by tail,
since and (for follow) after a row id."""
import functools

from .models import InstanceLine, database

INSERT_CHUNK = 200  # rows per INSERT (SQLite allows 999 variables per statement)
COLUMNS = ("ufop_id", "index", "version", "container", "stream", "ts", "n", "line")


@functools.lru_cache(maxsize=8)
def insert_sql(bound, count):
    """The SQL of an INSERT of ``count`` lines that skips those stored before, for the database
    ``bound`` (the key: the text depends on it). Peewee builds a query's SQL anew on every run,
    which was most of the cost of storing a batch (``make bench``); here once per size."""
    fields = [InstanceLine._meta.fields[name] for name in COLUMNS]
    row = (0, 0, "", "", "", 0, 0, "")
    return InstanceLine.insert_many([row] * count, fields=fields).on_conflict_ignore().sql()[0]


def store(payload, retention):
    """Keep the lines of one ``instance_log`` batch, then drop the oldest past ``retention``."""
    ufop_id, index = payload["id"], payload["index"]
    rows = [(ufop_id, index, payload["version"], payload["container"], line["stream"],
             line["ts"], line["n"], line["line"]) for line in payload["lines"]]
    with database.atomic():
        for start in range(0, len(rows), INSERT_CHUNK):
            chunk = rows[start:start + INSERT_CHUNK]
            database.execute_sql(insert_sql(database.obj, len(chunk)),
                                 [value for row in chunk for value in row])
        trim(ufop_id, index, retention)


def trim(ufop_id, index, retention):
    """Drop the oldest lines of an instance past ``retention``. Its lines' ids lie between its
    oldest and its newest; when no more than ``retention`` ids lie there, nothing is to go:
    two index look-ups tell, where counting to the bound reads every line up to it."""
    of_instance = (InstanceLine.ufop_id == ufop_id) & (InstanceLine.index == index)
    ids = InstanceLine.select(InstanceLine.id).where(of_instance).limit(1)
    oldest = ids.order_by(InstanceLine.id).scalar()
    if oldest is None or ids.order_by(InstanceLine.id.desc()).scalar() - oldest < retention:
        return
    cutoff = (InstanceLine.select(InstanceLine.id).where(of_instance)
              .order_by(InstanceLine.id.desc()).offset(retention).limit(1).scalar())
    if cutoff is not None:
        InstanceLine.delete().where(of_instance & (InstanceLine.id <= cutoff)).execute()


def tail(ufop_id, index, count, since_ns=None):
    """The last ``count`` lines (at or after ``since_ns``), oldest first."""
    query = InstanceLine.select().where(
        (InstanceLine.ufop_id == ufop_id) & (InstanceLine.index == index))
    if since_ns is not None:
        query = query.where(InstanceLine.ts >= since_ns)
    rows = list(query.order_by(InstanceLine.ts.desc(), InstanceLine.id.desc()).limit(count))
    rows.reverse()
    return [view(r) for r in rows]


def view(row):
    return {"id": row.id, "time": row.ts, "stream": row.stream, "version": row.version,
            "line": row.line}


def newest_id(ufop_id, index):
    return (InstanceLine.select(InstanceLine.id)
            .where((InstanceLine.ufop_id == ufop_id) & (InstanceLine.index == index))
            .order_by(InstanceLine.id.desc()).limit(1).scalar()) or 0


def after(ufop_id, index, after_id, limit=1000):
    """Lines stored after row ``after_id`` (follow mode), in the order they arrived."""
    rows = list(InstanceLine.select().where(
        (InstanceLine.ufop_id == ufop_id) & (InstanceLine.index == index)
        & (InstanceLine.id > after_id)).order_by(InstanceLine.id).limit(limit))
    return [view(r) for r in rows]


def purge(ufop_id):
    InstanceLine.delete().where(InstanceLine.ufop_id == ufop_id).execute()
