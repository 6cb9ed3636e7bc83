"""The ACL engine against a real redis-server 7.0: categories, user details, and what each
user may run (ACL DRYRUN over a matrix of commands), compared answer for answer."""

from __future__ import annotations

import socket

import hiredis
import pytest
import redis
from tests.commands.test_dispatch import make_ctx, run

from seshat_trio.acl.categories import CATEGORIES
from seshat_trio.acl.permissions import check_command_rule
from seshat_trio.acl.rules import DEFAULT_USER, apply_rules, merge_selector_args, new_user
from seshat_trio.commands.permissions import catalog
from seshat_trio.commands.table import COMMANDS
from seshat_trio.protocol import ErrorReply, SimpleString, encode_replies

# Redis 7.2's CLIENT SETINFO (which redis-py sends on connect); 7.0 has none.
NEWER = {"client|setinfo"}
# seshat-trio's own commands (in @admin, @slow and @dangerous by their flags, as Redis would).
OURS = {"seshat.member"}


def ours_only(name: str) -> bool:
    return name.split("|", maxsplit=1)[0] in OURS
USERS = {
    "reader": ["~app:*", "+@read", "-@dangerous", "+set", "+config|get"],
    "split": ["%R~r:*", "%W~w:*", "+@all"],
    "noadmin": ["allkeys", "+@all", "-@admin"],
    "conn": ["~*", "-@all", "+@connection", "-client|kill"],
    "firstarg": ["~*", "-@all", "+select|0", "+client|id", "+debug|sleep"],
    "selectors": ["~x:*", "+@all", "(~y:* +get)", "(%R~r:* +@read)"],
    "writer": ["~*", "+@write", "-@keyspace", "+del"],
    "slow": ["allkeys", "-@all", "+@slow"],
    "fast": ["allkeys", "+@all", "-@slow", "+config"],
    "nostring": ["~*", "+@all", "-@string", "+get"],
    "tx": ["allkeys", "-@all", "+@transaction", "+@fast"],
    "scripting": ["allkeys", "-@all", "+@scripting", "+@admin", "-debug"],
    "dangerous": ["allkeys", "+@all", "-@dangerous", "+info"],
    "empty": ["resetkeys", "+@all"],
}

COMMAND_MATRIX = [
    "get app:1", "get other", "get r:1", "get w:1", "get x:1", "get y:1",
    "set app:1 v", "set w:1 v", "set w:1 v get", "set r:1 v", "set x:1 v", "set y:1 v",
    "mget app:1 other", "mget r:1 r:2", "mset w:1 a w:2 b", "mset w:1 a r:1 b",
    "msetnx w:1 a", "setnx w:1 a", "setex w:1 10 a", "getset w:1 a", "getdel w:1",
    "getex r:1", "append w:1 x", "strlen r:1", "strlen w:1", "getrange r:1 0 1",
    "setrange w:1 0 x", "incr w:1", "incrbyfloat w:1 1.5", "del w:1", "unlink app:1",
    "exists w:1", "touch w:1", "type w:1", "rename r:1 w:1", "rename w:1 r:1",
    "renamenx r:1 w:1", "copy r:1 w:1", "copy w:1 r:1", "expire w:1 10", "ttl r:1",
    "pttl w:1", "persist w:1", "keys *", "scan 0", "randomkey", "dbsize", "flushdb",
    "flushall", "config get maxclients", "config set maxclients 1", "config resetstat",
    "client id", "client kill id 1", "client list", "client setname x", "client getname",
    "client info", "command count", "command info get", "command docs get", "info", "time",
    "lastsave", "save", "bgsave", "debug sleep 0", "function flush", "function list",
    "multi", "exec", "discard", "watch w:1", "watch r:1", "unwatch", "ping", "echo x",
    "select 0", "select 1", "quit", "reset", "hello", "auth pw", "acl whoami", "acl list",
    "acl cat", "acl genpass", "acl setuser u", "acl log", "get", "config", "config nosuch",
    "client id extra", "nosuch x",
]  # fmt: skip


def _ours(rules: list[str]) -> object:
    table = catalog()
    args = merge_selector_args([b"reset", b"on", b"nopass", *(r.encode() for r in rules)])
    return apply_rules(new_user(b"u"), args, lambda rule: check_command_rule(rule, table))


