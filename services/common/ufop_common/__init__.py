"""Shared library of the UFOP platform: configuration, stores, auth, errors, schemas."""


def guarded(fn, what):
    """``fn`` for a nameko managed thread: an exception there would kill the whole service,
    so it is logged instead (the work it was doing is retried or recovered elsewhere)."""
    import logging

    def run():
        try:
            return fn()
        except Exception:
            logging.getLogger(fn.__module__ if hasattr(fn, "__module__") else __name__) \
                .exception("%s failed", what)

    return run
