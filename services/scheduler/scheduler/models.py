"""The scheduler's store: instances (numbered containers) of each ufop."""
from peewee import AutoField, CharField, DateTimeField, IntegerField

from ufop_common.store import make_base_model
from ufop_common.timefmt import utcnow

database, BaseModel = make_base_model()


class Instance(BaseModel):
    id = AutoField()
    ufop_id = IntegerField(index=True)
    ufop_name = CharField(max_length=20)
    index = IntegerField()
    version = CharField(max_length=32)
    state = CharField(max_length=16, default="Starting")
    container_id = CharField(max_length=80, default="")
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("ufop_id", "index"), True),)


MODELS = [Instance]
