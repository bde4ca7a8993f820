"""``ufop``: the operator's command line (``ufop up`` runs the whole platform)."""
import signal
import sys
import time

import click

from .launcher import Stack


@click.group()
def main():
    """The UFOP platform."""


@main.command()
@click.option("--timeout", default=90, show_default=True,
              help="seconds to wait for every service to answer")
def up(timeout):
    """Run all four services in the foreground until Ctrl-C or SIGTERM."""
    stack = Stack()
    stopping = []

    def stop(signum, frame):
        stopping.append(signum)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    stack.start()
    try:
        stack.wait_healthy(timeout)
    except RuntimeError as exc:
        click.echo(f"ufop: {exc}", err=True)
        stack.stop()
        sys.exit(1)
    click.echo(f"UFOP platform is up: {stack.gateway_url}")
    click.echo(f"  admin: UFOP_ADMIN_AK={stack.env['UFOP_ADMIN_AK']} "
               f"UFOP_ADMIN_SK={stack.env['UFOP_ADMIN_SK']}")
    click.echo(f"  data: {stack.data_dir.resolve()}  logs: {stack.log_dir.resolve()}")
    click.echo("  Ctrl-C stops every service.")
    restarts = {}
    while not stopping:
        for service, code in stack.exited().items():
            recent = [t for t in restarts.get(service, []) if time.monotonic() - t < 60]
            if len(recent) >= 5:
                click.echo(f"ufop: {service} keeps exiting (code {code}); stopping", err=True)
                stopping.append(None)
                break
            click.echo(f"ufop: {service} exited with code {code}; restarting", err=True)
            restarts[service] = recent + [time.monotonic()]
            stack.start_service(service)
        time.sleep(0.5)
    click.echo("ufop: stopping services")
    stack.stop()
    click.echo("ufop: stopped")


if __name__ == "__main__":
    main()
