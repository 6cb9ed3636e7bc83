"""Expiry commands: EXPIRE and friends (with NX/XX/GT/LT), TTL and friends, PERSIST.

Relative times are resolved against the operation's time (the leader's clock when it built
the operation), so every node stores the same absolute expiry.
"""

from __future__ import annotations

import attrs

from seshat_trio.kv import registry
from seshat_trio.kv.collections import restamp
from seshat_trio.kv.parsing import LLONG_MAX, LLONG_MIN, NOT_INTEGER, parse_int
from seshat_trio.kv.registry import ONE, Args, args_as_is
from seshat_trio.kv.values import invalid_expire
from seshat_trio.kv.view import KeyView, WritableView
from seshat_trio.protocol import ErrorReply, Reply
from seshat_trio.pubsub.notify import GENERIC


@attrs.frozen(slots=True)
class ExpireArgs:
    command: str
    key: bytes
    when: int
    relative: bool
    conditions: frozenset[bytes]  # of nx, xx, gt, lt: every one must hold


def _parse_expire(command: str, unit_ms: int, relative: bool) -> registry.Parser[ExpireArgs]:
    def parse(args: Args) -> ExpireArgs | ErrorReply:
        # As Redis: the options are checked before the number (EXPIRE k abc BOGUS names BOGUS).
        flags: set[bytes] = set()
        for arg in args[2:]:
            option = arg.lower()
            if option not in (b"nx", b"xx", b"gt", b"lt"):
                return ErrorReply(f"ERR Unsupported option {arg.decode(errors='replace')}")
            flags.add(option)
        if b"nx" in flags and len(flags) > 1:
            return ErrorReply("ERR NX and XX, GT or LT options at the same time are not compatible")
        if {b"gt", b"lt"} <= flags:
            return ErrorReply("ERR GT and LT options at the same time are not compatible")
        amount = parse_int(args[1])
        if amount is None:
            return NOT_INTEGER
        if unit_ms > 1 and not LLONG_MIN // unit_ms <= amount <= LLONG_MAX // unit_ms:
            return invalid_expire(command)
        return ExpireArgs(command, args[0], amount * unit_ms, relative, frozenset(flags))

    return parse


def expire(view: WritableView, cmd: ExpireArgs) -> Reply:
    when = cmd.when
    if cmd.relative:
        if when > LLONG_MAX - view.time_ms:
            return invalid_expire(cmd.command)
        when += view.time_ms
    current = view.get(cmd.key)
    if current is None:
        return 0
    ttl = current.expires_at_ms
    refused = {
        b"nx": ttl != 0,
        b"xx": ttl == 0,
        b"gt": ttl == 0 or when <= ttl,
        b"lt": ttl != 0 and when >= ttl,
    }
    # Redis checks every flag given (XX combines with GT or LT); a key without a TTL
    # counts as an infinite one.
    if any(refused[condition] for condition in cmd.conditions):
        return 0
    if when <= view.time_ms:
        view.delete(cmd.key)  # a time already passed deletes the key, as in Redis
        view.notify(GENERIC, b"del", cmd.key)
    else:
        view.put(cmd.key, restamp(view, current._replace(expires_at_ms=when)))
        view.notify(GENERIC, b"expire", cmd.key)
    return 1


def ttl(unit_ms: int, absolute: bool) -> registry.Runner[Args]:
    def run(view: KeyView, args: Args) -> Reply:
        value = view.get(args[0])
        if value is None:
            return -2
        if value.expires_at_ms == 0:
            return -1
        # Redis rounds to the nearest unit, the absolute time (EXPIRETIME) too.
        when = value.expires_at_ms if absolute else max(value.expires_at_ms - view.time_ms, 0)
        return (when + unit_ms // 2) // unit_ms

    return run


def persist(view: WritableView, args: Args) -> Reply:
    value = view.get(args[0])
    if value is None or value.expires_at_ms == 0:
        return 0
    view.put(args[0], restamp(view, value._replace(expires_at_ms=0)))
    view.notify(GENERIC, b"persist", args[0])
    return 1


row = registry.rows("keyspace")
# fmt: off
registry.write("expire", _parse_expire("expire", 1000, relative=True), expire, row(
    -3, "write fast", ONE, "1.0.0", "O(1)", "Sets the expiration time of a key in seconds.",
    access=("RW update",)))
registry.write("pexpire", _parse_expire("pexpire", 1, relative=True), expire, row(
    -3, "write fast", ONE, "2.6.0", "O(1)",
    "Sets the expiration time of a key in milliseconds.",
    access=("RW update",)))
registry.write("expireat", _parse_expire("expireat", 1000, relative=False), expire, row(
    -3, "write fast", ONE, "1.2.0", "O(1)",
    "Sets the expiration time of a key to a Unix timestamp.",
    access=("RW update",)))
registry.write("pexpireat", _parse_expire("pexpireat", 1, relative=False), expire, row(
    -3, "write fast", ONE, "2.6.0", "O(1)",
    "Sets the expiration time of a key to a Unix milliseconds timestamp.",
    access=("RW update",)))
registry.write("persist", args_as_is, persist, row(
    2, "write fast", ONE, "2.2.0", "O(1)", "Removes the expiration time of a key.",
    access=("RW update",)))
registry.read("ttl", args_as_is, ttl(1000, absolute=False), row(
    2, "readonly fast", ONE, "1.0.0", "O(1)",
    "Returns the expiration time in seconds of a key."))
registry.read("pttl", args_as_is, ttl(1, absolute=False), row(
    2, "readonly fast", ONE, "2.6.0", "O(1)",
    "Returns the expiration time in milliseconds of a key."))
registry.read("expiretime", args_as_is, ttl(1000, absolute=True), row(
    2, "readonly fast", ONE, "7.0.0", "O(1)",
    "Returns the expiration time of a key as a Unix timestamp."))
registry.read("pexpiretime", args_as_is, ttl(1, absolute=True), row(
    2, "readonly fast", ONE, "7.0.0", "O(1)",
    "Returns the expiration time of a key as a Unix milliseconds timestamp."))
# fmt: on
