from pathlib import Path

import pytest

from seshat_trio.kv.operations import Operation, encode_batch, encode_operation
from seshat_trio.kv.state_machine import KvStateMachine
from seshat_trio.protocol import ErrorReply, SimpleString
from seshat_trio.storage import Store, StoredValue, WriteBatch

GROUP = 1


def op(*commands: tuple[bytes, ...], time_ms: int = 1000) -> bytes:
    return encode_operation(Operation(time_ms, commands))


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    with Store.open(tmp_path / "db") as s:
        yield s


def test_apply_set_then_del_in_one_run(store: Store) -> None:
    sm = KvStateMachine(store, GROUP)
    results = sm.apply(
        [
            (1, op((b"set", b"a", b"1"))),
            (2, op((b"set", b"b", b"2"))),
            (3, op((b"del", b"a", b"missing", b"b"))),
            (4, None),
            (5, op((b"set", b"a", b"3"))),
        ]
    )
    assert [r.replies for r in results] == [
        (SimpleString("OK"),),
        (SimpleString("OK"),),
        (2,),
        (),
        (SimpleString("OK"),),
    ]
    assert sm.get(b"a") is not None and sm.get(b"a").data == b"3"  # type: ignore[union-attr]
    assert sm.get(b"b") is None
    assert sm.applied_index == 5
    assert sm.key_count == 1


def test_replay_is_idempotent_by_index(store: Store) -> None:
    sm = KvStateMachine(store, GROUP)
    sm.apply(
        [
            (1, op((b"set", b"k", b"v1"))),
            (
                2,
                op(
                    (
                        b"del",
                        b"k",
                    )
                ),
            ),
        ]
    )
    # A restart replays from the log; entries at or below the applied index are skipped.
    again = KvStateMachine(store, GROUP)
    assert again.applied_index == 2
    assert again.apply([(1, op((b"set", b"k", b"v1"))), (2, op((b"del", b"k")))]) == []
    assert again.get(b"k") is None
    assert again.key_count == 0


def test_gap_in_indexes_is_refused(store: Store) -> None:
    sm = KvStateMachine(store, GROUP)
    with pytest.raises(ValueError, match="apply gap"):
        sm.apply([(2, op((b"set", b"k", b"v")))])


def test_applied_index_and_data_are_written_together(tmp_path: Path) -> None:
    with Store.open(tmp_path / "db") as store:
        KvStateMachine(store, GROUP).apply([(1, op((b"set", b"k", b"v")))])
    with Store.open(tmp_path / "db") as store:
        sm = KvStateMachine(store, GROUP)
        assert sm.applied_index == 1
        value = sm.get(b"k")
        assert value is not None and value.data == b"v"
        assert sm.key_count == 1


def test_expired_value_is_absent_at_apply_time(store: Store) -> None:
    batch = WriteBatch()
    batch.put_value(GROUP, b"old", StoredValue(kind=0, data=b"x", expires_at_ms=500))
    store.write(batch, sync=False)
    sm = KvStateMachine(store, GROUP)
    # DEL at time 1000 finds the key expired at 500: deleted physically, but counted as absent.
    (result,) = sm.apply([(1, op((b"del", b"old"), time_ms=1000))])
    assert result.replies == (0,)
    assert sm.key_count == 0


def test_batch_entry_applies_like_its_operations_one_by_one(tmp_path: Path) -> None:
    """A leader's merged entry: same data and replies as one entry per operation, with
    `split` saying which replies belong to which operation (an EXEC op has one)."""
    operations = [
        Operation(1000, ((b"set", b"n", b"1"),)),
        Operation(1000, ((b"exec",), (b"incr", b"n"), (b"set", b"s", b"x"))),
        Operation(1000, ((b"incr", b"s"),)),  # an error reply, nothing undone
        Operation(1000, ((b"mset", b"a", b"1", b"b", b"2"), (b"get", b"a"))),
    ]
    with Store.open(tmp_path / "one") as one, Store.open(tmp_path / "batched") as batched:
        singles = KvStateMachine(one, GROUP).apply(
            (i + 1, encode_operation(o)) for i, o in enumerate(operations)
        )
        merged = KvStateMachine(batched, GROUP)
        (entry,) = merged.apply([(1, encode_batch([encode_operation(o) for o in operations]))])
        assert entry.split == tuple(len(r.replies) for r in singles) == (1, 1, 1, 2)
        assert entry.replies == tuple(reply for r in singles for reply in r.replies)
        assert isinstance(entry.replies[2], ErrorReply)
        assert list(one.iter_values(GROUP)) == list(batched.iter_values(GROUP))
        assert merged.applied_index == 1 and merged.key_count == 4


def test_a_new_group_applies_and_reads_without_a_leveldb_read(tmp_path: Path) -> None:
    with Store.open(tmp_path / "db") as store:
        sm = KvStateMachine(store, GROUP)
        sets = [op((b"set", b"k%d" % i, b"v")) for i in range(5)]
        sm.apply([(1, encode_batch(sets)), (2, op((b"set", b"k0", b"w"), (b"del", b"k1")))])
        assert (sm.key_count, sm.get(b"k0"), sm.get(b"k1")) == (4, StoredValue(0, b"w", 0), None)
        assert store.value_cache.misses == 0
    with Store.open(tmp_path / "db") as store:  # restarted with data: misses read LevelDB
        sm = KvStateMachine(store, GROUP)
        sm.apply([(3, op((b"set", b"k9", b"v")))])
        assert (sm.key_count, sm.get(b"k2")) == (5, StoredValue(0, b"v", 0))
        assert store.value_cache.misses == 2
