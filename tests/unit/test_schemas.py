"""ufop_common.schemas.parse: the input rules of SPEC §2 and §4."""
import pytest

from ufop_common.errors import InvalidArgs
from ufop_common.schemas import (MAX_CONFIGURATION, MAX_DESC, Paging, UfopCreate, UfopUpdate,
                                 check_name, check_version, parse)


def create(**fields):
    return parse(UfopCreate, dict({"name": "hello", "aclMode": 0}, **fields))


@pytest.mark.parametrize("name", ["hello", "a1234", "a" * 20, "a-b_c", "z0-_9", "ufop-name_1"])
def test_good_names(name):
    assert create(name=name).name == name


@pytest.mark.parametrize("name", ["abcd", "a" * 21, "Hello", "1abcd", "-abcd", "_abcd",
                                  "ab.cd", "ab cd", "abcd\n", "héllo", "", "abcdé"])
def test_bad_names_name_the_field(name):
    with pytest.raises(InvalidArgs, match=r"^name: "):
        create(name=name)


@pytest.mark.parametrize("value", [123, None, ["hello"], {"n": 1}, True])
def test_name_must_be_a_string(value):
    with pytest.raises(InvalidArgs, match=r"name"):
        create(name=value)


@pytest.mark.parametrize("version", ["1", "v1.0", "A_b-c.D", "x" * 32])
def test_good_versions(version):
    assert check_version(version) == version
    assert parse(UfopUpdate, {"version": version}).version == version


@pytest.mark.parametrize("version", ["", "x" * 33, "v 1", "v/1", "v:1", "vé", 1, None])
def test_bad_versions(version):
    with pytest.raises(InvalidArgs, match=r"^version: "):
        check_version(version)
    if version is not None:  # None means "not given" in an update
        with pytest.raises(InvalidArgs, match=r"version"):
            parse(UfopUpdate, {"version": version})


def test_check_name_names_the_given_field():
    with pytest.raises(InvalidArgs, match=r"^ufop: "):
        check_name("x", "ufop")
    assert check_name("hello") == "hello"


@pytest.mark.parametrize("value,mode", [
    (0, 0), (1, 1), (2, 2), ("0", 0), ("1", 1), ("2", 2),
    ("PUBLIC", 0), ("PROTECTED", 1), ("PRIVATE", 2),
    ("public", 0), ("Protected", 1), ("pRiVaTe", 2),
])
def test_acl_mode_inputs(value, mode):
    assert create(aclMode=value).aclMode == mode
    assert parse(UfopUpdate, {"aclMode": value}).aclMode == mode


@pytest.mark.parametrize("value", [True, False, 3, -1, "3", "secret", "", 1.0, 0.5, None,
                                   [0], {"mode": 0}, "PUBLICX"])
def test_bad_acl_modes(value):
    with pytest.raises(InvalidArgs, match=r"aclMode"):
        create(aclMode=value)


@pytest.mark.parametrize("missing", ["name", "aclMode"])
def test_missing_required_fields_are_named(missing):
    fields = {"name": "hello", "aclMode": 0}
    del fields[missing]
    with pytest.raises(InvalidArgs, match=rf"{missing}: is required"):
        parse(UfopCreate, fields)


def test_optional_fields_default_to_empty():
    spec = create()
    assert (spec.desc, spec.configuration) == ("", "")


def test_unknown_fields_are_ignored():
    spec = create(bogus=1, owner="123", instanceNum=9)
    assert spec.name == "hello"
    assert not hasattr(spec, "bogus")
    update = parse(UfopUpdate, {"desc": "d", "whatever": [1, 2]})
    assert update.model_dump(exclude_none=True) == {"desc": "d"}


def test_desc_and_configuration_lengths():
    assert create(desc="d" * MAX_DESC).desc == "d" * MAX_DESC
    assert len(create(configuration="c" * MAX_CONFIGURATION).configuration) == MAX_CONFIGURATION
    with pytest.raises(InvalidArgs, match=r"^desc: "):
        create(desc="d" * (MAX_DESC + 1))
    with pytest.raises(InvalidArgs, match=r"^configuration: "):
        create(configuration="c" * (MAX_CONFIGURATION + 1))
    with pytest.raises(InvalidArgs, match=r"^desc: "):
        parse(UfopUpdate, {"desc": "d" * (MAX_DESC + 1)})


@pytest.mark.parametrize("field,value", [
    ("desc", 5), ("desc", None), ("configuration", {"a": 1}), ("configuration", ["x"]),
    ("desc", True),
])
def test_strict_string_types(field, value):
    with pytest.raises(InvalidArgs, match=rf"^{field}: "):
        create(**{field: value})


@pytest.mark.parametrize("field,value", [
    ("maxInstanceNum", "5"), ("maxInstanceNum", 5.0), ("maxInstanceNum", True),
    ("maxInstanceNum", 0), ("maxInstanceNum", 1001),
    ("accessList", "123"), ("accessList", [123]), ("accessList", ["abc"]),
    ("accessList", [""]), ("accessList", {"a": 1}), ("accessList", ["1" * 21]),
    ("flavor", ""), ("flavor", 1), ("flavor", "f" * 65),
    ("desc", 1), ("configuration", 2), ("aclMode", "open"),
])
def test_update_wrong_types_name_the_field(field, value):
    with pytest.raises(InvalidArgs, match=rf"^{field}"):
        parse(UfopUpdate, {field: value})


def test_update_good_values():
    update = parse(UfopUpdate, {"maxInstanceNum": 7, "accessList": ["1380469902", "12"],
                                "flavor": "default", "aclMode": "private"})
    assert update.model_dump(exclude_none=True) == {
        "maxInstanceNum": 7, "accessList": ["1380469902", "12"], "flavor": "default",
        "aclMode": 2}


def test_access_list_has_a_bound():
    with pytest.raises(InvalidArgs, match=r"^accessList"):
        parse(UfopUpdate, {"accessList": [str(i) for i in range(1001)]})


@pytest.mark.parametrize("body", [[], "x", 1, None, ["name"]])
def test_body_must_be_an_object(body):
    with pytest.raises(InvalidArgs, match=r"^body: "):
        parse(UfopCreate, body)


def test_paging():
    assert parse(Paging, {}).limit == 100
    assert parse(Paging, {"limit": 1000, "marker": "abcde"}).marker == "abcde"
    for bad in (0, 1001, "10", -1, True):
        with pytest.raises(InvalidArgs, match=r"^limit: "):
            parse(Paging, {"limit": bad})
    with pytest.raises(InvalidArgs, match=r"^marker: "):
        parse(Paging, {"marker": "m" * 65})


def test_message_is_a_sentence_not_a_dump():
    with pytest.raises(InvalidArgs) as caught:
        create(name="X")
    assert "pydantic" not in caught.value.message
    assert "errors.pydantic.dev" not in caught.value.message
