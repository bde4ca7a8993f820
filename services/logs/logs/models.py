"""The logs service's store: the audit trail (and, later, build and instance logs)."""
from peewee import AutoField, BigIntegerField, CharField, DateTimeField, IntegerField, TextField

from ufop_common.store import make_base_model

database, BaseModel = make_base_model()


class AuditEvent(BaseModel):
    id = AutoField()
    event_id = CharField(max_length=32, unique=True)
    ufop_id = BigIntegerField(index=True)
    ufop_name = CharField(max_length=20)
    type = CharField(max_length=40)
    time = DateTimeField()
    detail = TextField()


class BuildLog(BaseModel):
    """The output of a version's latest build."""

    ufop_id = BigIntegerField()
    version = CharField(max_length=32)
    state = CharField(max_length=16)
    text = TextField(default="")
    event_time = DateTimeField()

    class Meta:
        indexes = ((("ufop_id", "version"), True),)


class InstanceLine(BaseModel):
    """One line an instance wrote. (container, stream, ts, n) identifies it: a line shipped
    twice is stored once."""

    id = AutoField()
    ufop_id = BigIntegerField()
    index = IntegerField()
    version = CharField(max_length=32)
    container = CharField(max_length=80)
    stream = CharField(max_length=8)
    ts = BigIntegerField()  # nanoseconds since the epoch, as Docker stamped it
    n = IntegerField()
    line = TextField()

    class Meta:
        indexes = (
            (("container", "stream", "ts", "n"), True),
            (("ufop_id", "index", "ts"), False),
            (("ufop_id", "index", "id"), False),
        )


MODELS = [AuditEvent, BuildLog, InstanceLine]
