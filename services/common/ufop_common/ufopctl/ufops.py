"""login, and the ufops themselves: reg, unreg, list, info, update."""
import os
import sys

import click

from ..client import Client
from . import output
from .base import ACL_MODES, cli, command
from .profile import DEFAULT_URL, load_saved, normalize_url, save


@cli.command()
@click.option("--url", metavar="URL", help="the gateway [env UFOP_URL; asked when missing]")
@click.option("--ak", metavar="AK", help="access key [env UFOP_AK; asked when missing]")
@click.option("--sk", metavar="SK", help="secret key [env UFOP_SK; asked when missing]")
@click.option("--json", "as_json", is_flag=True, help="print machine-readable JSON")
def login(url, ak, sk, as_json):
    """Check the keys with the gateway and save URL, AK and SK (mode 0600).

    The URL stays what was saved unless given; keys not given are asked for."""
    url = (url or os.environ.get("UFOP_URL") or load_saved().get("url")
           or click.prompt("Gateway URL", default=DEFAULT_URL, err=True))
    ak = ak or os.environ.get("UFOP_AK") or click.prompt("Access key", err=True)
    sk = sk or os.environ.get("UFOP_SK") or click.prompt("Secret key", hide_input=True,
                                                         err=True)
    url = normalize_url(url)
    me = Client(url, ak, sk).me()
    path = save(url, ak, sk)
    result = {"url": url, "uid": me["uid"], "admin": me["admin"], "config": str(path)}
    output.show(as_json, result, lambda r: output.say(
        f"Logged in to {url} as uid {r['uid']}{' (admin)' if r['admin'] else ''}; "
        f"keys saved in {path} (mode 0600)"))


def configuration_of(value):
    """``--config TEXT``, or ``--config @FILE`` for a file's content."""
    if value is None or not value.startswith("@"):
        return value
    try:
        with open(value[1:], encoding="utf-8") as source:
            return source.read()
    except OSError as exc:
        raise click.BadParameter(f"cannot read {value[1:]}: {exc.strerror}",
                                 param_hint="--config")


def show_detail(detail):
    output.block([
        ("name", detail["name"]),
        ("owner", detail["owner"]),
        ("acl", detail["aclMode"]),
        ("description", detail["description"]),
        ("version", detail["version"] or "(none yet: ufopctl ver NAME -c VERSION)"),
        ("instances", f"{detail['instanceNum']} of at most {detail['maxInstanceNum']}"),
        ("flavor", detail["flavor"]),
        ("access list", ", ".join(detail["accessList"]) or "(empty)"),
        ("created", detail["createTime"]),
        ("configuration", detail["configuration"] or "(none)"),
    ])


ACL_OPTION = dict(type=click.Choice(ACL_MODES, case_sensitive=False),
                  help="who may see and call it")
CONFIG_OPTION = dict(metavar="TEXT|@FILE",
                     help="the configuration given to instances (UFOP_CONFIGURATION)")


@command("reg")
@click.argument("name")
@click.option("-m", "--acl", required=True, **ACL_OPTION)
@click.option("-d", "--desc", help="what it does")
@click.option("--config", "configuration", **CONFIG_OPTION)
def register(ctl, name, acl, desc, configuration):
    """Register a new ufop NAME."""
    detail = ctl.client.create_ufop(name, acl.upper(), desc, configuration_of(configuration))
    ctl.show(detail, show_detail)


@command("unreg")
@click.argument("name")
@click.option("-y", "--yes", is_flag=True, help="do not ask (asked only at a terminal)")
def unregister(ctl, name, yes):
    """Delete ufop NAME with its versions, images, instances and logs."""
    if not yes and sys.stdin.isatty():
        click.confirm(f"Delete {name} with its versions, instances and logs?", abort=True,
                      err=True)
    ctl.client.delete_ufop(name)
    ctl.show({"name": name, "deleted": True}, lambda _: output.say(f"Deleted {name}"))


@command("list")
def list_ufops(ctl):
    """The ufops you may see."""
    items = list(ctl.client.iter_ufops())
    ctl.show(items, lambda rows: output.table(
        ["NAME", "ACL", "DESCRIPTION"], [(u["name"], u["aclMode"], u["desc"]) for u in rows],
        empty="no ufops"))


@command("info")
@click.argument("name")
def info(ctl, name):
    """The detail of ufop NAME."""
    ctl.show(ctl.client.get_ufop(name), show_detail)


@command("update")
@click.argument("name")
@click.option("-d", "--desc", help="a new description")
@click.option("-m", "--acl", **ACL_OPTION)
@click.option("--access-list", metavar="UID,UID", help="who else may call it ('' clears it)")
@click.option("--flavor", help="container limits by name (e.g. default)")
@click.option("--max-instances", type=click.IntRange(min=1), help="at most this many")
@click.option("--config", "configuration", **CONFIG_OPTION)
def update(ctl, name, desc, acl, access_list, flavor, max_instances, configuration):
    """Change ufop NAME: give at least one option."""
    fields = {}
    if desc is not None:
        fields["desc"] = desc
    if acl is not None:
        fields["aclMode"] = acl.upper()
    if access_list is not None:
        fields["accessList"] = [uid.strip() for uid in access_list.split(",") if uid.strip()]
    if flavor is not None:
        fields["flavor"] = flavor
    if max_instances is not None:
        fields["maxInstanceNum"] = max_instances
    if configuration is not None:
        fields["configuration"] = configuration_of(configuration)
    if not fields:
        raise click.UsageError("nothing to change: give --desc, --acl, --access-list, "
                               "--flavor, --max-instances or --config")
    ctl.show(ctl.client.update_ufop(name, **fields), show_detail)
