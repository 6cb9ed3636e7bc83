"""The permission check on its own: a small catalog, every kind of rule, and which denial
is reported when no selector allows a command (ACLCheckAllUserCommandPerm's choice)."""

from __future__ import annotations

import pytest

from seshat_trio.acl.categories import derive
from seshat_trio.acl.log import AclLog
from seshat_trio.acl.permissions import Catalog, Denial, compile_user
from seshat_trio.acl.rules import DEFAULT_USER, apply_rules, merge_selector_args, new_user
from seshat_trio.acl.users import UserDirectory

CATALOG = Catalog(
    categories={
        "get": ("read", "string", "fast"),
        "set": ("write", "string", "slow"),
        "del": ("keyspace", "write", "slow"),
        "flushall": ("keyspace", "write", "slow", "dangerous"),
        "publish": ("pubsub", "fast"),
        "subscribe": ("pubsub", "slow"),
        "psubscribe": ("pubsub", "slow"),
        "select": ("fast", "connection"),
        "auth": ("fast", "connection"),
        "config": ("slow",),
        "config|get": ("admin", "slow", "dangerous"),
        "config|set": ("admin", "slow", "dangerous"),
    },
    subcommands={"config": ("config|get", "config|set")},
)
READ = frozenset({"RO", "access"})
WRITE = frozenset({"OW", "update"})
BOTH = frozenset({"RW", "access", "update"})
EXISTS = frozenset({"RO"})


def permissions(*rules: str):  # type: ignore[no-untyped-def]
    user = apply_rules(new_user(b"u"), merge_selector_args([r.encode() for r in rules]))
    return compile_user(user, CATALOG)


def check(perms, command: str, *, keys=(), channels=(), no_auth=False):  # type: ignore[no-untyped-def]
    argv = [w.encode() for w in command.split()]
    return perms.check(
        argv[0].decode() if "|" not in command else command.split(maxsplit=1)[0],
        argv,
        no_auth=no_auth,
        keys=lambda: list(keys),
        channels=lambda: list(channels),
    )


def test_the_default_user_is_unrestricted_and_skips_everything() -> None:
    perms = compile_user(DEFAULT_USER, CATALOG)
    assert perms.unrestricted
    calls: list[str] = []
    assert perms.check("get", [b"get", b"k"], keys=lambda: calls.append("keys") or []) is None
    assert calls == []  # not even the key positions were looked up


def test_categories_commands_and_subcommands() -> None:
    perms = permissions("~*", "+@read", "+config|get", "-@dangerous", "+flushall")
    assert check(perms, "get k", keys=[(1, READ)]) is None
    assert check(perms, "set k v", keys=[(1, WRITE)]) == Denial("command", 0)
    assert check(perms, "config|get x") == Denial("command", 0)  # -@dangerous came after
    assert check(perms, "flushall") is None
    perms = permissions("~*", "-@all", "+config", "-config|set")
    assert check(perms, "config|get x") is None
    assert check(perms, "config|set x y") == Denial("command", 0)


def test_a_category_rule_on_a_container_covers_all_its_subcommands() -> None:
    # CONFIG itself is @slow only, but +@slow allows the container and with it every
    # subcommand (Redis's ACLChangeSelectorPerm), then -@admin takes them away one by one.
    assert check(permissions("+@slow"), "config|set a b") is None
    assert check(permissions("+@slow", "-@admin"), "config|set a b") == Denial("command", 0)


def test_first_argument_rules() -> None:
    perms = permissions("~*", "+select|0")
    assert check(perms, "select 0") is None
    assert check(perms, "select 1") == Denial("command", 0)
    assert check(permissions("+select|0", "-select"), "select 0") == Denial("command", 0)
    assert check(permissions("+select|0", "-@connection"), "select 0") == Denial("command", 0)


def test_no_auth_commands_are_always_allowed() -> None:
    assert check(permissions("-@all"), "auth pw", no_auth=True) is None


def test_read_and_write_key_patterns() -> None:
    perms = permissions("+@all", "%R~r:*", "%W~w:*", "~rw:*")
    assert check(perms, "get r:1", keys=[(1, READ)]) is None
    assert check(perms, "get w:1", keys=[(1, READ)]) == Denial("key", 1)
    assert check(perms, "set w:1 v", keys=[(1, WRITE)]) is None
    assert check(perms, "set r:1 v", keys=[(1, WRITE)]) == Denial("key", 1)
    assert check(perms, "set w:1 v get", keys=[(1, BOTH)]) == Denial("key", 1)
    assert check(perms, "set rw:1 v get", keys=[(1, BOTH)]) is None
    # A key the command neither reads nor writes (EXISTS) needs any pattern at all.
    assert check(perms, "del w:1", keys=[(1, EXISTS)]) is None
    assert check(perms, "del other", keys=[(1, EXISTS)]) == Denial("key", 1)


def test_channels_and_patterns() -> None:
    perms = permissions("+@all", "&news.*", "&exact")
    assert check(perms, "publish news.a m", channels=[(1, False)]) is None
    assert check(perms, "publish sport m", channels=[(1, False)]) == Denial("channel", 1)
    # A pattern subscription must name a granted pattern literally.
    assert check(perms, "psubscribe news.*", channels=[(1, True)]) is None
    assert check(perms, "psubscribe news.a*", channels=[(1, True)]) == Denial("channel", 1)
    assert check(perms, "psubscribe *", channels=[(1, True)]) == Denial("channel", 1)
    assert check(permissions("+@all", "allchannels"), "psubscribe *", channels=[(1, True)]) is None


