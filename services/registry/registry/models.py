"""The registry's store: ufops, their access lists and their versions."""
import secrets

from peewee import (BigIntegerField, BooleanField, CharField, DateTimeField, ForeignKeyField,
                    IntegerField, TextField)

from ufop_common.store import make_base_model
from ufop_common.timefmt import utcnow

database, BaseModel = make_base_model()


def new_id():
    """Ufop ids are random, never reused: the audit trail and logs of a deleted ufop can never
    surface under a new one (SQLite may reuse the largest rowid). 52 bits stay exact in JSON."""
    return secrets.randbits(52) or 1


class Ufop(BaseModel):
    id = BigIntegerField(primary_key=True, default=new_id)
    name = CharField(max_length=20, unique=True)
    owner = CharField(max_length=20, index=True)
    acl_mode = IntegerField(default=2)
    description = TextField(default="")
    configuration = TextField(default="")
    flavor = CharField(max_length=64, default="default")
    max_instance_num = IntegerField(default=5)
    instance_num = IntegerField(default=0)
    instance_num_at = DateTimeField(null=True)  # time of the event that set instance_num
    version = CharField(max_length=32, default="")
    created_at = DateTimeField(default=utcnow)


class Access(BaseModel):
    """One account on a ufop's access list."""

    ufop = ForeignKeyField(Ufop, on_delete="CASCADE", backref="access")
    uid = CharField(max_length=20, index=True)

    class Meta:
        indexes = ((("ufop", "uid"), True),)


class Version(BaseModel):
    ufop = ForeignKeyField(Ufop, on_delete="CASCADE", backref="versions")
    version = CharField(max_length=32)
    state = CharField(max_length=16, default="building")
    description = TextField(default="")
    kind = CharField(max_length=16, default="")
    image = CharField(max_length=255, default="")
    blob = CharField(max_length=80, default="")
    created_at = DateTimeField(default=utcnow)
    finished = BooleanField(default=False)

    class Meta:
        indexes = ((("ufop", "version"), True),)


MODELS = [Ufop, Access, Version]
