"""Decoding what arrives over HTTP: JSON bodies and query parameters (400 naming the field)."""
import json

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
