"""The plain-operation apply (kv/plain_ops.py): which entries it takes, and that it leaves
every node exactly as the general path does (replies, data and elements, key count,
expiries, events, the keys heard by listeners), checked against the general path on random
runs of plain and other SETs, ZADDs, HSETs and SADDs mixed with other commands."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seshat_trio.kv import state_machine
from seshat_trio.kv.multi import exec_header
from seshat_trio.kv.operations import (
    FORMAT_VERSION,
    Operation,
    decode_entry,
    encode_batch,
    encode_operation,
)
from seshat_trio.kv.plain_ops import PLAIN, plain_operations
from seshat_trio.kv.state_machine import INTERNAL_ERROR, KvStateMachine
from seshat_trio.kv.view import WritableView
from seshat_trio.protocol import Reply, SimpleString
from seshat_trio.pubsub import notify
from seshat_trio.storage import Store, StoredValue

GROUP = 1
OK = SimpleString("OK")


def op(*commands: tuple[bytes, ...], time_ms: int = 1000) -> bytes:
    return encode_operation(Operation(time_ms, commands, 0))


def plain(data: bytes) -> list[tuple[int, bytes, tuple[bytes, ...]]] | None:
    """What `plain_operations` takes: (time_ms, name, arguments) per operation."""
    found = plain_operations(data)
    return None if found is None else [(t, row.name, args) for t, _, row, args in found]


def test_a_single_plain_operation_is_taken() -> None:
    assert plain(op((b"set", b"k", b"v"), time_ms=7)) == [(7, b"set", (b"k", b"v"))]
    assert plain(op((b"set", b"", b""))) == [(1000, b"set", (b"", b""))]
    assert plain(op((b"zadd", b"z", b"1", b"m"))) == [(1000, b"zadd", (b"z", b"1", b"m"))]
    assert plain(op((b"hset", b"h", b"f", b"v"))) == [(1000, b"hset", (b"h", b"f", b"v"))]
    assert plain(op((b"sadd", b"s", b"m"))) == [(1000, b"sadd", (b"s", b"m"))]


def test_the_value_limit_travels_with_a_plain_operation() -> None:
    data = encode_operation(Operation(5, ((b"hset", b"h", b"f", b"v"),), 64))
    assert plain_operations(data) == [(5, 64, PLAIN[b"hset"], (b"h", b"f", b"v"))]


def test_a_batch_of_plain_operations_is_taken() -> None:
    data = encode_batch([op((b"set", b"a", b"1"), time_ms=5), op((b"zadd", b"z", b"2", b"m"))])
    assert plain(data) == [(5, b"set", (b"a", b"1")), (1000, b"zadd", (b"z", b"2", b"m"))]


@pytest.mark.parametrize(
    "data",
    [
        op((b"set", b"k", b"v", b"ex", b"10")),
        op((b"set", b"k", b"v", b"get")),
        op((b"get", b"k")),
        op((b"sex", b"k", b"v")),
        op((b"setnx", b"k", b"v")),
        op((b"set", b"k", b"v"), (b"set", b"j", b"w")),
        op((b"zadd", b"z", b"nx", b"1", b"m")),
        op((b"zadd", b"z", b"1", b"m", b"2", b"n")),
        op((b"hset", b"h", b"f", b"v", b"g", b"w")),
        op((b"sadd", b"s", b"m", b"n")),
        op((b"zad", b"z", b"1", b"m")),
        op((b"zaddx", b"z", b"1", b"m")),
        op(exec_header([]), (b"set", b"k", b"v")),
        encode_batch([op((b"set", b"a", b"1")), op((b"del", b"a"))]),
        encode_batch([op((b"zadd", b"z", b"1", b"m")), op((b"zadd", b"z", b"1"))]),
        # Version 1 (no value limit) is left to the decoder.
        bytes([1]) + op((b"set", b"k", b"v"))[1:9] + op((b"set", b"k", b"v"))[13:],
        b"",
    ],
)
def test_anything_else_takes_the_general_path(data: bytes) -> None:
    assert plain_operations(data) is None


@pytest.mark.parametrize("cut", [1, 5, 16, 20, 25, 30])
@pytest.mark.parametrize(
    "command", [(b"set", b"key", b"value"), (b"zadd", b"key", b"12345", b"member")]
)
def test_truncated_or_padded_bytes_are_left_to_the_decoder(
    cut: int, command: tuple[bytes, ...]
) -> None:
    whole = op(command)
    assert plain_operations(whole[:-cut]) is None
    assert plain_operations(whole + b"\0" * cut) is None
    batch = encode_batch([whole, whole])
    assert plain_operations(batch[:-cut]) is None
    assert plain_operations(batch + b"\0" * cut) is None


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.binary(max_size=12), st.binary(max_size=12), st.integers(0, 2**40)),
        min_size=1,
        max_size=4,
    ),
    st.booleans(),
    st.integers(0, 2**16),
    st.integers(0, 255),
)
def test_a_taken_entry_is_what_the_decoder_reads(
    sets: list[tuple[bytes, bytes, int]], batched: bool, where: int, byte: int
) -> None:
    # Any prefix of a plain entry, and any one byte of it changed: what `plain_operations`
    # takes is exactly what the general decoder reads (it takes nothing the decoder refuses).
    ops = [op((b"set", key, value), time_ms=t) for key, value, t in sets]
    whole = encode_batch(ops) if batched or len(ops) > 1 else ops[0]
    assert plain_operations(whole) is not None
    for cut in range(len(whole)):
        assert plain_operations(whole[:cut]) is None
    at = where % len(whole)
    changed = whole[:at] + bytes([byte]) + whole[at + 1 :]
    taken = plain_operations(changed)
    if taken is not None:
        decoded = decode_entry(changed)
        assert [(t, limit, (row.name, *args)) for t, limit, row, args in taken] == [
            (o.time_ms, o.max_value_bytes, o.commands[0]) for o in decoded
        ]
        assert all(len(o.commands) == 1 for o in decoded)


def test_a_truncated_plain_operation_is_still_refused(tmp_path: Path) -> None:
    with Store.open(tmp_path / "db") as store:
        machine = KvStateMachine(store, GROUP)
        with pytest.raises(ValueError, match=r"past the end|truncated"):
            machine.apply([(1, op((b"set", b"key", b"value"))[:-2])])
        assert machine.applied_index == 0


def test_the_format_version_is_the_one_checked() -> None:
    assert op((b"set", b"k", b"v"))[0] == FORMAT_VERSION


class Recorder:
    """Keyspace events (all classes, new-key included) and the keys listeners heard."""

    def __init__(self) -> None:
        self.events: list[tuple[bytes, bytes]] = []
        self.written: list[dict[bytes, StoredValue | None]] = []

    def flags(self) -> int:
        return notify.parse_flags("KEAn")

    def emit(self, flags: int, events: list[tuple[bytes, bytes]]) -> None:
        self.events.extend(events)

    def keys_changed(self, written: Mapping[bytes, StoredValue | None]) -> None:
        self.written.append(dict(written))

    def everything_changed(self) -> None:
        self.written.append({})


@contextmanager
def machine_at(path: Path) -> Iterator[tuple[KvStateMachine, Recorder]]:
    with Store.open(path) as store:
        machine = KvStateMachine(store, GROUP)
        recorder = Recorder()
        machine.notifier = recorder
        machine.listener = recorder
        yield machine, recorder


KEYS = st.sampled_from([b"a", b"b", b"c"])
VALUES = st.sampled_from([b"", b"1", b"x" * 40])
MEMBERS = st.sampled_from([b"m", b"n", b"o"])
# Scores: plain digits, other floats, values that are no float, flag names in the score's
# place (a syntax error for Redis).
SCORES = st.sampled_from(
    [b"1", b"12", b"000000000007", b"-2.5", b"+inf", b"-inf", b"0x10", b"1e3", b"-0",
     b"nan", b"", b" 1", b"x", b"nx", b"XX", b"incr", b"ch", b"gt"]
)  # fmt: skip
ZADD_FLAGS = st.lists(st.sampled_from([b"nx", b"xx", b"gt", b"lt", b"ch", b"incr", b"CH"]))
COMMANDS = st.one_of(
    st.tuples(st.just(b"zadd"), KEYS, SCORES, MEMBERS),
    st.tuples(st.just(b"zadd"), KEYS, SCORES, MEMBERS),
    st.builds(
        lambda key, flags, pairs: (b"zadd", key, *flags, *[a for pair in pairs for a in pair]),
        KEYS,
        ZADD_FLAGS,
        st.lists(st.tuples(SCORES, MEMBERS), max_size=2),
    ),
    st.tuples(st.just(b"zincrby"), KEYS, SCORES, MEMBERS),
    st.tuples(st.just(b"zrem"), KEYS, MEMBERS),
    st.tuples(st.just(b"hset"), KEYS, MEMBERS, VALUES),
    st.tuples(st.just(b"hset"), KEYS, MEMBERS, VALUES, MEMBERS, VALUES),
    st.tuples(st.just(b"hdel"), KEYS, MEMBERS),
    st.tuples(st.just(b"sadd"), KEYS, MEMBERS),
    st.tuples(st.just(b"sadd"), KEYS, MEMBERS, MEMBERS),
    st.tuples(st.just(b"srem"), KEYS, MEMBERS),
    st.tuples(st.just(b"pexpire"), KEYS, st.just(b"300")),
    st.tuples(st.just(b"set"), KEYS, VALUES),
    st.tuples(st.just(b"set"), KEYS, VALUES),
    st.tuples(st.just(b"set"), KEYS, VALUES, st.just(b"px"), st.sampled_from([b"1", b"500"])),
    st.tuples(st.just(b"set"), KEYS, VALUES, st.just(b"get")),
    st.tuples(st.just(b"get"), KEYS),
    st.tuples(st.just(b"del"), KEYS),
    st.tuples(st.just(b"incr"), KEYS),
    st.tuples(st.just(b"rpush"), KEYS, VALUES),
    st.just((b"flushall",)),
)
# An operation: mostly one command, sometimes a MULTI/EXEC of two.
OPERATIONS = st.one_of(
    st.lists(COMMANDS, min_size=1, max_size=1),
    st.lists(COMMANDS, min_size=2, max_size=2).map(lambda c: [exec_header([]), *c]),
)
# An entry: one operation, or a batch of them (as a leader builds under load).
ENTRIES = st.one_of(
    st.lists(OPERATIONS, min_size=1, max_size=1).map(lambda ops: (ops, False)),
    st.lists(OPERATIONS, min_size=1, max_size=4).map(lambda ops: (ops, True)),
)


@settings(max_examples=250, deadline=None)
@given(runs=st.lists(st.lists(ENTRIES, min_size=1, max_size=4), min_size=1, max_size=4))
def test_the_plain_apply_matches_the_general_path(
    runs: list[list[tuple[list[list[tuple[bytes, ...]]], bool]]],
) -> None:
    with (
        tempfile.TemporaryDirectory() as temp,
        machine_at(Path(temp) / "fast") as (fast, fast_seen),
        machine_at(Path(temp) / "general") as (general, general_seen),
    ):
        index, time_ms = 0, 1000
        for run in runs:
            entries = []
            for operations, batched in run:
                index += 1
                time_ms += 200
                encoded = [op(*commands, time_ms=time_ms) for commands in operations]
                data = encode_batch(encoded) if batched else encoded[0]
                entries.append((index, data))
            got = fast.apply(entries)
            with mock.patch.object(state_machine, "plain_operations", lambda data: None):
                expected = general.apply(entries)
            assert got == expected
        assert fast_seen.events == general_seen.events
        assert fast_seen.written == general_seen.written
        assert fast.key_count == general.key_count
        assert list(fast.items()) == list(general.items())
        for key, value in general.items():
            got_elements = list(fast.elements(key, value.version))
            assert got_elements == list(general.elements(key, value.version))
        assert fast.due_expiries(1 << 62, 100) == general.due_expiries(1 << 62, 100)


def test_an_unexpected_failure_answers_the_internal_error(tmp_path: Path) -> None:
    with machine_at(tmp_path / "db") as (machine, seen):

        def explode(*args: object) -> None:
            raise RuntimeError("boom")

        data = encode_batch([op((b"set", b"a", b"1")), op((b"set", b"b", b"2"))])
        with mock.patch.dict(PLAIN, {b"set": attrs.evolve(PLAIN[b"set"], apply=explode)}):
            (applied,) = machine.apply([(1, data)])
        assert applied.replies == (INTERNAL_ERROR, INTERNAL_ERROR)
        assert applied.split == (1, 1)
        assert machine.applied_index == 1
        assert machine.key_count == 0
        assert seen.events == []
        (applied,) = machine.apply([(2, data)])
        assert applied.replies == (OK, OK)
        assert machine.get(b"b") == StoredValue(0, b"2", 0)
        assert seen.events == [(b"new", b"a"), (b"set", b"a"), (b"new", b"b"), (b"set", b"b")]


def test_a_failure_half_way_undoes_the_operation(tmp_path: Path) -> None:
    with machine_at(tmp_path / "db") as (machine, seen):
        zadd = PLAIN[b"zadd"]

        def half(view: WritableView, args: tuple[bytes, ...]) -> Reply:
            zadd.apply(view, args)
            raise RuntimeError("boom")

        data = encode_batch([op((b"zadd", b"z", b"1", b"m")), op((b"sadd", b"s", b"m"))])
        with mock.patch.dict(PLAIN, {b"zadd": attrs.evolve(zadd, apply=half)}):
            (applied,) = machine.apply([(1, data)])
        assert applied.replies == (INTERNAL_ERROR, 1)
        assert machine.get(b"z") is None
        assert machine.key_count == 1
        assert seen.events == [(b"new", b"s"), (b"sadd", b"s")]
        (applied,) = machine.apply([(2, data)])
        assert applied.replies == (1, 0)
        assert seen.events[2:] == [(b"new", b"z"), (b"zadd", b"z")]
