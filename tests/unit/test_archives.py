"""``registry.archives``: what an uploaded archive is, and what is refused before any build."""
import io
import json
import tarfile

import pytest
import yaml

from registry import archives
from registry.archives import DOCKER_SAVE, DOCKERFILE, QINIU, inspect
from ufop_common.errors import InvalidArgs

UFOP_YAML = {"image": "ufop-test-busybox:latest", "build_script": ["cp $RESOURCE/run.sh ."],
             "run": "./run.sh"}


def member(name, data=b"", kind=tarfile.REGTYPE, linkname=""):
    """One tar entry: ``(TarInfo, data)``; a directory when ``name`` ends with '/'."""
    info = tarfile.TarInfo(name.rstrip("/") if name != "./" else ".")
    info.type = tarfile.DIRTYPE if name.endswith("/") else kind
    info.linkname = linkname
    info.mode = 0o755 if info.isdir() else 0o644
    info.size = len(data) if info.isfile() else 0
    return info, data


def make_tar(path, members, gz=False):
    with tarfile.open(path, "w:gz" if gz else "w") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return path


@pytest.fixture
def tar(tmp_path):
    """``tar(*members, gz=False)``: a new archive in tmp_path holding ``members``."""
    count = iter(range(1000))

    def build(*members, gz=False):
        return make_tar(tmp_path / f"a{next(count)}.tar{'.gz' if gz else ''}", members, gz)
    return build


def context(*extra, prefix=""):
    return [member(prefix + "Dockerfile", b"FROM scratch\n"), member(prefix + "data.txt", b"x"),
            *extra]


def refused(path, *words):
    with pytest.raises(InvalidArgs) as caught:
        inspect(path)
    message = str(caught.value).lower()
    for word in words:
        assert word.lower() in message, message
    return message


# -- kinds -----------------------------------------------------------------------------
@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("prefix", ["", "./"])
def test_dockerfile_context(tar, gz, prefix):
    entries = ([member("./")] if prefix else []) + context(
        member(prefix + "sub/"), member(prefix + "sub/Dockerfile", b"not the root one"),
        prefix=prefix)
    archive = inspect(tar(*entries, gz=gz))
    assert archive.kind == DOCKERFILE
    assert archive.compressed is gz
    assert archive.ufop_yaml is None


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("prefix", ["", "./"])
def test_qiniu_package(tar, gz, prefix):
    archive = inspect(tar(member(prefix + "ufop.yaml", yaml.safe_dump(UFOP_YAML).encode()),
                          member(prefix + "run.sh", b"#!/bin/sh\n"), gz=gz))
    assert archive.kind == QINIU
    assert archive.compressed is gz
    assert archive.ufop_yaml == UFOP_YAML


def test_qiniu_package_without_build_script(tar):
    spec = {"image": " base:1 ", "run": "serve"}
    archive = inspect(tar(member("ufop.yaml", yaml.safe_dump(spec).encode())))
    assert archive.ufop_yaml == {"image": "base:1", "build_script": [], "run": "serve"}


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("prefix", ["", "./"])
def test_docker_save(tar, gz, prefix):
    manifest = [{"Config": "abc.json", "RepoTags": ["x:1"], "Layers": ["l1/layer.tar"]}]
    archive = inspect(tar(member(prefix + "manifest.json", json.dumps(manifest).encode()),
                          member(prefix + "abc.json", b"{}"), member(prefix + "l1/"),
                          member(prefix + "l1/layer.tar", b"\0" * 1024),
                          member(prefix + "l2/layer.tar", kind=tarfile.SYMTYPE,
                                 linkname="../l1/layer.tar"), gz=gz))
    assert archive.kind == DOCKER_SAVE
    assert archive.compressed is gz


def test_links_inside_the_archive_are_accepted(tar):
    archive = inspect(tar(*context(
        member("bin/"), member("bin/busybox", b"\x7fELF"),
        member("bin/sh", kind=tarfile.SYMTYPE, linkname="busybox"),
        member("bin/ls", kind=tarfile.SYMTYPE, linkname="../bin/./busybox"),
        member("here", kind=tarfile.SYMTYPE, linkname="."),
        member("bin/hard", kind=tarfile.LNKTYPE, linkname="bin/busybox"))))
    assert archive.kind == DOCKERFILE


# -- refused ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["/Dockerfile", "/etc/cron.d/x", "//x"])
def test_absolute_path(tar, name):
    refused(tar(*context(member(name, b"x"))), "absolute")


