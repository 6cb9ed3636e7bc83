"""Users as system-group state: the acl_* operations, applied as every node applies them."""

from __future__ import annotations

from pathlib import Path

import pytest

from seshat_trio.acl.replicated import (
    SECTION,
    encode_deluser,
    encode_seed,
    encode_setuser,
    users_of,
)
from seshat_trio.acl.rules import DEFAULT_USER, hash_password
from seshat_trio.acl.seed import SeedError, parse_aclfile, seed_users
from seshat_trio.protocol import SimpleString
from seshat_trio.storage import Store
from seshat_trio.system.machine import SystemStateMachine
from seshat_trio.system.registry import (
    OperationRefused,
    SystemState,
    apply_operation,
    decode_operation,
)


def apply(state: SystemState, op: bytes) -> tuple[SystemState, object]:
    new, _, reply = apply_operation(state, decode_operation(op))
    return new, reply


def seeded(requirepass: str = "") -> SystemState:
    state, reply = apply(SystemState(), encode_seed(seed_users(requirepass, None, _no_check)))
    assert reply == 1
    return state


def _no_check(rule: bytes) -> None:
    pass


def test_the_seed_is_taken_once() -> None:
    state = seeded("sekret")
    users = users_of(state)
    assert users is not None and users[b"default"].passwords == (hash_password(b"sekret"),)
    again, reply = apply(state, encode_seed({DEFAULT_USER.name: DEFAULT_USER}))
    assert reply == 0 and again == state


def test_changes_wait_for_the_seed() -> None:
    # A change before the seed would make the seed (requirepass, aclfile) a no-op.
    with pytest.raises(OperationRefused, match="TRYAGAIN"):
        apply(SystemState(), encode_setuser(b"alice", [b"on"]))


def test_setuser_and_deluser() -> None:
    state, reply = apply(seeded(), encode_setuser(b"alice", [b"on", b"#" + b"a" * 64, b"~x"]))
    assert reply == SimpleString("OK")
    state, reply = apply(state, encode_setuser(b"alice", [b"+get"]))
    users = users_of(state)
    assert users is not None
    assert (
        users[b"alice"].describe()
        == b"user alice on #" + b"a" * 64 + b" ~x resetchannels -@all +get"
    )
    # A password removed meanwhile: the whole change is refused, on every node alike.
    with pytest.raises(OperationRefused, match="does not exist"):
        apply(state, encode_setuser(b"alice", [b"off", b"!" + b"b" * 64]))
    state, reply = apply(state, encode_deluser([b"alice", b"alice", b"nobody"]))
    assert reply == 1 and set(users_of(state) or {}) == {b"default"}
    with pytest.raises(OperationRefused, match="'default' user cannot be removed"):
        apply(state, encode_deluser([b"default"]))


def test_operations_hold_no_plain_password() -> None:
    op = encode_setuser(b"alice", [b"#" + hash_password(b"secret").encode()])
    assert b"secret" not in op


def test_users_survive_a_restart_and_reach_subscribers(tmp_path: Path) -> None:
    with Store.open(tmp_path / "db") as store:
        machine = SystemStateMachine(store)
        machine.apply([(1, encode_seed(seed_users("pw", None, _no_check)))])
        machine.apply([(2, encode_setuser(b"bob", [b"on", b"nopass"]))])
    with Store.open(tmp_path / "db") as store:
        seen: list[frozenset[str]] = []
        machine = SystemStateMachine(store)
        machine.subscribe(lambda state, changed: seen.append(changed))
        users = users_of(machine.state)
        assert users is not None and set(users) == {b"default", b"bob"}
        assert SECTION in seen[0]


def test_an_aclfile_in_redis_format(tmp_path: Path) -> None:
    path = tmp_path / "users.acl"
    path.write_bytes(
        b"# seshat accepts comments\n\n"
        b"user alice on >pw ~app:* +@read (~x +get)\n"
        b"user default on nopass ~* &* +@all\n"
    )
    users = seed_users("", path, _no_check)
    assert users[b"alice"].describe().startswith(b"user alice on #" + hash_password(b"pw").encode())
    assert users[b"default"] == DEFAULT_USER
    # Without a default user in the file, Redis's default one is added.
    path.write_bytes(b"user alice on nopass\n")
    assert seed_users("", path, _no_check)[b"default"] == DEFAULT_USER


def test_aclfile_errors_name_their_lines() -> None:
    with pytest.raises(SeedError) as caught:
        parse_aclfile(b"user a on\nusr b on\nuser a off\nuser c #xyz\n", "f.acl", _no_check)
    assert caught.value.problems == [
        "f.acl:2: a line must be 'user <name> <rules ...>'",
        "f.acl:3: duplicate user 'a'",
        "f.acl:4: Error in ACL SETUSER modifier '#xyz': The password hash must be exactly 64 "
        "characters and contain only lowercase hexadecimal characters",
    ]


def test_a_change_before_the_seed_carries_the_proposers_seed() -> None:
    seed = seed_users("pw", None, _no_check)
    state, reply = apply(SystemState(), encode_setuser(b"alice", [b"on"], seed.values()))
    assert reply == SimpleString("OK")
    users = users_of(state)
    assert users is not None and set(users) == {b"default", b"alice"}
    assert users[b"default"].passwords == (hash_password(b"pw"),)  # the seed was not lost
    # The seed proposal that follows finds users and changes nothing.
    again, reply = apply(state, encode_seed(seed))
    assert reply == 0 and again == state
    # Once users exist, a seed carried by a change is ignored.
    state, _ = apply(state, encode_setuser(b"bob", [b"on"], [DEFAULT_USER]))
    users = users_of(state)
    assert users is not None and users[b"default"].passwords == (hash_password(b"pw"),)
