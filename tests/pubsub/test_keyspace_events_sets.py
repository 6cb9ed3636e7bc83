"""Keyspace notifications of the set commands (t_set.c): each command's events in Redis
7.0's order and names, checked against redis-server 7.0.15 (see test_keyspace_events.py
for the machinery)."""

from __future__ import annotations

import pytest
from test_keyspace_events import events, events_after, machine  # noqa: F401  (the fixture)

from seshat_trio.kv.state_machine import KvStateMachine

CASES: list[tuple[tuple[tuple[bytes, ...], ...], tuple[bytes, ...], list[tuple[bytes, bytes]]]] = [
    ((), (b"sadd", b"s", b"a", b"b"), [(b"sadd", b"s")]),
    (((b"sadd", b"s", b"a"),), (b"sadd", b"s", b"a"), []),
    (((b"sadd", b"s", b"a", b"b"),), (b"srem", b"s", b"a", b"z"), [(b"srem", b"s")]),
    (((b"sadd", b"s", b"a"),), (b"srem", b"s", b"z"), []),
    (((b"sadd", b"s", b"a"),), (b"srem", b"s", b"a"), [(b"srem", b"s"), (b"del", b"s")]),
    (((b"sadd", b"s", b"a", b"b"),), (b"spop", b"s"), [(b"spop", b"s")]),
    (((b"sadd", b"s", b"a"),), (b"spop", b"s"), [(b"spop", b"s"), (b"del", b"s")]),
    (((b"sadd", b"s", b"a", b"b", b"c"),), (b"spop", b"s", b"2"), [(b"spop", b"s")]),
    (((b"sadd", b"s", b"a", b"b"),), (b"spop", b"s", b"5"), [(b"spop", b"s"), (b"del", b"s")]),
    (((b"sadd", b"s", b"a"),), (b"spop", b"s", b"0"), []),
    ((), (b"spop", b"s"), []),
    (((b"sadd", b"s", b"a", b"b"),), (b"smove", b"s", b"d", b"a"),
     [(b"srem", b"s"), (b"sadd", b"d")]),
    (((b"sadd", b"s", b"a"), (b"sadd", b"d", b"a")), (b"smove", b"s", b"d", b"a"),
     [(b"srem", b"s"), (b"del", b"s")]),
    (((b"sadd", b"s", b"a"),), (b"smove", b"s", b"d", b"z"), []),
    (((b"sadd", b"s", b"a"),), (b"smove", b"s", b"s", b"a"), []),
    (((b"sadd", b"s", b"a"),), (b"sinterstore", b"d", b"s"), [(b"sinterstore", b"d")]),
    (((b"sadd", b"s", b"a"), (b"set", b"d", b"x")), (b"sinterstore", b"d", b"s", b"n"),
     [(b"del", b"d")]),
    (((b"sadd", b"s", b"a"),), (b"sinterstore", b"d", b"s", b"n"), []),
    (((b"sadd", b"s", b"a"),), (b"sunionstore", b"d", b"s"), [(b"sunionstore", b"d")]),
    (((b"sadd", b"s", b"a"), (b"sadd", b"d", b"a")), (b"sunionstore", b"d", b"n"),
     [(b"del", b"d")]),
    (((b"sadd", b"s", b"a"),), (b"sdiffstore", b"d", b"s"), [(b"sdiffstore", b"d")]),
    (((b"sadd", b"s", b"a"), (b"sadd", b"d", b"a")), (b"sdiffstore", b"d", b"s", b"s"),
     [(b"del", b"d")]),
]  # fmt: skip


@pytest.mark.parametrize(("setup", "command", "expected"), CASES)
def test_events_of_each_set_command(
    machine: KvStateMachine,  # noqa: F811
    setup: tuple[tuple[bytes, ...], ...],
    command: tuple[bytes, ...],
    expected: list[tuple[bytes, bytes]],
) -> None:
    assert events_after(machine, setup, command) == expected


def test_a_store_raises_new_only_for_a_destination_that_did_not_exist(
    machine: KvStateMachine,  # noqa: F811
) -> None:
    events(machine, (b"sadd", b"s", b"a"), (b"set", b"d", b"x"), flags="")
    # Redis's setKey overwrites an existing key without "new" (unlike RENAME).
    assert events(machine, (b"sunionstore", b"d", b"s"), flags="Ksn") == [(b"sunionstore", b"d")]
    assert events(machine, (b"sunionstore", b"e", b"s"), flags="Ksn") == [
        (b"new", b"e"),
        (b"sunionstore", b"e"),
    ]
