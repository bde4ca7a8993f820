"""Version records of a ufop: created by an upload, moved along by its build."""
from peewee import IntegrityError

from ufop_common.errors import VersionExists, VersionNotFound
from ufop_common.timefmt import utcnow

from .builds import BUILDING, FAILED
from .models import Version, database


def ensure_free(ufop, version):
    """An upload of ``version`` may go ahead: it is new, or its earlier build failed."""
    existing = Version.get_or_none((Version.ufop == ufop) & (Version.version == version))
    if existing is not None and existing.state != FAILED:
        raise VersionExists(f"version {version!r} of {ufop.name!r} exists ({existing.state})")
    return existing


def put(ufop, version, digest, desc, kind):
    """A new ``building`` version (replacing a failed one); ``(row, replaced blob)``."""
    try:
        with database.atomic():
            existing = ensure_free(ufop, version)
            if existing is None:
                return Version.create(ufop=ufop, version=version, blob=digest,
                                      description=desc, kind=kind, state=BUILDING), None
            old_blob = existing.blob
            existing.blob, existing.description, existing.kind = digest, desc, kind
            existing.state, existing.image, existing.finished = BUILDING, "", False
            existing.created_at = utcnow()
            existing.save()
            return existing, old_blob
    except IntegrityError:
        raise VersionExists(f"version {version!r} of {ufop.name!r} exists") from None


def get(ufop, version):
    row = Version.get_or_none((Version.ufop == ufop) & (Version.version == version))
    if row is None:
        raise VersionNotFound(f"version {version!r} of {ufop.name!r} not found")
    return row


def of(ufop):
    return list(Version.select().where(Version.ufop == ufop)
                .order_by(Version.created_at, Version.id))
