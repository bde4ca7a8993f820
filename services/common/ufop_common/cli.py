"""``ufop``: the operator's command line (``ufop up`` runs the whole platform)."""
import json
import os
import signal
import sys
import time
from urllib.parse import urlsplit

import click
import requests

from .auth import sign_qiniu
from .launcher import Stack, admin_keys


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


def keys():
    """UFOP_AK/UFOP_SK, else the admin's keys (environment or the data directory)."""
    if os.environ.get("UFOP_AK") and os.environ.get("UFOP_SK"):
        return os.environ["UFOP_AK"], os.environ["UFOP_SK"]
    return admin_keys(os.environ.get("UFOP_DATA_DIR", "./var"))


@main.command()
@click.argument("method", type=click.Choice(["GET", "POST", "PUT", "DELETE"],
                                            case_sensitive=False))
@click.argument("path")
@click.argument("body", required=False)
@click.option("--file", "upload", type=click.Path(exists=True, dir_okay=False),
              help="send this file as the raw body (an image archive)")
def api(method, path, body, upload):
    """Call the management API, signed: ufop api POST /api/ufops '{"name": ...}'."""
    base = "http://" + os.environ.get("UFOP_GATEWAY_ADDR", "127.0.0.1:8080")
    access_key, secret_key = keys()
    method = method.upper()
    headers, data = {}, b""
    if upload:
        headers["Content-Type"] = "application/octet-stream"
    elif body is not None:
        headers["Content-Type"] = "application/json"
        data = body.encode()
    url = base + path
    parts = urlsplit(url)
    path_query = parts.path + (f"?{parts.query}" if parts.query else "")
    headers["Authorization"] = sign_qiniu(access_key, secret_key, method, path_query,
                                          parts.netloc, headers.get("Content-Type"), data)
    try:
        if upload:
            with open(upload, "rb") as fileobj:
                answer = requests.request(method, url, data=fileobj, headers=headers)
        else:
            answer = requests.request(method, url, data=data or None, headers=headers)
    except requests.RequestException as exc:
        click.echo(f"ufop: the gateway at {base} does not answer ({exc})", err=True)
        sys.exit(2)
    try:
        click.echo(json.dumps(answer.json(), indent=2, ensure_ascii=False))
    except ValueError:
        click.echo(answer.text)
    sys.exit(0 if answer.ok else 1)


if __name__ == "__main__":
    main()
