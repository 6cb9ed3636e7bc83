"""ACL users as cluster state: the `acl_users` section of the system group and its operations.

Users change only through group 0, so every node applies the same changes in the same
order and enforces the same rules (ACL SAVE and ACL LOAD have nothing left to do). The
section is `{"v": 1, "users": [user, ...]}`, sorted by name (see `rules.user_to_json`).

Operations (all deterministic; passwords travel only as SHA-256 digests):
- `acl_setuser` (`user`, `rules`, `seed`): applies the rules to the user, creating it if
  needed.
  The proposer checked them against its command table; applying is purely syntactic, so
  nodes of every version agree. A rule that no longer applies (a password removed in the
  meantime) refuses the whole change. Reply OK.
- `acl_deluser` (`users`): deletes those that exist (never `default`); reply: how many.
- `acl_seed` (`users`): the users a cluster starts with (requirepass, aclfile); taken only
  while the section does not exist yet, so a re-proposal after a leader change, or another
  node's seed, changes nothing. Reply 1 when taken, 0 otherwise.

A change proposed by a node that has not seen the cluster's users yet carries that node's
seed (`seed`): if it is applied before any seed, it starts from those users, so the change
never makes the seed a no-op and never has to be refused on a cluster still starting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from seshat_trio.acl.rules import (
    DEFAULT_USER,
    AclRuleError,
    User,
    apply_rules,
    new_user,
    user_from_json,
    user_to_json,
)
from seshat_trio.protocol import Reply, SimpleString
from seshat_trio.system.registry import (
    Changes,
    Operation,
    OperationRefused,
    SystemState,
    encode_operation,
    register_operation,
)

SECTION = "acl_users"
SECTION_VERSION = 1
CANNOT_DELETE_DEFAULT = "ERR The 'default' user cannot be removed"
NOT_SEEDED = "TRYAGAIN the cluster's ACL users are not initialized yet (the node is starting)"


class AclSectionError(ValueError):
    """A stored `acl_users` section this build cannot read."""


def users_of(state: SystemState) -> dict[bytes, User] | None:
    """The cluster's users, or None before any were seeded."""
    section = state.section(SECTION)
    if section is None:
        return None
    if not isinstance(section, dict) or section.get("v") != SECTION_VERSION:
        raise AclSectionError("the acl_users section has an unsupported format")
    try:
        users = [user_from_json(item) for item in section["users"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise AclSectionError(f"the acl_users section is malformed: {exc!r}") from exc
    return {user.name: user for user in users}


def section_of(users: Iterable[User]) -> dict[str, Any]:
    ordered = sorted(users, key=lambda user: user.name)
    return {"v": SECTION_VERSION, "users": [user_to_json(user) for user in ordered]}


def _text(data: bytes) -> str:
    return data.decode("latin-1")


def _raw(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise OperationRefused(f"ERR malformed ACL operation: {what} is not a string")
    return value.encode("latin-1")


def _current(state: SystemState, op: Operation) -> dict[bytes, User]:
    try:
        users = users_of(state)
    except AclSectionError as exc:
        raise OperationRefused(f"ERR {exc}") from exc
    if users is not None:
        return users
    seed = op.get("seed")
    if seed is None:
        # A change before the seed would make the seed (requirepass, aclfile) a no-op.
        raise OperationRefused(NOT_SEEDED)
    return _seed_users(seed)


def _seed_users(items: Any) -> dict[bytes, User]:
    if not isinstance(items, list):
        raise OperationRefused("ERR malformed ACL seed: users is not a list")
    try:
        users = {user.name: user for user in map(user_from_json, items)}
    except (KeyError, TypeError, ValueError) as exc:
        raise OperationRefused(f"ERR malformed ACL seed: {exc!r}") from exc
    users.setdefault(DEFAULT_USER.name, DEFAULT_USER)
    return users


def _seed_field(seed: Iterable[User] | None) -> dict[str, Any]:
    return {} if seed is None else {"seed": section_of(seed)["users"]}


def encode_setuser(
    name: bytes, rules: Iterable[bytes], seed: Iterable[User] | None = None
) -> bytes:
    return encode_operation(
        "acl_setuser", user=_text(name), rules=[_text(r) for r in rules], **_seed_field(seed)
    )


def encode_deluser(names: Iterable[bytes], seed: Iterable[User] | None = None) -> bytes:
    return encode_operation("acl_deluser", users=[_text(n) for n in names], **_seed_field(seed))


def encode_seed(users: Mapping[bytes, User]) -> bytes:
    return encode_operation("acl_seed", users=section_of(users.values())["users"])


def _apply_setuser(state: SystemState, op: Operation) -> tuple[Changes, Reply]:
    name = _raw(op.get("user"), "user")
    rules = op.get("rules")
    if not isinstance(rules, list):
        raise OperationRefused("ERR malformed ACL operation: rules is not a list")
    users = _current(state, op)
    try:
        users[name] = apply_rules(users.get(name, new_user(name)), [_raw(r, "rule") for r in rules])
    except AclRuleError as exc:
        raise OperationRefused(exc.message) from exc
    return {SECTION: section_of(users.values())}, SimpleString("OK")


def _apply_deluser(state: SystemState, op: Operation) -> tuple[Changes, Reply]:
    names = op.get("users")
    if not isinstance(names, list):
        raise OperationRefused("ERR malformed ACL operation: users is not a list")
    wanted = [_raw(n, "user") for n in names]
    if DEFAULT_USER.name in wanted:
        raise OperationRefused(CANNOT_DELETE_DEFAULT)
    users = _current(state, op)
    deleted = 0
    for name in dict.fromkeys(wanted):
        if users.pop(name, None) is not None:
            deleted += 1
    if not deleted:
        return {}, 0
    return {SECTION: section_of(users.values())}, deleted


def _apply_seed(state: SystemState, op: Operation) -> tuple[Changes, Reply]:
    users = _seed_users(op.get("users"))
    if state.section(SECTION) is not None:
        return {}, 0
    return {SECTION: section_of(users.values())}, 1


register_operation("acl_setuser", _apply_setuser)
register_operation("acl_deluser", _apply_deluser)
register_operation("acl_seed", _apply_seed)
