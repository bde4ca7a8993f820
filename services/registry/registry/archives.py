"""Checking an uploaded archive before anything is built (SPEC §5), and the ufop.yaml kind.

``inspect`` refuses what must never reach a build -- absolute paths, ``..``, links leaving the
archive, device files -- and says which of the three kinds it is. ``qiniu_dockerfile`` turns a
Qiniu v1 ``ufop.yaml`` into a Dockerfile; ``with_dockerfile`` writes the build context.
"""
import io
import json
import posixpath
import tarfile
from dataclasses import dataclass

import yaml

from ufop_common.errors import InvalidArgs

DOCKERFILE, QINIU, DOCKER_SAVE = "dockerfile", "ufop.yaml", "docker-save"
MARKERS = (("Dockerfile", DOCKERFILE), ("ufop.yaml", QINIU), ("manifest.json", DOCKER_SAVE))
RESOURCE_DIR = "/ufop/resource"
WORK_DIR = "/ufop/app"
MAX_UFOP_YAML = 64 * 1024
MAX_LINK_HOPS = 40


@dataclass(frozen=True)
class Archive:
    kind: str
    compressed: bool
    ufop_yaml: dict = None


def normalize(name):
    """A member's path relative to the archive's root, or InvalidArgs when it escapes."""
    if name.startswith("/"):
        raise InvalidArgs(f"archive: absolute path {name!r} is not allowed")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidArgs(f"archive: path {name!r} leaves the archive ('..')")
    return "/".join(parts)


def check_links(links, symlinks):
    """Each link ``(member name, target from the root)`` stays inside the archive, with the
    archive's own ``symlinks`` followed on the way (``t -> .`` makes ``t/t/..`` leave it)."""
    for name, path in links:
        target = path.split("/")
        hops = 0
        parts = []
        while target:
            part = target.pop(0)
            if part in ("", "."):
                continue
            if part == "..":
                if not parts:
                    raise InvalidArgs(f"archive: link {name!r} points outside the archive")
                parts.pop()
                continue
            parts.append(part)
            through = symlinks.get("/".join(parts))
            if through is not None:
                hops += 1
                if hops > MAX_LINK_HOPS:
                    raise InvalidArgs(f"archive: link {name!r}: too many levels of links")
                parts = []  # ``through`` is from the root, as every target here
                target = through.split("/") + target


def inspect(path):
    """Check the archive at ``path``; its kind, or InvalidArgs with the reason."""
    try:
        with open(path, "rb") as raw:
            compressed = raw.read(2) == b"\x1f\x8b"
        with tarfile.open(path, "r:*") as tar:
            root = set()
            ufop_yaml = None
            links, symlinks = [], {}
            for member in tar:
                rel = normalize(member.name)
                if member.ischr() or member.isblk() or member.isfifo():
                    raise InvalidArgs(f"archive: device or fifo {member.name!r} is not allowed")
                if member.issym() or member.islnk():
                    if member.linkname.startswith("/"):
                        raise InvalidArgs(f"archive: link {member.name!r} points outside "
                                          "the archive")
                    base = posixpath.dirname(rel) if member.issym() else ""
                    links.append((member.name, posixpath.join(base, member.linkname)))
                    if member.issym():
                        symlinks[rel] = posixpath.join(base, member.linkname)
                if "/" not in rel and member.isfile():
                    root.add(rel)
                    if rel == "ufop.yaml":
                        if member.size > MAX_UFOP_YAML:
                            raise InvalidArgs("ufop.yaml: larger than 64 KiB")
                        ufop_yaml = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise InvalidArgs(f"archive: not a tar or tar.gz archive ({exc})") from None
    check_links(links, symlinks)
    for marker, kind in MARKERS:
        if marker in root:
            parsed = parse_ufop_yaml(ufop_yaml) if kind == QINIU else None
            return Archive(kind, compressed, parsed)
    raise InvalidArgs("archive: no Dockerfile, ufop.yaml or manifest.json at its root")


def parse_ufop_yaml(data):
    try:
        spec = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        raise InvalidArgs(f"ufop.yaml: not valid YAML ({exc})") from None
    if not isinstance(spec, dict):
        raise InvalidArgs("ufop.yaml: must be a mapping with image, build_script and run")
    image, script, run = spec.get("image"), spec.get("build_script", []), spec.get("run")
    if not isinstance(image, str) or not image.strip():
        raise InvalidArgs("ufop.yaml: image: a base image name is required")
    if script is None:
        script = []
    if not isinstance(script, list) or not all(isinstance(s, str) for s in script):
        raise InvalidArgs("ufop.yaml: build_script: must be a list of shell lines")
    if not isinstance(run, str) or not run.strip():
        raise InvalidArgs("ufop.yaml: run: the command that starts the ufop is required")
    return {"image": image.strip(), "build_script": script, "run": run}


def qiniu_dockerfile(spec):
    """The Dockerfile of a Qiniu v1 package: ``build_script`` runs in the work directory with
    the unpacked package in ``$RESOURCE`` (not kept in the final image's filesystem view)."""
    script = "\n".join(["set -e", f"export RESOURCE={RESOURCE_DIR}", *spec["build_script"],
                        f"rm -rf {RESOURCE_DIR}"])
    return "\n".join([
        f"FROM {spec['image']}",
        f"COPY . {RESOURCE_DIR}/",
        f"WORKDIR {WORK_DIR}",
        f"RUN {json.dumps(['/bin/sh', '-c', script])}",
        "EXPOSE 9100",
        f"CMD {json.dumps(['/bin/sh', '-c', spec['run']])}",
        "",
    ])


def without_tags(src, dst):
    """Copy a ``docker save`` archive to ``dst`` with its tags taken out, so that loading it
    can never move a tag on this engine (another ufop's, or the host's own)."""
    with tarfile.open(src, "r:*") as tar_in, tarfile.open(dst, "w") as tar_out:
        for member in tar_in:
            path = normalize(member.name)
            if path == "repositories":
                continue
            fileobj = tar_in.extractfile(member) if member.isfile() else None
            if path == "manifest.json":
                try:
                    manifest = json.load(fileobj)
                    for entry in manifest:
                        entry["RepoTags"] = None
                except (ValueError, TypeError, AttributeError):
                    raise InvalidArgs("manifest.json: not a docker save manifest") from None
                data = json.dumps(manifest).encode()
                member = tarfile.TarInfo("manifest.json")
                member.size, member.mode = len(data), 0o644
                fileobj = io.BytesIO(data)
            tar_out.addfile(member, fileobj)


def with_dockerfile(src, dst, dockerfile):
    """Copy the archive ``src`` to the tar ``dst`` with ``Dockerfile`` added at its root."""
    with tarfile.open(src, "r:*") as tar_in, tarfile.open(dst, "w") as tar_out:
        for member in tar_in:
            if normalize(member.name) == "Dockerfile":
                continue
            fileobj = tar_in.extractfile(member) if member.isfile() else None
            tar_out.addfile(member, fileobj)
        data = dockerfile.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        info.mode = 0o644
        tar_out.addfile(info, io.BytesIO(data))
