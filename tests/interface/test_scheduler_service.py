"""The scheduler as one real nameko container (instances come with their own issue): it runs,
answers the health ping and consumes ``ufop_deleted`` from the registry."""
import pytest

from scheduler import models
from scheduler.service import SchedulerService
from ufop_common.errors import InvalidArgs
from ufop_common.events import stamp


@pytest.fixture
def scheduler(data_dir, container_factory, rabbit_config, rpc):
    container = container_factory(SchedulerService, rabbit_config)
    container.start()
    yield rpc("scheduler")
    container.stop()
    models.database.close()


def test_ping(scheduler):
    assert scheduler.ping() == "pong"


def test_subscribes_to_ufop_deleted(scheduler, rabbit_manager, rabbit_config):
    vhost = rabbit_config["vhost"]
    queues = [q["name"] for q in rabbit_manager.get_queues(vhost)]
    bound = [(b["source"], b["routing_key"]) for name in queues
             for b in rabbit_manager.get_queue_bindings(vhost, name)
             if "scheduler" in name]
    assert ("registry.events", "ufop_deleted") in bound


def test_ufop_deleted_of_a_ufop_without_instances(scheduler, dispatch, recorder,
                                                  rabbit_manager, rabbit_config, wait_for):
    published = recorder([("scheduler", "instance_deleted")])
    dispatch("registry", "ufop_deleted", stamp({"id": 41, "name": "hello", "by": "1"}))
    vhost = rabbit_config["vhost"]

    def consumed():
        queues = [q for q in rabbit_manager.get_queues(vhost)
                  if "ufop_deleted" in q["name"] and "scheduler" in q["name"]]
        return queues and all(q.get("messages", 0) == 0 for q in queues)

    wait_for(consumed, timeout=30, interval=0.5)
    assert scheduler.ping() == "pong"
    assert published == []


def test_bad_arguments_are_invalid_args(scheduler):
    for size in (0, "1", True, None):
        with pytest.raises(InvalidArgs, match="^size"):
            scheduler.add_instances("1", "hello", size)