@pytest.mark.parametrize("name", ["../x", "a/../../x", "a/../b", "./..", "sub/.."])
def test_dot_dot(tar, name):
    refused(tar(*context(member(name, b"x"))), "..")


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("target", ["/etc/passwd", "/", "..", "../x", "a/../../x",
                                    "../../../../etc/shadow"])
def test_symlink_leaving(tar, gz, target):
    refused(tar(*context(member("link", kind=tarfile.SYMTYPE, linkname=target)), gz=gz),
            "link", "outside")


def test_symlink_leaving_from_a_subdirectory(tar):
    refused(tar(*context(member("a/"), member("a/b/"),
                         member("a/b/link", kind=tarfile.SYMTYPE, linkname="../../../x"))),
            "outside")


def test_symlink_leaving_through_another_symlink(tar):
    """``t -> .`` is harmless alone, but ``s -> t/t/..`` resolves to the archive's parent."""
    refused(tar(*context(member("t", kind=tarfile.SYMTYPE, linkname="."),
                         member("s", kind=tarfile.SYMTYPE, linkname="t/t/.."))),
            "outside")


def test_symlink_leaving_through_a_symlinked_directory(tar):
    """``x/y/up -> ../..`` is the root; ``x/y/up/..`` (the target of ``s``) is its parent."""
    refused(tar(*context(member("x/"), member("x/y/"),
                         member("x/y/up", kind=tarfile.SYMTYPE, linkname="../.."),
                         member("s", kind=tarfile.SYMTYPE, linkname="x/y/up/.."))),
            "outside")


def test_hardlink_leaving_through_a_symlink(tar):
    refused(tar(*context(member("t", kind=tarfile.SYMTYPE, linkname="."),
                         member("h", kind=tarfile.LNKTYPE, linkname="t/t/../etc/passwd"))),
            "outside")


def test_symlink_loop(tar):
    refused(tar(*context(member("a", kind=tarfile.SYMTYPE, linkname="b"),
                         member("b", kind=tarfile.SYMTYPE, linkname="a/x"))), "link")


@pytest.mark.parametrize("target", ["/etc/passwd", "../outside", "a/../../outside"])
def test_hardlink_leaving(tar, target):
    refused(tar(*context(member("hard", kind=tarfile.LNKTYPE, linkname=target))),
            "link", "outside")


@pytest.mark.parametrize("kind", [tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE])
def test_device_files_and_fifos(tar, kind):
    refused(tar(*context(member("dev", kind=kind))), "device")


@pytest.mark.parametrize("gz", [False, True])
def test_no_marker_at_the_root(tar, gz):
    message = refused(tar(member("sub/"), member("sub/Dockerfile", b"FROM scratch\n"),
                          member("sub/ufop.yaml", b"image: x\nrun: y\n"),
                          member("sub/manifest.json", b"[]"), gz=gz), "root")
    for marker in ("Dockerfile", "ufop.yaml", "manifest.json"):
        assert marker.lower() in message


def test_a_directory_named_like_a_marker_is_no_marker(tar):
    refused(tar(member("Dockerfile/"), member("Dockerfile/x", b"FROM scratch\n")), "root")


def test_a_symlink_named_like_a_marker_is_no_marker(tar):
    refused(tar(member("real", b"FROM scratch\n"),
                member("Dockerfile", kind=tarfile.SYMTYPE, linkname="real")), "root")


def test_empty_archive(tar):
    refused(tar(), "root")


@pytest.mark.parametrize("content", [b"", b"FROM scratch\n", b"\x1f\x8b\x08\x00garbage",
                                     b"PK\x03\x04 a zip file", b"\0" * 10])
def test_not_an_archive(tmp_path, content):
    path = tmp_path / "body"
    path.write_bytes(content)
    with pytest.raises(InvalidArgs):
        inspect(path)


def test_truncated_archive(tar, tmp_path):
    whole = tar(*context(member("big", b"y" * 100_000))).read_bytes()
    cut = tmp_path / "cut.tar"
    cut.write_bytes(whole[:30_000])
    refused(cut, "not a tar")


@pytest.mark.parametrize("text, words", [
    (b"image: [unclosed\n", ["yaml"]),
    (b"- just\n- a list\n", ["mapping"]),
    (b"plain words\n", ["mapping"]),
    (b"build_script: []\nrun: ./run\n", ["image"]),
    (b"image: ''\nrun: ./run\n", ["image"]),
    (b"image: 3\nrun: ./run\n", ["image"]),
    (b"image: base\nbuild_script: []\n", ["run"]),
    (b"image: base\nrun: ['a', 'b']\n", ["run"]),
    (b"image: base\nbuild_script: make all\nrun: ./run\n", ["build_script", "list"]),
    (b"image: base\nbuild_script: {a: 1}\nrun: ./run\n", ["build_script", "list"]),
    (b"image: base\nbuild_script: [1, 2]\nrun: ./run\n", ["build_script", "list"]),
])
def test_bad_ufop_yaml(tar, text, words):
    refused(tar(member("ufop.yaml", text)), "ufop.yaml", *words)


