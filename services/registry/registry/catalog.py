"""Ufop records: the registry's queries and changes, on its own store.

Every function takes the acting account (``uid``, ``admin``) and applies SPEC §3: a ufop the
caller may not see is ``UfopNotfound``; one it may see but not manage is ``Forbidden``.
"""
from datetime import datetime

from peewee import IntegrityError

from ufop_common.errors import Forbidden, InvalidArgs, UfopExists, UfopNotfound, VersionNotFound
from ufop_common.store import Prepared
from ufop_common.timefmt import create_time

from . import access
from .models import Access, Ufop, Version, database

# the lookups every request makes, their SQL built once (see Prepared)
UFOP_BY_NAME = Prepared(Ufop, lambda name: Ufop.select().where(Ufop.name == name))
ACCESS_LIST = Prepared(Access, lambda ufop_id: Access.select(Access.uid)
                       .where(Access.ufop == ufop_id).order_by(Access.id))


def detail(ufop):
    return {
        "name": ufop.name,
        "owner": ufop.owner,
        "version": ufop.version,
        "aclMode": access.ACL_NAMES[ufop.acl_mode],
        "description": ufop.description,
        "createTime": create_time(ufop.created_at),
        "instanceNum": ufop.instance_num,
        "maxInstanceNum": ufop.max_instance_num,
        "flavor": ufop.flavor,
        "accessList": [a["uid"] for a in access_list(ufop)],
        "configuration": ufop.configuration,
    }


def access_list(ufop):
    return ACCESS_LIST(ufop.id).dicts()


def ref(ufop):
    """The small description other services and events use."""
    return {"id": ufop.id, "name": ufop.name, "owner": ufop.owner,
            "aclMode": access.ACL_NAMES[ufop.acl_mode], "version": ufop.version,
            "flavor": ufop.flavor, "maxInstanceNum": ufop.max_instance_num}


def is_listed(ufop, uid):
    return Access.select().where((Access.ufop == ufop) & (Access.uid == uid)).exists()


def find(name, uid, admin, action="see"):
    """The ufop ``name`` if the caller may do ``action`` on it (404 when it may not see it)."""
    ufop = UFOP_BY_NAME.first(name)
    if ufop is None:
        raise UfopNotfound(f"ufop {name!r} not found")
    needs_list = not admin and uid != ufop.owner and ufop.acl_mode != access.PUBLIC
    listed = needs_list and is_listed(ufop, uid)
    if not access.can_see(ufop.acl_mode, ufop.owner, uid, admin, listed):
        raise UfopNotfound(f"ufop {name!r} not found")
    if not access.allowed(action, ufop.acl_mode, ufop.owner, uid, admin, listed):
        raise Forbidden(f"you may not {action} ufop {name!r}")
    return ufop


def create(uid, spec, max_instances):
    for _ in range(3):
        try:
            with database.atomic():
                return Ufop.create(name=spec.name, owner=uid, acl_mode=spec.aclMode,
                                   description=spec.desc, configuration=spec.configuration,
                                   max_instance_num=max_instances)
        except IntegrityError:
            if Ufop.select().where(Ufop.name == spec.name).exists():
                raise UfopExists(f"ufop {spec.name!r} already exists") from None
    raise UfopExists(f"ufop {spec.name!r} could not be created; try again")


def listing(uid, admin, limit, marker):
    """One page of the ufops ``uid`` may see, by name, and the marker of the next page."""
    query = Ufop.select(Ufop.name, Ufop.acl_mode, Ufop.description)
    if not admin:
        listed = Access.select(Access.ufop).where(Access.uid == uid)
        query = query.where((Ufop.acl_mode != access.PRIVATE) | (Ufop.owner == uid)
                            | (Ufop.id.in_(listed)))
    if marker:
        query = query.where(Ufop.name > marker)
    rows = list(query.order_by(Ufop.name).limit(limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    items = [{"name": u.name, "aclMode": access.ACL_NAMES[u.acl_mode], "desc": u.description}
             for u in rows]
    return items, (rows[-1].name if more else None)


def update(ufop, changes, admin, settings):
    """Apply a validated ``UfopUpdate``; returns the names of the fields that changed."""
    fields = changes.model_dump(exclude_none=True)
    if "flavor" in fields and fields["flavor"] not in settings.flavors:
        known = ", ".join(sorted(settings.flavors))
        raise InvalidArgs(f"flavor: unknown flavor {fields['flavor']!r} (known: {known})")
    if fields.get("maxInstanceNum", 0) > settings.max_instance_cap and not admin:
        raise Forbidden(f"maxInstanceNum: above the platform cap of "
                        f"{settings.max_instance_cap} only an admin may set")
    if "version" in fields:
        version = Version.get_or_none((Version.ufop == ufop)
                                      & (Version.version == fields["version"]))
        if version is None:
            raise VersionNotFound(f"version {fields['version']!r} of {ufop.name!r} not found")
        if version.state != "build success":
            raise InvalidArgs(f"version: {fields['version']!r} is {version.state!r}; only a "
                              f"'build success' version can be made current")
    column = {"version": "version", "aclMode": "acl_mode", "desc": "description",
              "configuration": "configuration", "flavor": "flavor",
              "maxInstanceNum": "max_instance_num"}
    changed = []
    with database.atomic():
        for key, attr in column.items():
            if key in fields and getattr(ufop, attr) != fields[key]:
                setattr(ufop, attr, fields[key])
                changed.append(key)
        if changed:
            ufop.save()
        if "accessList" in fields:
            wanted = list(dict.fromkeys(fields["accessList"]))
            current = [a["uid"] for a in access_list(ufop)]
            if wanted != current:
                Access.delete().where(Access.ufop == ufop).execute()
                if wanted:
                    Access.insert_many([{"ufop": ufop.id, "uid": u} for u in wanted]).execute()
                changed.append("accessList")
    return changed


def delete(ufop):
    with database.atomic():
        Access.delete().where(Access.ufop == ufop).execute()
        Version.delete().where(Version.ufop == ufop).execute()
        ufop.delete_instance()


def set_listed(ufop, uid, on):
    """Put ``uid`` on (or take it off) the access list; whether anything changed."""
    with database.atomic():
        if on:
            if is_listed(ufop, uid):
                return False
            Access.insert(ufop=ufop.id, uid=uid).on_conflict_ignore().execute()
            return True
        return Access.delete().where((Access.ufop == ufop) & (Access.uid == uid)).execute() > 0


def count_instances(payload):
    """Keep ``instanceNum`` from the scheduler's events; an older event never wins."""
    when = datetime.strptime(payload["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
    (Ufop.update(instance_num=payload["instanceNum"], instance_num_at=when)
     .where((Ufop.id == payload["id"])
            & (Ufop.instance_num_at.is_null() | (Ufop.instance_num_at <= when)))
     .execute())
