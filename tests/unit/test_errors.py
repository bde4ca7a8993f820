"""The one error table (SPEC §2) and errors crossing RPC by name."""
import pytest
from nameko.exceptions import RemoteError, deserialize, serialize

from ufop_common import errors

#: SPEC §2, verbatim
SPEC = {
    "InvalidArgs": 400, "Unauthorized": 401, "Forbidden": 403, "UfopNotfound": 404,
    "VersionNotFound": 404, "InstanceNotFound": 404, "UfopExists": 409, "VersionExists": 409,
    "QuotaExceeded": 409, "PayloadTooLarge": 413, "ResultError": 500, "NoInstance": 503,
    "ServiceUnavailable": 503, "UpstreamTimeout": 504,
}
#: ours: HTTP routing (unknown path / method) and the data plane's "the instance went away
#: during a call with a body" (issue 6: 502)
ROUTING = {"NotFound": 404, "MethodNotAllowed": 405, "BadGateway": 502}


def test_table_is_spec_s():
    assert {k: v for k, v in errors.TABLE.items() if k in SPEC} == SPEC
    assert {k: v for k, v in errors.TABLE.items() if k not in SPEC} == ROUTING


@pytest.mark.parametrize("name", sorted(SPEC) + sorted(ROUTING))
def test_each_error_crosses_rpc_as_itself(name):
    cls = getattr(errors, name)
    sent = cls(f"a {name} happened: ünïcode")
    received = deserialize(serialize(sent))
    assert type(received) is cls
    assert received.message == sent.message and str(received) == sent.message
    assert received.status == SPEC.get(name, ROUTING.get(name)) and received.name == name


def test_unknown_exceptions_become_a_bare_500():
    remote = deserialize(serialize(KeyError("secret internals")))
    assert isinstance(remote, RemoteError)
    answer = errors.as_ufop_error(remote)
    assert (answer.status, answer.name, answer.message) == (500, "ResultError", "internal error")
    assert "secret" not in answer.message
    assert errors.as_ufop_error(ValueError("x")).message == "internal error"


def test_ufop_errors_answer_as_themselves():
    err = errors.UfopExists("ufop 'x' already exists")
    assert errors.as_ufop_error(err) is err
