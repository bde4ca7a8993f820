"""Image builds in the background, on the Docker engine (SPEC §5).

``Builder`` is a dependency provider: workers ask it to start a build and return at once; the
build runs in a managed greenthread (the SDK's sockets are green under eventlet, and the
file-heavy steps run in eventlet's thread pool), so a long build never delays other calls.
Its end is published as ``version_built`` with the build output, which the logs service keeps.
A build cut short by a restart is found ``building`` at the next start and ends ``build failed``.
"""
import logging
import time
from pathlib import Path

import docker
import eventlet
from eventlet import tpool
from nameko.extensions import DependencyProvider
from nameko.standalone.events import event_dispatcher

from ufop_common import config, guarded
from ufop_common.blobs import BlobStore
from ufop_common.events import stamp
from ufop_common.timefmt import create_at

from . import archives
from .models import Ufop, Version, database

log = logging.getLogger(__name__)

BUILDING, SUCCESS, FAILED = "building", "build success", "build failed"
MAX_LOG = 1 << 20
STALE_BLOB_SECONDS = 3600


def image_tag(ufop_name, ufop_id, version):
    """``ufop/<name>:<id>.<version>``: per ufop and version, never shared by two ufops."""
    return f"ufop/{ufop_name}", f"{ufop_id}.{version}"


class BuildLog:
    """The build's output, bounded to its last MAX_LOG characters."""

    def __init__(self):
        self.parts, self.size = [], 0

    def write(self, text):
        if not text:
            return
        self.parts.append(text)
        self.size += len(text)
        while self.size > MAX_LOG and len(self.parts) > 1:
            self.size -= len(self.parts.pop(0))

    def text(self):
        return "".join(self.parts)[-MAX_LOG:]


class BuildFailed(Exception):
    pass


