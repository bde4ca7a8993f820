"""``ufopctl``: the command line of people who register, build, run and call ufops.

Built on ``ufop_common.client``. ``main`` runs the click group and turns every failure into
one line on stderr and an exit code -- 1 for an error (the server's message), 2 for a usage
error, 130 for Ctrl-C -- never a traceback.
"""
import os
import sys

import click

from ..client import ApiError
# importing a module adds its commands to ``cli``; the help lists them in this order
from . import ufops
from . import images
from . import instances
from . import invoke
from .base import cli
from .output import error

INTERRUPTED = 130
COMMAND_MODULES = (ufops, images, instances, invoke)


def main(argv=None):
    sys.exit(run(argv))


def run(argv=None):
    """The exit code of ufopctl with ``argv``."""
    try:
        code = cli.main(args=argv, prog_name="ufopctl", standalone_mode=False)
        return code if isinstance(code, int) else 0
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):
            return interrupted()
        error("aborted: a question got no answer (give the values as options)")
        return 1
    except KeyboardInterrupt:
        return interrupted()
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except ApiError as exc:
        error(str(exc))
        return 1
    except BrokenPipeError:
        # the reader went away (| head): say nothing, and keep Python from complaining
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:
        error(f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
        return 1
    except Exception as exc:  # a bug of ufopctl: one line, not a traceback
        error(f"unexpected {type(exc).__name__}: {exc}")
        return 1


def interrupted():
    click.echo("Interrupted.", err=True)
    return INTERRUPTED
