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
    if not isinstance(value, dict):
        raise InvalidArgs("body: must be a JSON object")
    return value


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
