"""Shared library of the UFOP platform: configuration, stores, auth, errors, schemas."""
import logging

log = logging.getLogger(__name__)


def guarded(fn, what):
    """``fn`` for a nameko managed thread: an exception there would kill the whole service,
    so it is logged instead (the work it was doing is retried or recovered elsewhere)."""

    def run():
        try:
            return fn()
        except Exception:
            log.exception("%s failed", what)

    return run
