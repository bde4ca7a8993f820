"""Time formats of SPEC §2."""
from datetime import datetime, timezone


def utcnow():
    return datetime.now(timezone.utc).replace(tzinfo=None)


def create_time(dt):
    """``YYYY-MM-DD HH:MM:SS +0000 UTC`` (the ufop detail's createTime)."""
    return dt.strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


def create_at(dt):
    """``YYYY-MM-DD HH:MM:SS`` in UTC (versions' createAt)."""
    return dt.strftime("%Y-%m-%d %H:%M:%S")


def iso(dt):
    """RFC 3339 with microseconds, for events and logs."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
