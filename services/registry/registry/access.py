"""Who may see, call and manage a ufop (SPEC §3): pure functions, no store."""
PUBLIC, PROTECTED, PRIVATE = 0, 1, 2
ACL_NAMES = ("PUBLIC", "PROTECTED", "PRIVATE")
ACTIONS = ("see", "call", "manage")


def can_see(acl_mode, owner, uid, admin, listed):
    return admin or uid == owner or acl_mode in (PUBLIC, PROTECTED) or listed


def can_call(acl_mode, owner, uid, admin, listed):
    return admin or acl_mode == PUBLIC or uid == owner or listed


def can_manage(acl_mode, owner, uid, admin, listed):
    return admin or uid == owner


RULES = {"see": can_see, "call": can_call, "manage": can_manage}


def allowed(action, acl_mode, owner, uid, admin, listed):
    return RULES[action](acl_mode, owner, uid, admin, listed)
