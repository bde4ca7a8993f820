"""``at_most_once_rpc``: a request redelivered after its service died is answered, not re-run."""
from types import SimpleNamespace

from nameko.rpc import Rpc

from ufop_common.errors import ServiceUnavailable
from ufop_common.rpc import AtMostOnceRpc


class Consumer:
    def __init__(self):
        self.results = []

    def handle_result(self, message, result, exc_info):
        self.results.append((message, result, exc_info))
        return result, exc_info


def entrypoint():
    rpc = AtMostOnceRpc()
    rpc.container = SimpleNamespace(service_name="scheduler")
    rpc.method_name = "add_instances"
    rpc.rpc_consumer = Consumer()
    return rpc


def test_a_redelivered_request_is_answered_service_unavailable(monkeypatch):
    ran = []
    monkeypatch.setattr(Rpc, "handle_message", lambda self, body, message: ran.append(body))
    rpc = entrypoint()
    message = SimpleNamespace(delivery_info={"redelivered": True})
    rpc.handle_message({"args": [], "kwargs": {}}, message)
    assert ran == []
    ((answered, result, (kind, error, _)),) = rpc.rpc_consumer.results
    assert answered is message and result is None and kind is ServiceUnavailable
    assert isinstance(error, ServiceUnavailable) and "scheduler restarted" in error.message


def test_a_first_delivery_runs(monkeypatch):
    ran = []
    monkeypatch.setattr(Rpc, "handle_message", lambda self, body, message: ran.append(body))
    rpc = entrypoint()
    rpc.handle_message({"args": [1], "kwargs": {}},
                       SimpleNamespace(delivery_info={"redelivered": False}))
    assert ran == [{"args": [1], "kwargs": {}}] and rpc.rpc_consumer.results == []
