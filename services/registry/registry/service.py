"""The registry: ufops, access lists, versions and image builds (SPEC §4-5)."""
from eventlet import tpool
from nameko.events import event_handler

from ufop_common import config
from ufop_common.errors import InvalidArgs
from ufop_common.events import Events
from ufop_common.rpc import rpc
from ufop_common.schemas import (MAX_DESC, Paging, UfopCreate, UfopUpdate, check_name,
                                 check_version, parse)
from ufop_common.store import Store

from . import access, archives, catalog, versions
from .builds import Builder, describe
from .models import MODELS, database


class RegistryService:
    name = "registry"

    db = Store("registry", database, MODELS)
    events = Events()
    builder = Builder()

    def __init__(self):
        self.settings = config.load()

    @rpc
    def ping(self):
        return "pong"

    @rpc
    def create_ufop(self, uid, fields):
        spec = parse(UfopCreate, fields)
        ufop = catalog.create(uid, spec, self.settings.default_max_instances)
        self.events("ufop_registered", dict(catalog.ref(ufop), by=uid))
        return catalog.detail(ufop)

    @rpc
    def get_ufop(self, uid, name, admin=False):
        return catalog.detail(catalog.find(check_name(name), uid, admin))

    @rpc
    def list_ufops(self, uid, limit=100, marker=None, admin=False):
        paging = parse(Paging, {"limit": limit, "marker": marker})
        items, next_marker = catalog.listing(uid, admin, paging.limit, paging.marker)
        return {"items": items, "marker": next_marker}

    @rpc
    def update_ufop(self, uid, name, fields, admin=False):
        changes = parse(UfopUpdate, fields)
        ufop = catalog.find(check_name(name), uid, admin, "manage")
        previous = ufop.version
        changed = catalog.update(ufop, changes, admin, self.settings)
        if changed:
            self.events("ufop_updated", dict(catalog.ref(ufop), by=uid, fields=changed))
        if "version" in changed:
            self.events("current_version_changed",
                        dict(catalog.ref(ufop), by=uid, previous=previous))
        return catalog.detail(ufop)

    @rpc
    def delete_ufop(self, uid, name, admin=False):
        ufop = catalog.find(check_name(name), uid, admin, "manage")
        payload = dict(catalog.ref(ufop), by=uid)
        built = versions.of(ufop)
        catalog.delete(ufop)
        self.events("ufop_deleted", payload)
        self.builder.forget([v.image for v in built if v.image], {v.blob for v in built})

    @rpc
    def apply(self, uid, name, admin=False):
        """Put ``uid`` on the access list of a ufop it can see (SPEC §3)."""
        ufop = catalog.find(check_name(name), uid, admin)
        if ufop.acl_mode == access.PRIVATE or uid == ufop.owner:
            return  # the owner needs no entry; a private ufop it can see lists it already
        if catalog.set_listed(ufop, uid, True):
            self.events("ufop_updated", dict(catalog.ref(ufop), by=uid, fields=["accessList"]))

    @rpc
    def unapply(self, uid, name, admin=False):
        ufop = catalog.find(check_name(name), uid, admin)
        if catalog.set_listed(ufop, uid, False):
            self.events("ufop_updated", dict(catalog.ref(ufop), by=uid, fields=["accessList"]))

    @rpc
    def authorize(self, uid, name, action="see", admin=False):
        """The ufop's reference if ``uid`` may ``action`` it (see, call, manage)."""
        if action not in access.ACTIONS:
            raise InvalidArgs(f"action: must be one of {', '.join(access.ACTIONS)}")
        return catalog.ref(catalog.find(check_name(name), uid, admin, action))

    # -- images and versions (SPEC §5) ---------------------------------------------------
    @rpc
    def prepare_image(self, uid, name, version, admin=False):
        """May ``uid`` upload ``version`` of ``name``? Asked before the body is streamed."""
        ufop = catalog.find(check_name(name, "ufop"), uid, admin, "manage")
        versions.ensure_free(ufop, check_version(version))
        return catalog.ref(ufop)

    @rpc
    def add_version(self, uid, name, version, blob, desc="", admin=False):
        """Check the uploaded archive ``blob`` and start building ``version`` from it."""
        try:
            if not isinstance(desc, str) or len(desc) > MAX_DESC:
                raise InvalidArgs(f"desc: must be a string of at most {MAX_DESC} characters")
            ufop = catalog.find(check_name(name, "ufop"), uid, admin, "manage")
            versions.ensure_free(ufop, check_version(version))
            archive = tpool.execute(archives.inspect, self.builder.blobs.path(blob))
            row, replaced = versions.put(ufop, version, blob, desc, archive.kind)
        except Exception:
            self.builder.release_blob(blob)
            raise
        if replaced and replaced != blob:
            self.builder.release_blob(replaced)
        self.builder.start_build(row.id, archive)
        return {"ufop": ufop.name, "version": version, "state": row.state}

    @rpc
    def release_blob(self, blob):
        """Drop an uploaded blob that no version uses (an upload that went no further)."""
        self.builder.release_blob(blob)

    @rpc
    def list_versions(self, uid, name, admin=False):
        ufop = catalog.find(check_name(name), uid, admin, "manage")
        return [describe(v) for v in versions.of(ufop)]

    @rpc
    def version_ref(self, uid, name, version, admin=False):
        """``{id, name, version, state}`` of a version ``uid`` manages."""
        ufop = catalog.find(check_name(name), uid, admin, "manage")
        row = versions.get(ufop, check_version(version))
        return {"id": ufop.id, "name": ufop.name, "version": row.version, "state": row.state,
                "image": row.image}

    # -- instances (the scheduler's side) ----------------------------------------------
    @rpc
    def instance_spec(self, uid, name, admin=False):
        """What the scheduler needs to run a ufop ``uid`` manages: its current version's image,
        its configuration and its flavor's limits."""
        ufop = catalog.find(check_name(name), uid, admin, "manage")
        spec = dict(catalog.ref(ufop), image="", configuration=ufop.configuration)
        if ufop.version:
            spec["image"] = versions.get(ufop, ufop.version).image
        flavor = self.settings.flavors.get(ufop.flavor) or self.settings.flavors["default"]
        spec.update(cpus=float(flavor.get("cpus", 1)), memory=str(flavor.get("memory", "512m")))
        return spec

    @rpc
    def route(self, name):
        """What the gateway's data plane needs to route calls to ``name`` (trusted caller)."""
        ufop = catalog.find(check_name(name), "", True)
        return {"id": ufop.id, "name": ufop.name, "owner": ufop.owner,
                "aclMode": ufop.acl_mode, "version": ufop.version,
                "accessList": [a["uid"] for a in catalog.access_list(ufop)]}

    @event_handler("scheduler", "instance_added")
    def on_instance_added(self, payload):
        catalog.count_instances(payload)

    @event_handler("scheduler", "instance_deleted")
    def on_instance_deleted(self, payload):
        catalog.count_instances(payload)
