"""invoke: call a ufop through the gateway's data plane."""
import base64
import sys
from contextlib import ExitStack

import click

from . import output
from .base import command

CHUNK = 64 * 1024


@command("invoke", gateway_flags=("--gateway",))
@click.argument("target", metavar="NAME[/PARAMS]")
@click.argument("source", metavar="[FILE]", required=False,
                type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--url", "source_url", metavar="URL",
              help="the ufop fetches its file from URL (instead of FILE)")
@click.option("-o", "--output", "out", metavar="OUT", type=click.Path(dir_okay=False),
              help="write the answer to OUT instead of stdout")
def invoke(ctl, target, source, source_url, out):
    """Call ufop NAME (with /PARAMS) on FILE ('-' for stdin), on --url URL, or on nothing.

    The answer goes to stdout or OUT; an error answer of the ufop goes to stderr and exits
    with 1. Signed when keys are known (protected and private ufops need it).
    """
    if source is not None and source_url is not None:
        raise click.UsageError("give FILE or --url, not both")
    with ExitStack() as stack:
        body = None
        if source == "-":
            body = chunks(sys.stdin.buffer)
        elif source is not None:
            body = stack.enter_context(open(source, "rb"))
        answer = stack.enter_context(ctl.caller.invoke(target, body, url=source_url))
        content_type = answer.headers.get("Content-Type", "")
        if not answer.ok:
            detail = answer.content.decode("utf-8", "replace")
            if ctl.as_json:
                output.emit_json(described(answer, answer.content))
            else:
                click.echo(detail, err=True, nl=not detail.endswith("\n"))
            raise click.ClickException(f"{target} answered HTTP {answer.status_code}")
        if out is not None:
            size = 0
            with open(out, "wb") as sink:
                for chunk in answer.iter_content(CHUNK):
                    sink.write(chunk)
                    size += len(chunk)
            ctl.show({"status": answer.status_code, "contentType": content_type,
                      "output": out, "bytes": size},
                     lambda _: output.say(f"wrote {size} bytes to {out} ({content_type})"))
        elif ctl.as_json:
            output.emit_json(described(answer, answer.content))
        else:
            sink = sys.stdout.buffer
            for chunk in answer.iter_content(CHUNK):
                sink.write(chunk)
            sink.flush()


def chunks(stream):
    """``stream`` (a pipe: its length unknown until it ends) sent chunked as it is read; the
    gateway gives the instance a Content-Length."""
    return iter(lambda: stream.read(CHUNK), b"")


def described(answer, content):
    """An answer as JSON: status, type, and its body as text (base64 if it is not UTF-8)."""
    result = {"status": answer.status_code,
              "contentType": answer.headers.get("Content-Type", "")}
    try:
        result["body"] = content.decode("utf-8")
    except UnicodeDecodeError:
        result["bodyBase64"] = base64.b64encode(content).decode()
    return result
