"""Images and versions: build, versions, ver."""
import time

import click
from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn,
                           TimeRemainingColumn, TransferSpeedColumn)

from . import output
from .base import command
from .packing import archive_of

BUILD_ENDED = ("build success", "build failed")
POLL_INTERVAL = 1.0


@command("build")
@click.argument("name")
@click.argument("source", metavar="DIR", type=click.Path(exists=True))
@click.option("-v", "--version", required=True, help="the new version's name")
@click.option("-d", "--desc", help="what changed in this version")
def build(ctl, name, source, version, desc):
    """Upload DIR as VERSION of ufop NAME and follow its build.

    DIR is a folder with a Dockerfile or a Qiniu ufop.yaml at its root (packed into a
    tar.gz), or an archive file sent as it is (a `docker save` archive). The build log is
    printed at the end; a failed build exits with 1.
    """
    client = ctl.client
    with archive_of(source) as (path, size), open(path, "rb") as archive:
        with upload_progress(size, f"{name} {version}", quiet=ctl.as_json) as advance:
            client.upload_image(name, version, archive, size, advance, desc)
    try:
        with output.stderr.status(f"building {name} {version}"):
            state = wait_built(client, name, version)
    except KeyboardInterrupt:
        output.say(f"The build goes on; see `ufopctl versions {name}`.")
        raise
    log = client.build_log(name, version)
    ctl.show({"ufop": name, "version": version, "state": state, "log": log},
             lambda _: output.text(log.rstrip("\n")))
    if state != "build success":
        raise click.ClickException(f"the build of {name} {version} failed (its log is above)")
    if not ctl.as_json:
        output.say(f"Built {name} {version}; make it current with "
                   f"`ufopctl ver {name} -c {version}`")


class upload_progress:
    """A rich progress bar of bytes sent, on stderr; entering gives the callback to feed."""

    def __init__(self, size, what, quiet=False):
        self.progress = Progress(TextColumn(f"uploading {what}"), BarColumn(),
                                 DownloadColumn(binary_units=True), TransferSpeedColumn(),
                                 TimeRemainingColumn(), console=output.stderr, disable=quiet)
        self.task = self.progress.add_task("upload", total=size)

    def __enter__(self):
        self.progress.start()
        return lambda sent, total: self.progress.update(self.task, completed=sent)

    def __exit__(self, *exc):
        self.progress.stop()


def wait_built(client, name, version):
    """Poll the versions until this one's build ends; its final state."""
    while True:
        listed = {v["version"]: v for v in client.list_versions(name)}
        if version not in listed:
            raise click.ClickException(f"version {version} of {name} is gone")
        state = listed[version]["state"]
        if state in BUILD_ENDED:
            return state
        time.sleep(POLL_INTERVAL)


@command("versions")
@click.argument("name")
def versions(ctl, name):
    """The versions of ufop NAME and their build states (* marks the current one)."""
    listed = ctl.client.list_versions(name)
    if ctl.as_json:
        output.emit_json(listed)
        return
    current = ctl.client.get_ufop(name)["version"]
    output.table(["", "VERSION", "STATE", "CREATED (UTC)", "DESCRIPTION"],
                 [("*" if v["version"] == current else "", v["version"], v["state"],
                   v["createAt"], v["desc"]) for v in listed],
                 empty=f"{name} has no versions yet: ufopctl build {name} DIR -v VERSION")


@command("ver")
@click.argument("name")
@click.option("-c", "--current", "version", metavar="VERSION",
              help="make VERSION the current one (instances move to it by switch)")
def current_version(ctl, name, version):
    """Show, or with -c set, the current version of ufop NAME."""
    if version is None:
        current = ctl.client.get_ufop(name)["version"]
        ctl.show({"name": name, "version": current},
                 lambda _: output.text(current or "(none)"))
        return
    detail = ctl.client.set_version(name, version)
    ctl.show(detail, lambda d: output.say(
        f"{name} is now at {d['version']}; running instances move to it with "
        f"`ufopctl switch {name} --all`"))
