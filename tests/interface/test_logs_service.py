"""The logs service as one real nameko container: real events in, the audit trail over RPC."""
import uuid

import pytest

from logs import models
from logs.service import LogsService
from ufop_common.errors import InvalidArgs
from ufop_common.events import stamp


@pytest.fixture
def logs(data_dir, container_factory, rabbit_config, rpc):
    container = container_factory(LogsService, rabbit_config)
    container.start()
    yield rpc("logs")
    container.stop()
    models.database.close()


def event(ufop_id=7, name="hello", **fields):
    return stamp(dict(id=ufop_id, name=name, by="1000000001", **fields))


def test_every_registry_event_is_audited(logs, dispatch, wait_for):
    dispatch("registry", "ufop_registered", event(aclMode="PUBLIC"))
    dispatch("registry", "ufop_updated", event(fields=["desc"]))
    dispatch("registry", "ufop_deleted", event())
    dispatch("registry", "ufop_registered", event(ufop_id=8, name="other"))
    trail = wait_for(lambda: (lambda t: len(t) == 3 and t)(logs.list_events(7)))
    assert [e["type"] for e in trail] == ["ufop_deleted", "ufop_updated", "ufop_registered"]
    assert trail[1]["detail"] == {"name": "hello", "by": "1000000001", "fields": ["desc"]}
    assert trail[2]["detail"]["aclMode"] == "PUBLIC"
    assert all(set(e) == {"time", "type", "detail"} for e in trail)
    assert [e["type"] for e in wait_for(lambda: logs.list_events(8))] == ["ufop_registered"]
    assert logs.list_events(9) == []


def test_a_redelivered_event_is_kept_once(logs, dispatch, wait_for):
    payload = event()
    for _ in range(3):
        dispatch("registry", "ufop_registered", payload)
    dispatch("registry", "ufop_updated", event(fields=["desc"]))
    trail = wait_for(lambda: (lambda t: len(t) >= 2 and t)(logs.list_events(7)))
    logs.ping()
    assert sorted(e["type"] for e in logs.list_events(7)) == ["ufop_registered", "ufop_updated"]
    assert len(trail) == 2


def test_limit_and_newest_first(logs, dispatch, wait_for):
    for i in range(5):
        dispatch("registry", "ufop_updated", event(fields=[f"f{i}"]))
    wait_for(lambda: len(logs.list_events(7)) == 5)
    newest = logs.list_events(7, 2)
    assert [e["detail"]["fields"] for e in newest] == [["f4"], ["f3"]]
    times = [e["time"] for e in logs.list_events(7)]
    assert times == sorted(times, reverse=True)
    for bad in (0, 1001, "5", True, None):
        with pytest.raises(InvalidArgs, match="^limit"):
            logs.list_events(7, bad)


def test_scheduler_events_are_audited_too(logs, dispatch, wait_for):
    dispatch("scheduler", "instance_state_changed",
             event(index=1, version="v1", **{"from": "Starting", "to": "Running"}))
    (entry,) = wait_for(lambda: logs.list_events(7))
    assert entry["type"] == "instance_state_changed"
    assert (entry["detail"]["from"], entry["detail"]["to"]) == ("Starting", "Running")


def test_build_logs_follow_the_builds_and_go_with_the_ufop(logs, dispatch, wait_for):
    dispatch("registry", "version_building", event(version="v1", kind="dockerfile"))
    dispatch("registry", "version_built", event(version="v1", state="build success",
                                                log="step 1\nstep 2\n"))
    wait_for(lambda: logs.build_log(7, "v1")["log"] == "step 1\nstep 2\n")
    assert logs.build_log(7, "v2") == {"log": ""}
    dispatch("registry", "ufop_deleted", event())
    wait_for(lambda: logs.build_log(7, "v1") == {"log": ""})


def test_a_malformed_event_does_not_stop_the_service(logs, dispatch, wait_for):
    dispatch("registry", "ufop_registered", {"garbage": True})
    dispatch("registry", "ufop_registered", event(marker=uuid.uuid4().hex))
    assert wait_for(lambda: logs.list_events(7))[0]["type"] == "ufop_registered"
    assert logs.ping() == "pong"
