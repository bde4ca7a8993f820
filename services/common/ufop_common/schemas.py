"""Input schemas that are part of the contract (SPEC §2, §4), validated with pydantic.

``parse`` turns a pydantic failure into ``InvalidArgs`` whose message names the field.
Unknown fields are ignored (SPEC §2); types are strict: ``"5"`` is not a count.
"""
import re
from typing import Annotated, Optional

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, StrictStr
from pydantic import ValidationError

from .errors import InvalidArgs

NAME_RE = r"^[a-z][a-z0-9_-]{4,19}$"
VERSION_RE = r"^[A-Za-z0-9._-]{1,32}$"
UID_RE = r"^[0-9]{1,20}$"
MAX_DESC = 1024
MAX_CONFIGURATION = 64 * 1024
MAX_ACCESS_LIST = 1000

ACL_NAMES = ("PUBLIC", "PROTECTED", "PRIVATE")


def acl_mode(value):
    """0/1/2 as a number or string, or PUBLIC/PROTECTED/PRIVATE in any case -> 0..2."""
    if isinstance(value, bool):
        raise ValueError("must be 0, 1, 2, PUBLIC, PROTECTED or PRIVATE")
    if isinstance(value, int) and value in (0, 1, 2):
        return value
    if isinstance(value, str):
        word = value.strip().upper()
        if word in ACL_NAMES:
            return ACL_NAMES.index(word)
        if word in ("0", "1", "2"):
            return int(word)
    raise ValueError("must be 0, 1, 2, PUBLIC, PROTECTED or PRIVATE")


AclMode = Annotated[int, BeforeValidator(acl_mode)]
Name = Annotated[StrictStr, Field(pattern=NAME_RE)]
Version = Annotated[StrictStr, Field(pattern=VERSION_RE)]
Uid = Annotated[StrictStr, Field(pattern=UID_RE)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class UfopCreate(_Input):
    name: Name
    aclMode: AclMode
    configuration: StrictStr = Field("", max_length=MAX_CONFIGURATION)
    desc: StrictStr = Field("", max_length=MAX_DESC)


class UfopUpdate(_Input):
    version: Optional[Version] = None
    aclMode: Optional[AclMode] = None
    desc: Optional[StrictStr] = Field(None, max_length=MAX_DESC)
    configuration: Optional[StrictStr] = Field(None, max_length=MAX_CONFIGURATION)
    accessList: Optional[list[Uid]] = Field(None, max_length=MAX_ACCESS_LIST)
    flavor: Optional[StrictStr] = Field(None, min_length=1, max_length=64)
    maxInstanceNum: Optional[StrictInt] = Field(None, ge=1, le=1000)


class Paging(_Input):
    limit: StrictInt = Field(100, ge=1, le=1000)
    marker: Optional[StrictStr] = Field(None, max_length=64)


HUMAN = {
    NAME_RE: "must be 5-20 characters of a-z 0-9 - _, starting with a letter",
    VERSION_RE: "must be 1-32 characters of A-Z a-z 0-9 . _ -",
    UID_RE: "must be a uid (a decimal string)",
}


def _describe(err):
    field = ".".join(str(p) for p in err["loc"]) or "body"
    pattern = (err.get("ctx") or {}).get("pattern")
    message = HUMAN.get(pattern) or err["msg"]
    if err["type"] == "missing":
        message = "is required"
    return f"{field}: {message}"


def parse(model, data):
    """Validate ``data`` (a dict) against ``model``; ``InvalidArgs`` naming the field otherwise."""
    if not isinstance(data, dict):
        raise InvalidArgs("body: must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidArgs("; ".join(_describe(e) for e in exc.errors()[:3])) from None


def check_name(name, field="name"):
    if not isinstance(name, str) or not re.match(NAME_RE, name):
        raise InvalidArgs(f"{field}: {HUMAN[NAME_RE]}")
    return name


def check_version(version, field="version"):
    if not isinstance(version, str) or not re.match(VERSION_RE, version):
        raise InvalidArgs(f"{field}: {HUMAN[VERSION_RE]}")
    return version
