"""gateway.requests: decoding JSON bodies (400 naming the body, never a 500)."""
import pytest

from gateway.requests import MAX_JSON_DEPTH, json_object, nesting
from ufop_common.errors import InvalidArgs


def deep(levels):
    return "[" * levels + "]" * levels


@pytest.mark.parametrize("raw", [b"{", b"nope", b"[]", b"null", b'"s"', b"1", b"\xff",
                                 b'{"a": 1,}', b"{'a': 1}"])
def test_not_a_json_object(raw):
    with pytest.raises(InvalidArgs, match="^body: "):
        json_object(raw)


def test_empty_body():
    assert json_object(b"  ", required=False) == {}
    with pytest.raises(InvalidArgs, match="^body: "):
        json_object(b"")


@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1, 500, 960, 5000,
                                    200000])
def test_deep_nesting_is_400_not_500(levels):
    raw = ('{"name": "hello", "x": ' + deep(levels - 1) + "}").encode()
    if levels <= MAX_JSON_DEPTH:
        assert json_object(raw)["name"] == "hello"
    else:
        with pytest.raises(InvalidArgs, match="^body: JSON nested deeper"):
            json_object(raw)


def test_nesting():
    assert nesting(1) == 0
    assert nesting({}) == 1
    assert nesting({"a": [1, {"b": []}]}) == 4
    assert nesting([[], [[[]]], []]) == 4
