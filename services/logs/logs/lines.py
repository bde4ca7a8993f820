"""Instances' log lines: stored once each, kept up to a bound per instance, served by tail,
since and (for follow) after a row id."""
from .models import InstanceLine, database

INSERT_CHUNK = 200  # rows per INSERT (SQLite allows 999 variables per statement)


def store(payload, retention):
    """Keep the lines of one ``instance_log`` batch, then drop the oldest past ``retention``."""
    ufop_id, index = payload["id"], payload["index"]
    rows = [{"ufop_id": ufop_id, "index": index, "version": payload["version"],
             "container": payload["container"], "stream": line["stream"], "ts": line["ts"],
             "n": line["n"], "line": line["line"]} for line in payload["lines"]]
    with database.atomic():
        for start in range(0, len(rows), INSERT_CHUNK):
            InstanceLine.insert_many(rows[start:start + INSERT_CHUNK]).on_conflict_ignore() \
                .execute()
        trim(ufop_id, index, retention)


def trim(ufop_id, index, retention):
    of_instance = (InstanceLine.ufop_id == ufop_id) & (InstanceLine.index == index)
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
