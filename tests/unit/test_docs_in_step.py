"""docs/rpc.md and docs/events.md name every RPC method and every event the code has."""
import inspect
import re
from pathlib import Path

import pytest
from nameko.rpc import Rpc

from logs.service import LogsService
from registry.service import RegistryService
from scheduler.service import SchedulerService

ROOT = Path(__file__).resolve().parents[2]
SERVICES = (RegistryService, SchedulerService, LogsService)
#: ``self.events("x", ...)``, ``self.publish("x", ...)``, ``dispatch("source", "x", ...)``
PUBLISHED = re.compile(r'(?:self\.(?:events|publish)\(|dispatch\(\s*"\w+",)\s*"(\w+)"')


def rpc_methods(cls):
    for name, member in inspect.getmembers(cls):
        if any(isinstance(e, Rpc) for e in getattr(member, "nameko_entrypoints", ())):
            yield name, inspect.signature(member)


def section(text, title):
    """The part of a markdown document under ``## title``."""
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("cls", SERVICES, ids=lambda c: c.name)
def test_every_rpc_method_is_documented_with_its_arguments(cls):
    doc = section((ROOT / "docs" / "rpc.md").read_text(), cls.name)
    methods = dict(rpc_methods(cls))
    assert methods
    for name, signature in methods.items():
        params = ", ".join(str(p) for p in list(signature.parameters.values())[1:])
        params = params.replace("'", '"')
        assert f"`{name}({params})`" in doc, f"{cls.name}.{name}({params}) is not in docs/rpc.md"


def test_every_published_event_is_documented():
    source = "\n".join(p.read_text() for p in (ROOT / "services").rglob("*.py"))
    published = set(PUBLISHED.findall(source))
    assert {"ufop_registered", "version_built", "instance_added", "instance_log"} <= published
    doc = (ROOT / "docs" / "events.md").read_text()
    for event in sorted(published):
        assert f"| `{event}` |" in doc, f"event {event} is not in docs/events.md"