def test_selectors_any_of_them_may_allow() -> None:
    perms = permissions("~a:*", "+get", "(~b:* +set)", "(%R~c:* +@read)")
    assert check(perms, "get a:1", keys=[(1, READ)]) is None
    assert check(perms, "set b:1 v", keys=[(1, WRITE)]) is None
    assert check(perms, "get c:1", keys=[(1, READ)]) is None
    # No selector allows: the most specific denial wins (key over command), then the later
    # argument among equals.
    assert check(perms, "set a:1 v", keys=[(1, WRITE)]) == Denial("key", 1)
    two = [(1, READ), (2, READ)]
    assert check(permissions("~x", "+get", "(~y +get)"), "get x y", keys=two) == Denial("key", 2)
    assert check(perms, "del a:1", keys=[(1, WRITE)]) == Denial("command", 0)


def test_unknown_names_in_stored_rules_are_skipped() -> None:
    # A rule a newer node proposed for a command this build lacks.
    user = apply_rules(new_user(b"u"), [b"~*", b"+get", b"+newcommand", b"-@newcategory"])
    perms = compile_user(user, CATALOG)
    assert perms.check("get", [b"get", b"k"], keys=lambda: [(1, READ)]) is None


@pytest.mark.parametrize(
    ("group", "flags", "listed", "bare", "expected"),
    [
        ("string", "readonly fast", "", False, ("read", "string", "fast")),
        ("keyspace", "write", "", False, ("keyspace", "write", "slow")),
        ("server", "write", "keyspace dangerous", False,
         ("keyspace", "write", "slow", "dangerous")),
        ("server", "admin noscript", "", False, ("admin", "slow", "dangerous")),
        ("connection", "", "", True, ("slow",)),
        ("scripting", "readonly", "", False, ("slow", "scripting")),
        ("sorted_set", "readonly blocking", "", False, ("read", "sortedset", "slow", "blocking")),
        ("pubsub", "pubsub fast", "", False, ("pubsub", "fast")),
    ],
)  # fmt: skip
def test_categories_are_derived_from_group_and_flags(
    group: str, flags: str, listed: str, bare: bool, expected: tuple[str, ...]
) -> None:
    assert derive(group, flags.split(), listed.split(), bare_container=bare) == expected


def test_the_acl_log_groups_repeats_within_a_minute() -> None:
    log = AclLog(max_len=3)
    entry = {"reason": "command", "context": "toplevel", "obj": b"flushall", "username": b"u"}
    log.add(**entry, client_info=b"id=1", now=100.0)
    log.add(**entry, client_info=b"id=2", now=150.0)
    log.add(**{**entry, "obj": b"keys"}, client_info=b"id=3", now=151.0)
    log.add(**entry, client_info=b"id=4", now=155.0)  # moves to the front
    first, second = log.entries()
    assert (first.object, first.count, first.client_info) == (b"flushall", 3, b"id=4")
    assert second.object == b"keys"
    log.add(**entry, client_info=b"id=5", now=216.0)  # 61 s after the last one: a new entry
    assert [e.count for e in log.entries()] == [1, 3, 1]
    for i in range(3):
        log.add(**{**entry, "obj": b"k%d" % i}, client_info=b"", now=300.0)
    assert len(log.entries()) == 3 and log.entries(1)[0].object == b"k2"
    log.reset()
    assert log.entries() == []


def test_subscribers_losing_a_channel_are_disconnected() -> None:
    user = apply_rules(new_user(b"u"), [b"on", b"nopass", b"+@all", b"&news.*", b"&alerts"])
    directory = UserDirectory(CATALOG, {DEFAULT_USER.name: DEFAULT_USER, b"u": user})
    closed: list[str] = []
    sessions = {}
    for name, subscribed in [
        ("plain", []),
        ("news", [(b"news.sport", False)]),
        ("pattern", [(b"news.*", True)]),
        ("alerts", [(b"alerts", False)]),
    ]:
        session = directory.session()
        session.login(b"u")
        session.on_revoked = lambda name=name: closed.append(name)  # type: ignore[misc]
        session.subscriptions = lambda subscribed=subscribed: subscribed  # type: ignore[misc]
        sessions[name] = session
    # Another selector still grants news.*: only the alerts subscriber goes.
    changed = apply_rules(user, [b"resetchannels", b"&news.*", b"(&other)"])
    directory.replace({DEFAULT_USER.name: DEFAULT_USER, b"u": changed})
    assert closed == ["alerts"]
    # A change that leaves channels alone disconnects nobody.
    directory.replace({DEFAULT_USER.name: DEFAULT_USER, b"u": apply_rules(changed, [b"-get"])})
    assert closed == ["alerts"]
    narrower = apply_rules(changed, [b"resetchannels", b"&news.sport"])
    directory.replace({DEFAULT_USER.name: DEFAULT_USER, b"u": narrower})
    assert sorted(closed) == ["alerts", "pattern"]
