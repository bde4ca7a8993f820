"""A content-addressed blob store under ``UFOP_DATA_DIR/blobs`` (image archives).

The gateway streams a request body into ``incoming/`` while hashing it, then moves it to
``sha256/<digest>``; the registry reads and removes blobs by digest. Both run on the same
data directory (one machine, or one shared volume in docker-compose).
"""
import hashlib
import os
import uuid
from pathlib import Path

from .errors import InvalidArgs, PayloadTooLarge

CHUNK = 256 * 1024
DIGEST_LEN = 64


class BlobStore:
    def __init__(self, data_dir):
        self.root = Path(data_dir) / "blobs"
        self.incoming = self.root / "incoming"
        self.objects = self.root / "sha256"

    def path(self, digest):
        if len(digest) != DIGEST_LEN or not all(c in "0123456789abcdef" for c in digest):
            raise InvalidArgs("blob: not a sha256 digest")
        return self.objects / digest

    def exists(self, digest):
        return self.path(digest).is_file()

    def receive(self, stream, limit, feed=None):
        """Copy ``stream`` in chunks into the store; returns ``(digest, size)``.

        Past ``limit`` bytes it stops, keeps nothing and raises ``PayloadTooLarge``; an empty
        stream is ``InvalidArgs``. ``feed`` (if given) also sees every chunk -- the gateway
        checks a signed body with it.
        """
        self.incoming.mkdir(parents=True, exist_ok=True)
        self.objects.mkdir(parents=True, exist_ok=True)
        tmp = self.incoming / uuid.uuid4().hex
        sha = hashlib.sha256()
        size = 0
        try:
            with open(tmp, "wb") as out:
                while True:
                    chunk = stream.read(CHUNK)
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > limit:
                        raise PayloadTooLarge(f"body: the archive is larger than {limit} bytes")
                    sha.update(chunk)
                    if feed is not None:
                        feed(chunk)
                    out.write(chunk)
            if size == 0:
                raise InvalidArgs("body: empty; send the archive as the request body")
            digest = sha.hexdigest()
            os.replace(tmp, self.objects / digest)
            return digest, size
        finally:
            tmp.unlink(missing_ok=True)

    def remove(self, digest):
        self.path(digest).unlink(missing_ok=True)
