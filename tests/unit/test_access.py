"""registry.access: who may see, call and manage a ufop (SPEC §3), for every mode and caller."""
import pytest

from registry import access

OWNER, OTHER = "1000000001", "1000000002"

# (acl mode, caller, admin, listed) -> (see, call, manage)
TABLE = [
    (access.PUBLIC, OWNER, False, False, (True, True, True)),
    (access.PUBLIC, OTHER, False, False, (True, True, False)),
    (access.PUBLIC, OTHER, False, True, (True, True, False)),
    (access.PUBLIC, "", False, False, (True, True, False)),  # anonymous
    (access.PROTECTED, OWNER, False, False, (True, True, True)),
    (access.PROTECTED, OTHER, False, False, (True, False, False)),
    (access.PROTECTED, OTHER, False, True, (True, True, False)),
    (access.PROTECTED, "", False, False, (True, False, False)),
    (access.PRIVATE, OWNER, False, False, (True, True, True)),
    (access.PRIVATE, OTHER, False, False, (False, False, False)),
    (access.PRIVATE, OTHER, False, True, (True, True, False)),
    (access.PRIVATE, "", False, False, (False, False, False)),
    (access.PRIVATE, OTHER, True, False, (True, True, True)),  # admin
    (access.PROTECTED, OTHER, True, False, (True, True, True)),
]


@pytest.mark.parametrize("mode,uid,admin,listed,expected", TABLE)
def test_rules(mode, uid, admin, listed, expected):
    got = tuple(access.allowed(action, mode, OWNER, uid, admin, listed)
                for action in ("see", "call", "manage"))
    assert got == expected


def test_names_and_values_are_qiniu_s():
    assert (access.PUBLIC, access.PROTECTED, access.PRIVATE) == (0, 1, 2)
    assert access.ACL_NAMES == ("PUBLIC", "PROTECTED", "PRIVATE")
    assert set(access.ACTIONS) == set(access.RULES) == {"see", "call", "manage"}


@pytest.mark.parametrize("mode", [0, 1, 2])
@pytest.mark.parametrize("action", ["see", "call", "manage"])
def test_whoever_may_act_may_see(mode, action):
    """A ufop one may call or manage is never hidden (else 404 would lie)."""
    for uid in (OWNER, OTHER, ""):
        for admin in (False, True):
            for listed in (False, True):
                if access.allowed(action, mode, OWNER, uid, admin, listed):
                    assert access.can_see(mode, OWNER, uid, admin, listed)
