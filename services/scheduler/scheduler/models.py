"""The scheduler's store: instances (numbered containers) of each ufop.

A record holds everything needed to (re)create its container without asking the registry:
the image, the flavor's limits and the environment. ``desired`` is what the user asked for;
``state`` is what was last seen (SPEC §4: Starting, Running, Stopped, Failed).
"""
from peewee import (AutoField, BigIntegerField, CharField, CompositeKey, DateTimeField,
                    FloatField, IntegerField, TextField)

from ufop_common.store import make_base_model
from ufop_common.timefmt import utcnow

database, BaseModel = make_base_model()

STARTING, RUNNING, STOPPED, FAILED = "Starting", "Running", "Stopped", "Failed"


class Instance(BaseModel):
    id = AutoField()
    ufop_id = BigIntegerField(index=True)
    ufop_name = CharField(max_length=20)
    index = IntegerField()
    version = CharField(max_length=32)
    image = CharField(max_length=255)
    configuration = TextField(default="")
    cpus = FloatField(default=1.0)
    memory = CharField(max_length=16, default="512m")
    desired = CharField(max_length=8, default="running")  # running | stopped
    state = CharField(max_length=16, default=STARTING)
    container_id = CharField(max_length=80, default="")
    host_port = IntegerField(default=0)
    restarts = IntegerField(default=0)
    unhealthy = IntegerField(default=0)
    started_at = DateTimeField(null=True)
    next_try_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("ufop_id", "index"), True),)

    def view(self):
        return {"index": self.index, "version": self.version, "state": self.state}


class LogCursor(BaseModel):
    """The last line shipped of one stream of one container (see ``shipping``)."""

    container_id = CharField(max_length=80)
    stream = CharField(max_length=8)
    ts = BigIntegerField()  # nanoseconds since the epoch
    n = IntegerField()  # lines of that timestamp shipped

    class Meta:
        primary_key = CompositeKey("container_id", "stream")


MODELS = [Instance, LogCursor]
