"""The plain-SET apply (kv/plain_set.py): which entries it takes, and that it leaves every
node exactly as the general path does (replies, data, key count, expiries, events, the keys
heard by listeners), checked against the general path on random runs."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seshat_trio.kv import state_machine
from seshat_trio.kv.multi import exec_header
from seshat_trio.kv.operations import (
    FORMAT_VERSION,
    Operation,
    encode_batch,
    encode_operation,
)
from seshat_trio.kv.plain_set import plain_sets
from seshat_trio.kv.state_machine import INTERNAL_ERROR, KvStateMachine
from seshat_trio.protocol import SimpleString
from seshat_trio.pubsub import notify
from seshat_trio.storage import Store, StoredValue

GROUP = 1
OK = SimpleString("OK")


def op(*commands: tuple[bytes, ...], time_ms: int = 1000) -> bytes:
    return encode_operation(Operation(time_ms, commands, 0))


def test_a_single_plain_set_is_taken() -> None:
    assert plain_sets(op((b"set", b"k", b"v"), time_ms=7)) == [(7, b"k", b"v")]
    assert plain_sets(op((b"set", b"", b""))) == [(1000, b"", b"")]


def test_a_batch_of_plain_sets_is_taken() -> None:
    data = encode_batch([op((b"set", b"a", b"1"), time_ms=5), op((b"set", b"b", b"22"))])
    assert plain_sets(data) == [(5, b"a", b"1"), (1000, b"b", b"22")]


@pytest.mark.parametrize(
    "data",
    [
        op((b"set", b"k", b"v", b"ex", b"10")),
        op((b"set", b"k", b"v", b"get")),
        op((b"get", b"k")),
        op((b"sex", b"k", b"v")),
        op((b"setnx", b"k", b"v")),
        op((b"set", b"k", b"v"), (b"set", b"j", b"w")),
        op(exec_header([]), (b"set", b"k", b"v")),
        encode_batch([op((b"set", b"a", b"1")), op((b"del", b"a"))]),
        # Version 1 (no value limit) is left to the decoder.
        bytes([1]) + op((b"set", b"k", b"v"))[1:9] + op((b"set", b"k", b"v"))[13:],
        b"",
    ],
)
def test_anything_else_takes_the_general_path(data: bytes) -> None:
    assert plain_sets(data) is None


@pytest.mark.parametrize("cut", [1, 5, 16, 20, 25, 30])
def test_truncated_or_padded_bytes_are_left_to_the_decoder(cut: int) -> None:
    whole = op((b"set", b"key", b"value"))
    assert plain_sets(whole[:-cut]) is None
    assert plain_sets(whole + b"\0" * cut) is None
    batch = encode_batch([whole, whole])
    assert plain_sets(batch[:-cut]) is None
    assert plain_sets(batch + b"\0" * cut) is None


def test_a_truncated_plain_set_is_still_refused(tmp_path: Path) -> None:
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
COMMANDS = st.one_of(
    st.tuples(st.just(b"set"), KEYS, VALUES),
    st.tuples(st.just(b"set"), KEYS, VALUES),
    st.tuples(st.just(b"set"), KEYS, VALUES, st.just(b"px"), st.sampled_from([b"1", b"500"])),
    st.tuples(st.just(b"set"), KEYS, VALUES, st.just(b"get")),
    st.tuples(st.just(b"get"), KEYS),
    st.tuples(st.just(b"del"), KEYS),
    st.tuples(st.just(b"incr"), KEYS),
    st.tuples(st.just(b"hset"), KEYS, st.just(b"f"), VALUES),
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


@settings(max_examples=150, deadline=None)
@given(runs=st.lists(st.lists(ENTRIES, min_size=1, max_size=4), min_size=1, max_size=4))
def test_the_plain_set_apply_matches_the_general_path(
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
            with mock.patch.object(state_machine, "plain_sets", lambda data: None):
                expected = general.apply(entries)
            assert got == expected
        assert fast_seen.events == general_seen.events
        assert fast_seen.written == general_seen.written
        assert fast.key_count == general.key_count
        assert list(fast.items()) == list(general.items())
        assert fast.due_expiries(1 << 62, 100) == general.due_expiries(1 << 62, 100)


def test_an_unexpected_failure_answers_the_internal_error(tmp_path: Path) -> None:
    with machine_at(tmp_path / "db") as (machine, seen):

        def explode(*args: object) -> None:
            raise RuntimeError("boom")

        data = encode_batch([op((b"set", b"a", b"1")), op((b"set", b"b", b"2"))])
        with mock.patch.object(state_machine, "apply_plain_set", explode):
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
