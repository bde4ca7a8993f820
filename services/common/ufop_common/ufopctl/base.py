"""The ``ufopctl`` group and what every command shares: ``--url/--ak/--sk`` (over the
environment and the saved profile), ``--json``, and a client of the gateway."""
import functools

import click

from ..client import Client
from . import output
from .profile import resolve

ACL_MODES = ("public", "protected", "private")


class WorkflowGroup(click.Group):
    """Lists its commands in the order they were added (the order of the workflow)."""

    def list_commands(self, ctx):
        return list(self.commands)


@click.group(cls=WorkflowGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def cli():
    """ufopctl: register, build, run, watch and call ufops on a UFOP platform.

    Start with `ufopctl login`; every command takes --json for scripts.
    """


class Ctl:
    """What a command works with: the chosen profile, its client and the output mode."""

    def __init__(self, profile, as_json):
        self.profile = profile
        self.as_json = as_json

    @functools.cached_property
    def client(self):
        """A signing client; no keys is an error that says how to get some."""
        if not self.profile.has_keys:
            raise click.ClickException(
                "no keys: run `ufopctl login`, or set UFOP_AK and UFOP_SK, or give --ak/--sk")
        return Client(self.profile.url, self.profile.ak, self.profile.sk)

    @functools.cached_property
    def caller(self):
        """A client that signs when keys are known, and calls anonymously when not."""
        if self.profile.has_keys:
            return self.client
        return Client(self.profile.url)

    def show(self, data, human):
        output.show(self.as_json, data, human)


def shared_options(gateway_flags):
    return (
        click.option(*gateway_flags, "url", metavar="URL",
                     help="the gateway [env UFOP_URL; saved by login]"),
        click.option("--ak", metavar="AK", help="access key [env UFOP_AK; saved by login]"),
        click.option("--sk", metavar="SK", help="secret key [env UFOP_SK; saved by login]"),
        click.option("--json", "as_json", is_flag=True, help="print machine-readable JSON"),
    )


def command(name, gateway_flags=("--url", "--gateway")):
    """A ufopctl command taking a ``Ctl`` first, with the shared options (``invoke`` keeps
    ``--url`` for the file's URL, so there the gateway is ``--gateway`` only)."""
    def decorate(fn):
        @functools.wraps(fn)
        def run(*args, url, ak, sk, as_json, **kwargs):
            return fn(Ctl(resolve(url, ak, sk), as_json), *args, **kwargs)

        for option in shared_options(gateway_flags):
            run = option(run)
        cmd = cli.command(name)(run)
        # the command's own parameters first in its help, then the shared ones in order
        shared = ["url", "ak", "sk", "as_json"]
        cmd.params = ([p for p in cmd.params if p.name not in shared]
                      + sorted((p for p in cmd.params if p.name in shared),
                               key=lambda p: shared.index(p.name)))
        return cmd
    return decorate
