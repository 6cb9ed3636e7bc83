"""Keyspace notifications of the sorted-set commands: Redis 7.0's names and order
(t_zset.c), checked against redis-server 7.0.15 (notify-keyspace-events KEA)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_keyspace_events import events

from seshat_trio.kv.state_machine import KvStateMachine
from seshat_trio.storage import Store

Z = (b"zadd", b"z", b"1", b"a", b"2", b"b")


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[KvStateMachine]:
    with Store.open(tmp_path / "db") as store:
        yield KvStateMachine(store, 1)


@pytest.mark.parametrize(
    ("setup", "command", "expected"),
    [
        ((), Z, [(b"zadd", b"z")]),
        ((Z,), (b"zadd", b"z", b"1", b"a"), []),  # nothing changed: no event
        ((Z,), (b"zadd", b"z", b"xx", b"1", b"nope"), []),
        ((Z,), (b"zadd", b"z", b"incr", b"1", b"a"), [(b"zincr", b"z")]),
        ((Z,), (b"zincrby", b"z", b"1", b"a"), [(b"zincr", b"z")]),
        ((Z,), (b"zrem", b"z", b"nope"), []),
        ((Z,), (b"zrem", b"z", b"a"), [(b"zrem", b"z")]),
        ((Z,), (b"zrem", b"z", b"a", b"b"), [(b"zrem", b"z"), (b"del", b"z")]),
        ((Z,), (b"zremrangebyscore", b"z", b"1", b"1"), [(b"zremrangebyscore", b"z")]),
        ((Z,), (b"zremrangebyrank", b"z", b"0", b"0"), [(b"zremrangebyrank", b"z")]),
        ((Z,), (b"zremrangebylex", b"z", b"-", b"+"),
         [(b"zremrangebylex", b"z"), (b"del", b"z")]),
        ((Z,), (b"zremrangebyrank", b"z", b"5", b"9"), []),
        ((Z,), (b"zpopmin", b"z"), [(b"zpopmin", b"z")]),
        ((Z,), (b"zpopmax", b"z", b"5"), [(b"zpopmax", b"z"), (b"del", b"z")]),
        ((Z,), (b"zmpop", b"1", b"z", b"max"), [(b"zpopmax", b"z")]),
        ((Z,), (b"zunionstore", b"u", b"1", b"z"), [(b"zunionstore", b"u")]),
        ((Z,), (b"zinterstore", b"u", b"1", b"z"), [(b"zinterstore", b"u")]),
        ((Z, (b"set", b"u", b"x")), (b"zdiffstore", b"u", b"2", b"z", b"z"), [(b"del", b"u")]),
        ((Z,), (b"zdiffstore", b"u", b"2", b"z", b"z"), []),
        ((Z,), (b"zrangestore", b"r", b"z", b"0", b"-1"), [(b"zrangestore", b"r")]),
        ((Z, (b"zadd", b"r", b"1", b"x")), (b"zrangestore", b"r", b"nope", b"0", b"-1"),
         [(b"del", b"r")]),
    ],
)  # fmt: skip
def test_events_of_each_zset_command(
    machine: KvStateMachine,
    setup: tuple[tuple[bytes, ...], ...],
    command: tuple[bytes, ...],
    expected: list[tuple[bytes, bytes]],
) -> None:
    for done in setup:
        events(machine, done, flags="")
    assert events(machine, command) == expected


def test_a_new_sorted_set_raises_new(machine: KvStateMachine) -> None:
    assert events(machine, Z, flags="KEnz") == [(b"new", b"z"), (b"zadd", b"z")]
    assert events(machine, (b"zadd", b"z", b"5", b"c"), flags="KEnz") == [(b"zadd", b"z")]