class Builder(DependencyProvider):
    def setup(self):
        self.settings = config.load()
        self.blobs = BlobStore(self.settings.data_dir)
        self.work_dir = Path(self.settings.data_dir) / "builds"
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.slots = eventlet.semaphore.Semaphore(self.settings.max_builds)
        self.client = None
        self.dispatch = event_dispatcher(self.container.config)

    def start(self):
        self.client = docker.from_env(timeout=self.settings.build_timeout)
        self.container.spawn_managed_thread(guarded(self.recover, "recovering builds"),
                                            identifier="builds.recover")

    def stop(self):
        if self.client is not None:
            self.client.close()

    def get_dependency(self, worker_ctx):
        return self

    # -- events ------------------------------------------------------------------------
    def publish(self, event_type, payload):
        try:
            self.dispatch("registry", event_type, stamp(payload))
        except Exception:
            log.exception("could not publish %s", event_type)

    # -- what workers call -------------------------------------------------------------
    def start_build(self, version_id, archive):
        self.container.spawn_managed_thread(
            guarded(lambda: self.run(version_id, archive), f"build {version_id}"),
            identifier=f"build.{version_id}")

    def forget(self, images, digests):
        """Remove a deleted ufop's images and its blobs that no version uses any more."""
        self.container.spawn_managed_thread(
            guarded(lambda: self._forget(images, digests), "removing images"),
            identifier="builds.forget")

    def release_blob(self, digest):
        with database.connection_context():
            used = Version.select().where(Version.blob == digest).exists()
        if not used:
            self.blobs.remove(digest)

    # -- the background work -----------------------------------------------------------
    def run(self, version_id, archive):
        output = BuildLog()
        state = FAILED
        with database.connection_context():
            version = Version.get_or_none(Version.id == version_id)
            if version is None:
                return
            ufop = version.ufop
            repo, tag = image_tag(ufop.name, ufop.id, version.version)
            event = {"id": ufop.id, "name": ufop.name, "version": version.version}
        self.publish("version_building", dict(event, kind=archive.kind))
        try:
            with self.slots:
                started = time.monotonic()
                output.write(f"building {event['name']} {event['version']} "
                             f"({archive.kind}) as {repo}:{tag}\n")
                self.build(archive, version.blob, repo, tag, output)
                output.write(f"built in {time.monotonic() - started:.1f} s\n")
                state = SUCCESS
        except BuildFailed as exc:
            output.write(f"build failed: {exc}\n")
        except Exception as exc:  # the engine went away, a timeout...
            log.exception("build %s failed", event)
            output.write(f"build failed: {type(exc).__name__}: {exc}\n")
        with database.connection_context():
            updated = (Version.update(state=state, image=f"{repo}:{tag}" if state == SUCCESS
                                      else "", finished=True)
                       .where((Version.id == version_id) & (Version.state == BUILDING))
                       .execute())
        if not updated and state == SUCCESS:  # the ufop was deleted while it built
            self._remove_image(f"{repo}:{tag}")
            return
        self.publish("version_built", dict(event, state=state, log=output.text()))

    def build(self, archive, digest, repo, tag, output):
        source = self.blobs.path(digest)
        if archive.kind == archives.DOCKER_SAVE:
            return self.load(source, repo, tag, output)
        context, encoding = source, "gzip" if archive.compressed else None
        tmp = None
        if archive.kind == archives.QINIU:
            dockerfile = archives.qiniu_dockerfile(archive.ufop_yaml)
            output.write("generated Dockerfile from ufop.yaml:\n" + dockerfile)
            tmp = context = self.work_dir / f"{digest}.{time.time_ns()}.tar"
            tpool.execute(archives.with_dockerfile, source, tmp, dockerfile)
            encoding = None
        try:
            with open(context, "rb") as fileobj:
                stream = self.client.api.build(fileobj=fileobj, custom_context=True,
                                               encoding=encoding, tag=f"{repo}:{tag}", rm=True,
                                               forcerm=True, pull=False, decode=True,
                                               timeout=self.settings.build_timeout)
                for chunk in stream:
                    if "status" in chunk:
                        output.write(chunk["status"] + "\n")
                    output.write(chunk.get("stream", ""))
                    if "error" in chunk:
                        raise BuildFailed(chunk["error"].strip())
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)

    def load(self, source, repo, tag, output):
        untagged = self.work_dir / f"load.{time.time_ns()}.tar"
        try:
            tpool.execute(archives.without_tags, source, untagged)
            with open(untagged, "rb") as fileobj:
                images = self.client.images.load(fileobj)
        except docker.errors.APIError as exc:
            raise BuildFailed(f"docker load: {exc.explanation or exc}") from None
        except archives.InvalidArgs as exc:
            raise BuildFailed(str(exc)) from None
        finally:
            untagged.unlink(missing_ok=True)
        if not images:
            raise BuildFailed("the archive holds no image")
        output.write(f"loaded image {images[0].id}\n")
        images[0].tag(repo, tag)

    def recover(self):
        """Versions left ``building`` by a restart end as ``build failed`` (SPEC §5)."""
        with database.connection_context():
            stuck = list(Version.select(Version, Ufop).join(Ufop)
                         .where(Version.state == BUILDING))
            if stuck:
                (Version.update(state=FAILED, finished=True)
                 .where(Version.id.in_([v.id for v in stuck])).execute())
        for version in stuck:
            log.warning("build of %s %s was interrupted", version.ufop.name, version.version)
            self.publish("version_built", {"id": version.ufop.id, "name": version.ufop.name,
                                           "version": version.version, "state": FAILED,
                                           "log": "build failed: interrupted by a registry "
                                                  "restart\n"})
        self.sweep_blobs()

    def sweep_blobs(self):
        """Blobs no version uses, left by an upload cut short, older than an hour."""
        if not self.blobs.objects.exists():
            return
        now = time.time()
        with database.connection_context():
            used = {v.blob for v in Version.select(Version.blob)}
        for path in self.blobs.objects.iterdir():
            if path.name not in used and now - path.stat().st_mtime > STALE_BLOB_SECONDS:
                path.unlink(missing_ok=True)

    def _remove_image(self, image):
        try:
            self.client.images.remove(image, force=True, noprune=False)
        except docker.errors.ImageNotFound:
            pass
        except docker.errors.APIError as exc:
            log.warning("could not remove image %s: %s", image, exc)

    def _forget(self, images, digests):
        for image in images:
            self._remove_image(image)
        for digest in digests:
            self.release_blob(digest)


def describe(version):
    return {"version": version.version, "state": version.state,
            "createAt": create_at(version.created_at), "desc": version.description}
