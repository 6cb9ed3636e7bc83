"""State machine rules beyond single commands: EXEC atomicity, WATCH at apply time, the
expiry index, rollback of a failing operation, the operation format's old version."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from seshat_trio.kv import registry
from seshat_trio.kv.expiry_index import ExpiryIndex
from seshat_trio.kv.multi import exec_header, fingerprint
from seshat_trio.kv.operations import Operation, decode_operation, encode_operation
from seshat_trio.kv.state_machine import INTERNAL_ERROR, KvStateMachine
from seshat_trio.kv.view import WritableView
from seshat_trio.protocol import NULL_ARRAY, ErrorReply, Reply, SimpleString
from seshat_trio.storage import Store, StoredValue

GROUP = 1
OK = SimpleString("OK")


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[KvStateMachine]:
    with Store.open(tmp_path / "db") as store:
        yield KvStateMachine(store, GROUP)


def apply(
    sm: KvStateMachine, *commands: tuple[bytes, ...], time_ms: int = 1000
) -> tuple[Reply, ...]:
    data = encode_operation(Operation(time_ms, commands, 100))
    (result,) = sm.apply([(sm.applied_index + 1, data)])
    return result.replies


def test_exec_checks_watch_fingerprints_at_apply(machine: KvStateMachine) -> None:
    apply(machine, (b"set", b"w", b"1"))
    seen = fingerprint(machine.get(b"w"))
    header = exec_header([(b"w", seen), (b"absent", b"")])
    assert apply(machine, header, (b"set", b"x", b"1"), (b"get", b"w")) == ([OK, b"1"],)
    apply(machine, (b"set", b"w", b"2"))
    assert apply(machine, header, (b"set", b"x", b"2")) == (NULL_ARRAY,)
    assert machine.get(b"x") == StoredValue(0, b"1", 0)


def test_a_watched_key_that_expires_aborts_exec(machine: KvStateMachine) -> None:
    apply(machine, (b"set", b"w", b"1", b"px", b"100"))
    header = exec_header([(b"w", fingerprint(machine.get(b"w")))])
    assert apply(machine, header, (b"ping",), time_ms=1050) == ([SimpleString("PONG")],)
    assert apply(machine, header, (b"ping",), time_ms=1100) == (NULL_ARRAY,)


def test_value_limit_travels_with_the_operation(machine: KvStateMachine) -> None:
    apply(machine, (b"set", b"k", b"x" * 100))
    assert apply(machine, (b"append", b"k", b"y"))[0] == ErrorReply(
        "ERR value too large (max 100 bytes)"
    )


def test_a_failing_command_rolls_back_its_whole_operation(machine: KvStateMachine) -> None:
    def explode(view: WritableView, args: registry.Args) -> Reply:
        view.put(b"half", StoredValue(0, b"done", 0))
        raise ZeroDivisionError

    registry.write("explode", registry.args_as_is, explode, None)
    try:
        replies = apply(machine, (b"set", b"a", b"1"), (b"explode",))
        assert replies == (INTERNAL_ERROR, INTERNAL_ERROR)
        assert apply(machine, exec_header([]), (b"set", b"b", b"1"), (b"explode",)) == (
            INTERNAL_ERROR,
        )
        assert apply(machine, (b"flushdb",), (b"explode",)) == (INTERNAL_ERROR, INTERNAL_ERROR)
    finally:
        del registry.WRITES[b"explode"]
    apply(machine, (b"set", b"c", b"1"))
    assert [key for key, _ in machine.items()] == [b"c"]
    assert machine.key_count == 1


def test_unknown_commands_stop_the_node_instead_of_diverging(machine: KvStateMachine) -> None:
    with pytest.raises(RuntimeError, match="mixed versions"):
        apply(machine, (b"frobnicate", b"k"))


def test_flush_then_writes_in_one_run_and_counts(machine: KvStateMachine) -> None:
    ops = [
        Operation(1000, ((b"mset", b"a", b"1", b"b", b"2"),)),
        Operation(1000, ((b"set", b"e", b"1", b"px", b"10"),)),
        Operation(1000, ((b"flushall",),)),
        Operation(1000, ((b"set", b"c", b"3", b"px", b"500"),)),
        Operation(1000, ((b"dbsize",),)),
    ]
    results = machine.apply((i + 1, encode_operation(op)) for i, op in enumerate(ops))
    assert results[-1].replies == (1,)
    assert [key for key, _ in machine.items()] == [b"c"]
    assert machine.key_count == 1 and machine.due_expiries(2000, 10) == [b"c"]


def test_reload_rebuilds_the_expiry_index(tmp_path: Path) -> None:
    with Store.open(tmp_path / "db") as store:
        sm = KvStateMachine(store, GROUP)
        apply(sm, (b"mset", b"a", b"1", b"b", b"1", b"c", b"1"))
        apply(sm, (b"pexpire", b"b", b"5"), (b"pexpire", b"a", b"9"))
        again = KvStateMachine(store, GROUP)
        assert again.due_expiries(1_000_000, 10) == [b"b", b"a"]
        assert again.key_count == 3


def test_purge_only_deletes_what_is_expired_at_the_operation_time(machine: KvStateMachine) -> None:
    apply(machine, (b"set", b"a", b"1", b"px", b"10"), (b"set", b"b", b"1", b"px", b"100"))
    assert apply(machine, (b"purge", b"a", b"b", b"missing"), time_ms=1050) == (1,)
    assert machine.get(b"a") is None and machine.get(b"b") is not None


def test_expiry_index_batches_and_forgets() -> None:
    index = ExpiryIndex()
    for i in range(30):
        index.set(b"k%d" % i, 100 + i)
    index.set(b"k0", 0)
    index.set(b"k1", 500)
    index.set(b"k1", 101)  # back to a time it had: one key, however many heap entries
    assert index.due(105, 3) == [b"k1", b"k2", b"k3"]
    assert index.due(105, 10) == [b"k1", b"k2", b"k3", b"k4", b"k5"]
    assert len(index) == 29
    for i in range(1000):
        index.set(b"k2", 200 + i)  # churn compacts the heap instead of growing it
    assert len(index._heap) <= 2 * len(index) + 65


def test_version_1_operations_still_decode() -> None:
    old = struct.pack(">BqH", 1, 42, 1) + struct.pack(">H", 1) + struct.pack(">I", 4) + b"ping"
    assert decode_operation(old) == Operation(42, ((b"ping",),), 0)