def test_oversized_ufop_yaml(tar):
    refused(tar(member("ufop.yaml", b"# " + b"x" * (70 * 1024) + b"\nimage: a\nrun: b\n")),
            "ufop.yaml")


# -- the ufop.yaml kind as a Dockerfile ------------------------------------------------
def test_qiniu_dockerfile():
    spec = {"image": "ufop-test-busybox:latest",
            "build_script": ["cp $RESOURCE/run.sh .", "echo \"it's done\" > done"],
            "run": "./run.sh --port 9100"}
    lines = archives.qiniu_dockerfile(spec).splitlines()
    assert lines[0] == "FROM ufop-test-busybox:latest"
    assert f"COPY . {archives.RESOURCE_DIR}/" in lines
    assert f"WORKDIR {archives.WORK_DIR}" in lines
    assert "EXPOSE 9100" in lines
    run = next(line for line in lines if line.startswith("RUN "))
    shell, flag, script = json.loads(run[len("RUN "):])  # exec form: no second shell parsing
    assert (shell, flag) == ("/bin/sh", "-c")
    assert script.splitlines() == ["set -e", f"export RESOURCE={archives.RESOURCE_DIR}",
                                   "cp $RESOURCE/run.sh .", "echo \"it's done\" > done",
                                   f"rm -rf {archives.RESOURCE_DIR}"]
    cmd = next(line for line in lines if line.startswith("CMD "))
    assert json.loads(cmd[len("CMD "):]) == ["/bin/sh", "-c", "./run.sh --port 9100"]
    assert lines.index(run) < lines.index(cmd)


def test_with_dockerfile_replaces_the_packages_own(tar, tmp_path):
    src = tar(member("ufop.yaml", b"image: a\nrun: b\n"), member("Dockerfile", b"FROM evil\n"),
              member("run.sh", b"#!/bin/sh\n"), gz=True)
    dst = tmp_path / "context.tar"
    archives.with_dockerfile(src, dst, "FROM good\n")
    with tarfile.open(dst) as out:
        names = out.getnames()
        assert sorted(names) == ["Dockerfile", "run.sh", "ufop.yaml"]
        assert out.extractfile("Dockerfile").read() == b"FROM good\n"


# -- docker save archives are loaded without their tags --------------------------------
def test_without_tags(tar, tmp_path):
    manifest = [{"Config": "c1.json", "RepoTags": ["busybox:latest", "other:1"],
                 "Layers": ["l1/layer.tar"]},
                {"Config": "c2.json", "RepoTags": ["ufop/victim:3.v1"], "Layers": []}]
    layer = b"L" * 5000
    src = tar(member("./"), member("./manifest.json", json.dumps(manifest).encode()),
              member("./repositories", json.dumps({"busybox": {"latest": "abc"}}).encode()),
              member("./c1.json", b"{\"config\": 1}"), member("./c2.json", b"{}"),
              member("./l1/"), member("./l1/layer.tar", layer), gz=True)
    dst = tmp_path / "untagged.tar"
    archives.without_tags(src, dst)
    with tarfile.open(dst) as out:
        names = {archives.normalize(n) for n in out.getnames()}
        assert "repositories" not in names
        assert {"manifest.json", "c1.json", "c2.json", "l1", "l1/layer.tar"} <= names
        loaded = json.load(out.extractfile(next(m for m in out.getmembers()
                                                if archives.normalize(m.name)
                                                == "manifest.json")))
        assert [entry["RepoTags"] for entry in loaded] == [None, None]
        assert [entry["Config"] for entry in loaded] == ["c1.json", "c2.json"]
        assert loaded[0]["Layers"] == ["l1/layer.tar"]
        assert out.extractfile(next(m for m in out.getmembers()
                                    if m.name.endswith("layer.tar"))).read() == layer
    assert inspect(dst).kind == DOCKER_SAVE


def test_without_tags_refuses_a_manifest_that_is_not_one(tar, tmp_path):
    src = tar(member("manifest.json", b"{not json"))
    with pytest.raises(InvalidArgs):
        archives.without_tags(src, tmp_path / "out.tar")
