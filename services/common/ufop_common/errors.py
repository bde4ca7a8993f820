"""The platform's one error table (SPEC §2).

Every service raises these. nameko serialises an exception by its import path and
``deserialize_to_instance`` registers each class under that path, so the gateway gets the same class
back from an RPC call and answers with its ``status`` -- there is no second list anywhere.
"""
from nameko.exceptions import deserialize_to_instance as _crosses_rpc


class UfopError(Exception):
    """Base of every error the API answers with; ``status`` is the HTTP code."""

    status = 500

    def __init__(self, message="internal error"):
        super().__init__(message)
        self.message = message

    @property
    def name(self):
        return type(self).__name__

    def __str__(self):
        return self.message


@_crosses_rpc
class ResultError(UfopError):
    status = 500


@_crosses_rpc
class InvalidArgs(UfopError):
    status = 400


@_crosses_rpc
class Unauthorized(UfopError):
    status = 401


@_crosses_rpc
class Forbidden(UfopError):
    status = 403


@_crosses_rpc
class UfopNotfound(UfopError):
    status = 404


@_crosses_rpc
class VersionNotFound(UfopError):
    status = 404


@_crosses_rpc
class InstanceNotFound(UfopError):
    status = 404


@_crosses_rpc
class NotFound(UfopError):
    status = 404


@_crosses_rpc
class MethodNotAllowed(UfopError):
    status = 405


@_crosses_rpc
class UfopExists(UfopError):
    status = 409


@_crosses_rpc
class VersionExists(UfopError):
    status = 409


@_crosses_rpc
class QuotaExceeded(UfopError):
    status = 409


@_crosses_rpc
class PayloadTooLarge(UfopError):
    status = 413


@_crosses_rpc
class BadGateway(UfopError):
    """Data plane: the instance went away in the middle of a call that cannot be retried."""
    status = 502


@_crosses_rpc
class NoInstance(UfopError):
    status = 503


@_crosses_rpc
class ServiceUnavailable(UfopError):
    status = 503


@_crosses_rpc
class UpstreamTimeout(UfopError):
    status = 504


#: error name -> HTTP status, derived from the classes above (SPEC §2)
TABLE = {cls.__name__: cls.status for cls in UfopError.__subclasses__()}


def as_ufop_error(exc):
    """The UfopError to answer with for any exception; unknown ones become a bare 500."""
    if isinstance(exc, UfopError):
        return exc
    return ResultError("internal error")