def _text(reply: object) -> str:
    if isinstance(reply, ErrorReply):
        return reply.text.removeprefix("ERR ")  # as redis-py reports errors
    if isinstance(reply, SimpleString):
        return reply.text
    if isinstance(reply, bytes):
        return reply.decode()
    assert isinstance(reply, str), reply
    return reply


def _redis_dryrun(reference: redis.Redis, argv: list[str]) -> str:
    try:
        reply = reference.execute_command("ACL", "DRYRUN", "u", *argv)
    except redis.ResponseError as exc:
        return str(exc)
    return reply.decode() if isinstance(reply, bytes) else str(reply)


def test_every_category_holds_the_commands_redis_puts_in_it(reference: redis.Redis) -> None:
    ours = catalog()
    assert [c.decode() for c in reference.execute_command("ACL", "CAT")] == list(CATEGORIES)
    for category in CATEGORIES:
        theirs = {c.decode() for c in reference.execute_command("ACL", "CAT", category)}
        mine = {c for c in ours.in_category(category) if not ours_only(c)}
        assert mine - NEWER == theirs & set(ours.categories), category


def raw_call(reference: redis.Redis, *args: str) -> object:
    """One command over a plain socket, its reply as hiredis reads it (no client parsing)."""
    port = reference.connection_pool.connection_kwargs["port"]
    reader = hiredis.Reader()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(encode_replies([[a.encode() for a in args]], 2))
        while (reply := reader.gets()) is False:
            reader.feed(sock.recv(1 << 16))
    return reply


def test_command_info_categories_and_subcommands_match_redis(reference: redis.Redis) -> None:
    ours = catalog()
    for name, spec in COMMANDS.items():
        if ours_only(spec.name):
            continue
        ((_, _, _, _, _, _, categories, _, _, subcommands),) = raw_call(  # type: ignore[misc]
            reference, "COMMAND", "INFO", name.decode()
        )
        assert set(ours.categories[spec.name]) == {c.decode()[1:] for c in categories}, name
        subs = {s[0].decode(): s for s in subcommands}
        for sub in spec.subcommands:
            fullname = f"{spec.name}|{sub.name}"
            if fullname in NEWER:
                continue
            assert fullname in subs, fullname
            assert subs[fullname][1] == sub.arity, fullname
            assert {f.decode() for f in subs[fullname][2]} == set(sub.flags), fullname
            assert {c.decode()[1:] for c in subs[fullname][6]} == set(ours.categories[fullname]), (
                fullname
            )


@pytest.mark.parametrize("name", list(USERS))
async def test_users_are_described_and_checked_as_redis_does(
    reference: redis.Redis, name: str
) -> None:
    rules = USERS[name]
    reference.execute_command("ACL", "SETUSER", "u", "reset", "on", "nopass", *rules)
    user = _ours(rules)
    theirs = reference.execute_command("ACL", "GETUSER", "u")
    theirs = {k.decode() if isinstance(k, bytes) else k: v for k, v in theirs.items()}
    ctx = make_ctx()
    ctx.backend.users.replace({DEFAULT_USER.name: DEFAULT_USER, b"u": user})
    (ours,) = await run(ctx, [b"ACL", b"GETUSER", b"u"])
    assert isinstance(ours, dict)
    for field in ("flags", "passwords", "keys", "channels"):
        mine = ours[field]
        mine = [m.encode() for m in mine] if isinstance(mine, list) else mine
        their = theirs[field]
        assert mine == their, (name, field)
    their_selectors = [
        {k.decode() if isinstance(k, bytes) else k: v for k, v in s.items()}
        for s in theirs["selectors"]
    ]
    assert [(s["keys"], s["channels"]) for s in ours["selectors"]] == [
        (s["keys"], s["channels"]) for s in their_selectors
    ]
    for command in COMMAND_MATRIX:
        argv = command.split()
        (reply,) = await run(ctx, [b"ACL", b"DRYRUN", b"u", *(a.encode() for a in argv)])
        assert _text(reply) == _redis_dryrun(reference, argv), (name, command)
