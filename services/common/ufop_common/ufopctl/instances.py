"""Instances and their logs: instances, add, rm, start, stop, reboot, switch, log."""
import json
import re
from datetime import datetime, timedelta, timezone

import click

from . import output
from .base import command

INDEX = click.argument("index", type=click.IntRange(min=1))


def show_instances(rows):
    output.table(["INDEX", "VERSION", "STATE"],
                 [(i["index"], i["version"], i["state"]) for i in rows],
                 empty="no instances")


def show_instance(name):
    return lambda i: output.say(f"{name} instance {i['index']}: {i['state']} ({i['version']})")


@command("instances")
@click.argument("name")
def instances(ctl, name):
    """The instances of ufop NAME."""
    ctl.show(sorted(ctl.client.list_instances(name), key=lambda i: i["index"]),
             show_instances)


@command("add")
@click.argument("name")
@click.option("-n", "--number", "size", type=click.IntRange(min=1), default=1,
              show_default=True, help="how many instances to add")
def add(ctl, name, size):
    """Add instances of the current version of ufop NAME (they wait for health)."""
    with output.stderr.status(f"adding {size} instance(s) of {name}"):
        listed = ctl.client.add_instances(name, size)
    ctl.show(sorted(listed, key=lambda i: i["index"]), show_instances)


@command("rm")
@click.argument("name")
@INDEX
def remove(ctl, name, index):
    """Remove instance INDEX of ufop NAME (its container goes; its log stays)."""
    ctl.client.delete_instance(name, index)
    ctl.show({"name": name, "index": index, "deleted": True},
             lambda _: output.say(f"Removed instance {index} of {name}"))


def action_command(action, doc):
    def run(ctl, name, index):
        with output.stderr.status(f"{action} {name} instance {index}"):
            result = ctl.client.instance_action(name, index, action)
        ctl.show(result, show_instance(name))

    run.__doc__ = doc
    return command(action)(click.argument("name")(INDEX(run)))


start = action_command("start", "Start instance INDEX of ufop NAME; waits for health.")
stop = action_command("stop", "Stop instance INDEX of ufop NAME.")
reboot = action_command("reboot", "Restart instance INDEX of ufop NAME; waits for health.")


@command("switch")
@click.argument("name")
@click.argument("index", type=click.IntRange(min=1), required=False)
@click.option("--all", "every", is_flag=True,
              help="every instance, one by one, each healthy before the next")
def switch(ctl, name, index, every):
    """Move instance INDEX (or --all) of ufop NAME to the current version, with no gap:
    the new container is healthy before the old one goes."""
    if (index is None) == (not every):
        raise click.UsageError("give an INDEX or --all (not both)")
    if not every:
        with output.stderr.status(f"switching {name} instance {index}"):
            result = ctl.client.instance_action(name, index, "switch")
        ctl.show(result, show_instance(name))
        return
    indexes = sorted(i["index"] for i in ctl.client.list_instances(name))
    if not indexes:
        raise click.ClickException(f"{name} has no instances to switch")
    done = []
    for number, index in enumerate(indexes, 1):
        with output.stderr.status(f"switching {name} instance {index} "
                                  f"({number} of {len(indexes)})"):
            try:
                result = ctl.client.instance_action(name, index, "switch")
            except Exception:
                if done:
                    output.say(f"switched: {', '.join(str(i['index']) for i in done)}; "
                               f"stopped at instance {index}")
                raise
        done.append(result)
        if not ctl.as_json:
            show_instance(name)(result)
    if ctl.as_json:
        output.emit_json(done)


RELATIVE = re.compile(r"^(\d+)([smhd])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def since_of(value):
    """``--since``: RFC 3339 as it is, or a duration ago (``90s``, ``10m``, ``2h``, ``1d``)."""
    if value is None:
        return None
    match = RELATIVE.match(value)
    if not match:
        return value  # the gateway checks it and names the field when it is wrong
    moment = datetime.now(timezone.utc) - timedelta(**{UNITS[match[2]]: int(match[1])})
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@command("log")
@click.argument("name")
@INDEX
@click.option("--tail", type=click.IntRange(min=0), help="the last N lines [gateway: 100]")
@click.option("--since", metavar="TIME",
              help="lines at or after TIME: RFC 3339, or a duration ago (30s, 10m, 2h, 1d)")
@click.option("-f", "--follow", is_flag=True, help="then print new lines as they come")
def log(ctl, name, index, tail, since, follow):
    """The log of instance INDEX of ufop NAME (stdout and stderr of its containers)."""
    since = since_of(since)
    if not follow:
        text = ctl.client.instance_log(name, index, tail, since)
        ctl.show({"log": text}, lambda _: text and output.text(text))
        return
    for item in ctl.client.follow_log(name, index, tail, since):
        output.text(json.dumps(item, ensure_ascii=False) if ctl.as_json else item["line"])
