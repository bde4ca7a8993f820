"""Build output of each version, as ``version_building``/``version_built`` carry it."""
from .audit import parse_time
from .models import BuildLog, database


def store(payload, state, text):
    """Keep the newest build's state and output; an older event never overwrites a newer."""
    when = parse_time(payload["time"])
    with database.atomic():
        row = BuildLog.get_or_none((BuildLog.ufop_id == payload["id"])
                                   & (BuildLog.version == payload["version"]))
        if row is None:
            BuildLog.create(ufop_id=payload["id"], version=payload["version"], state=state,
                            text=text, event_time=when)
        elif when >= row.event_time:
            row.state, row.text, row.event_time = state, text, when
            row.save()


def read(ufop_id, version):
    row = BuildLog.get_or_none((BuildLog.ufop_id == ufop_id) & (BuildLog.version == version))
    return "" if row is None else row.text


def purge(ufop_id):
    BuildLog.delete().where(BuildLog.ufop_id == ufop_id).execute()
