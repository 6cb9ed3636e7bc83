"""Keyspace notifications raised at apply: the events of each command in Redis 7.0's order
and names (t_string.c, db.c, expire.c), only the classes asked for, nothing from a rolled
back operation or an aborted EXEC, and nothing where the notifier says this node does not
lead. Checked against redis-server 7.0.15 by hand for each case."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from seshat_trio.kv.multi import exec_header
from seshat_trio.kv.operations import Operation, encode_operation
from seshat_trio.kv.state_machine import KvStateMachine
from seshat_trio.pubsub import notify
from seshat_trio.pubsub.hub import PubSubHub
from seshat_trio.pubsub.keyspace import KeyspaceNotifier
from seshat_trio.pubsub.registry import Kind
from seshat_trio.storage import Store
from seshat_trio.tunables import Tunables


class Recorder:
    def __init__(self, flags: str) -> None:
        self.flags_value = notify.parse_flags(flags)
        self.events: list[tuple[bytes, bytes]] = []

    def flags(self) -> int:
        return self.flags_value

    def emit(self, flags: int, events: list[tuple[bytes, bytes]]) -> None:
        self.events.extend(events)


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[KvStateMachine]:
    with Store.open(tmp_path / "db") as store:
        yield KvStateMachine(store, 1)


def events(machine: KvStateMachine, *commands: tuple[bytes, ...], flags: str = "KEA") -> list:
    recorder = Recorder(flags)
    machine.notifier = recorder
    # Every command runs 10 ms after the one before: short expiries pass.
    data = encode_operation(Operation(1000 + 10 * machine.applied_index, commands, 0))
    machine.apply([(machine.applied_index + 1, data)])
    return recorder.events


def events_after(
    machine: KvStateMachine, setup: tuple[tuple[bytes, ...], ...], command: tuple[bytes, ...]
) -> list:
    """The events of `command` alone, once the commands of `setup` (unrecorded) ran."""
    for done in setup:
        events(machine, done, flags="")
    return events(machine, command)


@pytest.mark.parametrize(
    ("setup", "command", "expected"),
    [
        ((), (b"set", b"k", b"v"), [(b"set", b"k")]),
        ((), (b"set", b"k", b"v", b"ex", b"10"), [(b"set", b"k"), (b"expire", b"k")]),
        (((b"set", b"k", b"v"),), (b"set", b"k", b"v", b"nx"), []),
        ((), (b"setex", b"k", b"10", b"v"), [(b"set", b"k"), (b"expire", b"k")]),
        ((), (b"setnx", b"k", b"v"), [(b"set", b"k")]),
        ((), (b"getset", b"k", b"v"), [(b"set", b"k")]),
        (((b"set", b"k", b"v"),), (b"getdel", b"k"), [(b"del", b"k")]),
        ((), (b"getdel", b"k"), []),
        (((b"set", b"k", b"v"),), (b"getex", b"k", b"ex", b"5"), [(b"expire", b"k")]),
        (((b"set", b"k", b"v"),), (b"getex", b"k", b"exat", b"1"), [(b"del", b"k")]),
        (((b"set", b"k", b"v", b"ex", b"5"),), (b"getex", b"k", b"persist"),
         [(b"persist", b"k")]),
        ((), (b"mset", b"a", b"1", b"b", b"2"), [(b"set", b"a"), (b"set", b"b")]),
        (((b"set", b"a", b"1"),), (b"msetnx", b"a", b"1", b"b", b"2"), []),
        ((), (b"append", b"k", b"v"), [(b"append", b"k")]),
        ((), (b"setrange", b"k", b"0", b""), []),
        ((), (b"setrange", b"k", b"2", b"v"), [(b"setrange", b"k")]),
        ((), (b"incr", b"n"), [(b"incrby", b"n")]),
        ((), (b"decrby", b"n", b"3"), [(b"incrby", b"n")]),
        ((), (b"incrbyfloat", b"n", b"1.5"), [(b"incrbyfloat", b"n")]),
        (((b"set", b"a", b"1"),), (b"del", b"a", b"b"), [(b"del", b"a")]),
        (((b"set", b"a", b"1"),), (b"unlink", b"a"), [(b"del", b"a")]),
        (((b"set", b"a", b"1"),), (b"rename", b"a", b"b"),
         [(b"rename_from", b"a"), (b"rename_to", b"b")]),
        (((b"set", b"a", b"1"),), (b"copy", b"a", b"b"), [(b"copy_to", b"b")]),
        (((b"set", b"a", b"1"),), (b"expire", b"a", b"10"), [(b"expire", b"a")]),
        (((b"set", b"a", b"1"),), (b"expire", b"a", b"10", b"xx"), []),
        (((b"set", b"a", b"1"),), (b"pexpireat", b"a", b"1"), [(b"del", b"a")]),
        (((b"set", b"a", b"1", b"px", b"500"),), (b"persist", b"a"), [(b"persist", b"a")]),
        (((b"set", b"a", b"1", b"px", b"5"),), (b"purge", b"a"), [(b"expired", b"a")]),
        ((), (b"flushall",), []),
        # Hashes (t_hash.c), checked against redis-server 7.0.15 as well.
        ((), (b"hset", b"h", b"a", b"1", b"b", b"2"), [(b"hset", b"h")]),
        ((), (b"hmset", b"h", b"a", b"1"), [(b"hset", b"h")]),
        (((b"hset", b"h", b"a", b"1"),), (b"hsetnx", b"h", b"a", b"2"), []),
        (((b"hset", b"h", b"a", b"1"),), (b"hsetnx", b"h", b"c", b"2"), [(b"hset", b"h")]),
        (((b"hset", b"h", b"a", b"1"),), (b"hdel", b"h", b"zz"), []),
        (((b"hset", b"h", b"a", b"1", b"b", b"2"),), (b"hdel", b"h", b"a"), [(b"hdel", b"h")]),
        (((b"hset", b"h", b"a", b"1"),), (b"hdel", b"h", b"a", b"b"),
         [(b"hdel", b"h"), (b"del", b"h")]),
        ((), (b"hincrby", b"h", b"f", b"1"), [(b"hincrby", b"h")]),
        ((), (b"hincrbyfloat", b"h", b"f", b"1.5"), [(b"hincrbyfloat", b"h")]),
        (((b"hset", b"h", b"f", b"x"),), (b"hincrby", b"h", b"f", b"1"), []),
        (((b"hset", b"h", b"f", b"x"),), (b"rename", b"h", b"g"),
         [(b"rename_from", b"h"), (b"rename_to", b"g")]),
    ],
)  # fmt: skip
def test_events_of_each_command(
    machine: KvStateMachine,
    setup: tuple[tuple[bytes, ...], ...],
    command: tuple[bytes, ...],
    expected: list[tuple[bytes, bytes]],
) -> None:
    assert events_after(machine, setup, command) == expected


def test_new_keys_and_class_filtering(machine: KvStateMachine) -> None:
    assert events(machine, (b"set", b"k", b"v"), flags="KEn$") == [
        (b"new", b"k"),
        (b"set", b"k"),
    ]
    assert events(machine, (b"set", b"k", b"w"), flags="KEn$") == [(b"set", b"k")]
    assert events(machine, (b"set", b"j", b"v"), (b"del", b"k"), flags="Kg") == [(b"del", b"k")]
    # RENAME replaces its destination: Redis raises "new" for it even when it existed.
    events(machine, (b"set", b"a", b"1"), (b"set", b"b", b"2"), flags="")
    assert events(machine, (b"rename", b"a", b"b"), flags="Kgn") == [
        (b"new", b"b"),
        (b"rename_from", b"a"),
        (b"rename_to", b"b"),
    ]


def test_an_aborted_exec_raises_nothing(machine: KvStateMachine) -> None:
    events(machine, (b"set", b"w", b"1"), flags="")
    header = exec_header([(b"w", b"not what it holds")])
    assert events(machine, header, (b"set", b"x", b"1")) == []
    assert events(machine, exec_header([]), (b"set", b"x", b"1"), (b"incr", b"x")) == [
        (b"set", b"x"),
        (b"incrby", b"x"),
    ]


def test_the_leader_publishes_on_both_channels(machine: KvStateMachine) -> None:
    class Inbox:
        def __init__(self) -> None:
            self.frames: list[bytes] = []

        def deliver(self, frame: bytes) -> None:
            self.frames.append(frame)

    hub = PubSubHub(wait_s=0)
    inbox = Inbox()
    hub.registry.add(Kind.PATTERN, b"*", inbox)
    tunables = Tunables()
    tunables.set_all({"notify-keyspace-events": "KEA"})
    leading = [False]
    machine.notifier = KeyspaceNotifier(tunables, hub, lambda: leading[0])
    machine.apply([(1, encode_operation(Operation(1000, ((b"set", b"k", b"v"),), 0)))])
    assert inbox.frames == []  # a follower applies silently
    leading[0] = True
    machine.apply([(2, encode_operation(Operation(1000, ((b"del", b"k"),), 0)))])
    assert inbox.frames == [
        b"*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$16\r\n__keyspace@0__:k\r\n$3\r\ndel\r\n",
        b"*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$18\r\n__keyevent@0__:del\r\n$1\r\nk\r\n",
    ]
