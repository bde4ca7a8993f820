"""The gateway's store: accounts (SPEC §3)."""
from peewee import BooleanField, CharField, DateTimeField

from ufop_common.store import make_base_model
from ufop_common.timefmt import utcnow

database, BaseModel = make_base_model()


class Account(BaseModel):
    uid = CharField(max_length=20, primary_key=True)
    access_key = CharField(max_length=64, unique=True)
    secret_key = CharField(max_length=64)
    admin = BooleanField(default=False)
    created_at = DateTimeField(default=utcnow)


MODELS = [Account]
