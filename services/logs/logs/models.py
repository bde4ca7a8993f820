"""The logs service's store: the audit trail (and, later, build and instance logs)."""
from peewee import AutoField, CharField, DateTimeField, IntegerField, TextField

from ufop_common.store import make_base_model

database, BaseModel = make_base_model()


class AuditEvent(BaseModel):
    id = AutoField()
    event_id = CharField(max_length=32, unique=True)
    ufop_id = IntegerField(index=True)
    ufop_name = CharField(max_length=20)
    type = CharField(max_length=40)
    time = DateTimeField()
    detail = TextField()


class BuildLog(BaseModel):
    """The output of a version's latest build."""

    ufop_id = IntegerField()
    version = CharField(max_length=32)
    state = CharField(max_length=16)
    text = TextField(default="")
    event_time = DateTimeField()

    class Meta:
        indexes = ((("ufop_id", "version"), True),)


MODELS = [AuditEvent, BuildLog]
