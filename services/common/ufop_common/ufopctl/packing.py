"""What ``ufopctl build`` uploads: a folder packed into a tar.gz (a Docker build context or a
Qiniu ``ufop.yaml`` package), or an archive file as it is (a ``docker save`` archive)."""
import os
import tarfile
import tempfile
from contextlib import contextmanager
from pathlib import Path

import click

MARKERS = ("Dockerfile", "ufop.yaml")


@contextmanager
def archive_of(source):
    """``(path, size)`` of the archive to upload for ``source``; a packed folder lives in a
    temporary file removed on exit."""
    source = Path(source)
    if source.is_file():
        yield source, source.stat().st_size
        return
    if not source.is_dir():
        raise click.BadParameter(f"{source} is neither a folder nor a file", param_hint="DIR")
    if not any((source / marker).is_file() for marker in MARKERS):
        raise click.BadParameter(
            f"{source} has no Dockerfile and no ufop.yaml at its root: give a Docker build "
            "context, a Qiniu ufop.yaml package, or a `docker save` archive file",
            param_hint="DIR")
    fd, name = tempfile.mkstemp(prefix="ufopctl-", suffix=".tar.gz")
    os.close(fd)
    try:
        with tarfile.open(name, "w:gz") as tar:
            for entry in sorted(source.iterdir()):
                tar.add(entry, arcname=entry.name, filter=plain)
        yield Path(name), os.path.getsize(name)
    finally:
        os.unlink(name)


def plain(info):
    """No owner names or ids of this machine in the archive."""
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info
