"""Decoding what arrives over HTTP: JSON bodies and query parameters (400 naming the field)."""
import json
from datetime import datetime

from ufop_common.errors import InvalidArgs, PayloadTooLarge


def read_body(request, limit):
    """The whole (small) body, refusing more than ``limit`` bytes with 413."""
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge(f"body: larger than {limit} bytes")
    data = request.stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"body: larger than {limit} bytes")
    return data


#: the fields travel on over RPC, whose JSON codec fails (silently, for the receiver) long
#: before Python's recursion limit; no field of ours is nested more than twice
MAX_JSON_DEPTH = 32
TOO_DEEP = f"body: JSON nested deeper than {MAX_JSON_DEPTH} levels"


def json_object(body, required=True):
    """The JSON object in ``body``; ``{}`` for an empty optional body."""
    if not body.strip():
        if required:
            raise InvalidArgs("body: a JSON object is required")
        return {}
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidArgs(f"body: malformed JSON ({exc})") from None
    except RecursionError:
        raise InvalidArgs(TOO_DEEP) from None
    if nesting(value) > MAX_JSON_DEPTH:
        raise InvalidArgs(TOO_DEEP)
    if not isinstance(value, dict):
        raise InvalidArgs("body: must be a JSON object")
    return value


def nesting(value):
    """How deep JSON arrays and objects are nested in ``value`` (without recursion)."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            pending.extend((child, depth + 1)
                           for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def int_arg(request, name, default, low, high):
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise InvalidArgs(f"{name}: must be an integer from {low} to {high}")
    return value


def bool_arg(request, name):
    raw = (request.args.get(name) or "").lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise InvalidArgs(f"{name}: must be true or false")


def time_arg(request, name):
    """An RFC 3339 time in the query, as nanoseconds since the epoch (None when absent),
    held to what a signed 64-bit count of them can say (1970 to 2262): log lines bear no
    other times."""
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidArgs(f"{name}: must be an RFC 3339 time, e.g. 2026-01-02T15:04:05Z")
    whole = int(moment.replace(microsecond=0).timestamp())
    return min(max(whole * 10**9 + moment.microsecond * 1000, 0), 2**63 - 1)
