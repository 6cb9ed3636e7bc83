"""Store: every batch operation, log truncations, reopen, format refusal, errors."""

import threading
import time
from pathlib import Path
from typing import get_args

import plyvel
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seshat_trio.storage import (
    FORMAT_VERSION,
    HardState,
    LogRecord,
    SnapshotMeta,
    StorageError,
    Store,
    StoredValue,
    StoreOptions,
    WriteBatch,
    keys,
    records,
)
from seshat_trio.storage.batch import Operation
from seshat_trio.storage.errors import translate
from seshat_trio.storage.translate import _HANDLERS


def rec(index: int, data: bytes = b"", term: int = 1) -> LogRecord:
    return LogRecord(index=index, term=term, kind=0, data=data or f"e{index}".encode())


def value(data: bytes) -> StoredValue:
    return StoredValue(kind=0, data=data, expires_at_ms=0)


def append(store: Store, group: int, lo: int, hi: int, term: int = 1) -> None:
    batch = WriteBatch()
    batch.append_log(group, [rec(i, term=term) for i in range(lo, hi + 1)])
    store.write(batch, sync=True)


def test_new_store_is_empty(store: Store) -> None:
    assert store.first_log_index(1) == 1
    assert store.last_log_index(1) == 0
    assert store.log_entries(1, 1, 100) == []
    assert store.hard_state(1) == HardState(0, 0, 0)
    assert store.applied(1) == 0
    assert store.snapshot_meta(1) is None
    assert store.get_value(1, b"k") is None
    assert store.get_system(0, "membership") is None
    assert store.log_size_bytes(1) == 0


def test_leveldb_memory_counts_the_memtable(store: Store) -> None:
    empty = store.leveldb_memory_bytes()
    append(store, 1, 1, 1000)
    assert store.leveldb_memory_bytes() - empty >= 1000 * len(b"e1000")


@pytest.mark.parametrize(
    ("buffer", "tables"), [(64 << 10, True), (StoreOptions().write_buffer_bytes, False)]
)
def test_write_buffer_bytes_bounds_the_memtable(tmp_path: Path, buffer: int, tables: bool) -> None:
    """Over `write_buffer_bytes` of writes, LevelDB moves the memtable to a table file.

    Its background thread writes the file, and a close skips a flush that thread has not
    started: so the file is awaited (bounded) while the store is open. Below the buffer no
    flush is ever scheduled, so there is nothing to wait for."""
    with Store.open(tmp_path / "db", StoreOptions(write_buffer_bytes=buffer)) as store:
        for lo in range(1, 2001, 100):  # 2000 entries of 100 bytes in 20 writes
            batch = WriteBatch()
            batch.append_log(1, [rec(i, bytes(100)) for i in range(lo, lo + 100)])
            store.write(batch)
        deadline = time.monotonic() + (10.0 if tables else 0.0)
        while not any(tmp_path.glob("db/*.ldb")) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert any(tmp_path.glob("db/*.ldb")) is tables


def test_every_put_operation_reads_back(store: Store) -> None:
    meta = SnapshotMeta(index=5, term=2, voters=(1, 2, 3), learners=())
    batch = WriteBatch()
    batch.put_hard_state(0, HardState(term=3, vote=2, commit=7))
    batch.put_applied(1, 42)
    batch.put_snapshot_meta(1, meta)
    batch.put_value(1, b"k", value(b"v"))
    batch.put_system(0, "membership", b"\x01\x02")
    store.write(batch)
    assert store.hard_state(0) == HardState(term=3, vote=2, commit=7)
    assert store.hard_state(1) == HardState(0, 0, 0)  # groups do not share state
    assert store.applied(1) == 42
    assert store.snapshot_meta(1) == meta
    assert store.get_value(1, b"k") == value(b"v")
    assert store.get_value(2, b"k") is None
    assert store.get_system(0, "membership") == b"\x01\x02"


def test_delete_and_clear_values(store: Store) -> None:
    batch = WriteBatch()
    for k in (b"a", b"b", b"c"):
        batch.put_value(1, k, value(k))
        batch.put_value(2, k, value(k))
    batch.delete_value(1, b"b")
    store.write(batch)
    assert sorted(k for k, _ in store.iter_values(1)) == [b"a", b"c"]
    clear = WriteBatch()
    clear.clear_values(1)
    clear.put_value(1, b"z", value(b"after clear"))  # lands in the new generation
    store.write(clear)
    assert list(store.iter_values(1)) == [(b"z", value(b"after clear"))]
    assert sorted(k for k, _ in store.iter_values(2)) == [b"a", b"b", b"c"]
    # The old generation is garbage: swept from LevelDB in bounded steps, not just hidden.
    assert len(raw_keys(store, keys.values_prefix(1))) == 3
    assert store.sweep_garbage(1) > 0
    while store.sweep_garbage(1):
        pass
    assert len(raw_keys(store, keys.values_prefix(1))) == 1
    assert list(store.iter_values(1)) == [(b"z", value(b"after clear"))]


def raw_keys(store: Store, prefix: bytes) -> list[bytes]:
    """The LevelDB keys under a prefix, read through the store's own handle."""
    return [k for k, _ in store._db.iterator(prefix=prefix)]


def test_iter_values_in_position_order_from_a_position(store: Store) -> None:
    batch = WriteBatch()
    names = [b"d", b"a", b"c", b"b", b"\xff\xff", b"{tag}1", b"{tag}2", b""]
    for k in names:
        batch.put_value(1, k, value(k))
    batch.put_value(1, b"h", StoredValue(4, b"header", 0, version=9))
    batch.put_element(1, b"h", 9, b"field", b"element")  # never listed as a key
    store.write(batch)
    ordered = sorted([*names, b"h"], key=lambda k: (keys.position(k), k))
    assert [k for k, _ in store.iter_values(1)] == ordered
    middle = keys.position(ordered[4])
    assert [k for k, _ in store.iter_values(1, middle)] == ordered[4:]
    assert list(store.iter_values(1, keys.POSITION_END)) == []
    # Keys with one hash tag share a slot: adjacent in the order.
    assert keys.position(b"{tag}1") >> 32 == keys.position(b"{tag}2") >> 32


def test_system_group_has_no_values() -> None:
    with pytest.raises(ValueError, match="system group"):
        WriteBatch().put_value(0, b"k", value(b"v"))


def test_append_and_read_range(store: Store) -> None:
    append(store, 1, 1, 10)
    assert store.last_log_index(1) == 10
    assert [r.index for r in store.log_entries(1, 3, 7)] == [3, 4, 5, 6]
    assert store.log_entries(1, 3, 7)[0] == rec(3)
    assert store.log_entries(0, 1, 11) == []  # the system group's log is separate


def test_log_entries_max_bytes_cut(store: Store) -> None:
    batch = WriteBatch()
    batch.append_log(1, [rec(i, b"x" * 100) for i in range(1, 11)])
    store.write(batch)
    size = len(records.encode_log_record(rec(1, b"x" * 100)))
    cut = store.log_entries(1, 1, 11, max_bytes=3 * size + size // 2)
    assert [r.index for r in cut] == [1, 2, 3]
    # One entry is always returned, even above the limit.
    assert [r.index for r in store.log_entries(1, 1, 11, max_bytes=1)] == [1]


def test_append_must_follow_last_index(store: Store) -> None:
    append(store, 1, 1, 3)
    with pytest.raises(StorageError, match="starts at index 5, expected 4"):
        append(store, 1, 5, 6)
    with pytest.raises(StorageError, match="starts at index 2, expected 4"):
        append(store, 1, 2, 2)
    with pytest.raises(ValueError, match="consecutive"):
        WriteBatch().append_log(1, [rec(1), rec(3)])
    assert store.last_log_index(1) == 3


def test_a_batch_that_fails_half_way_writes_nothing(store: Store) -> None:
    # The translation puts records into LevelDB's batch as it goes: the values and the
    # applied index before the refused append must not reach LevelDB, nor the cache.
    append(store, 1, 1, 3)
    batch = WriteBatch()
    batch.put_value(1, b"k", value(b"v"))
    batch.put_applied(1, 3)
    batch.append_log(1, [rec(7)])
    with pytest.raises(StorageError, match="starts at index 7, expected 4"):
        store.write(batch)
    assert store.get_value(1, b"k") is None
    assert store.applied(1) == 0
    assert list(store._db.iterator(prefix=keys.values_prefix(1))) == []
    store.write(WriteBatch())  # the next write does not carry them either
    assert list(store._db.iterator(prefix=keys.values_prefix(1))) == []
    assert store.last_log_index(1) == 3


def test_a_write_of_values_reads_nothing_from_leveldb(store: Store) -> None:
    # The translation starts from the store's cached value generation: writing values
    # (every apply on every node) reads no record (the generation's was read per write).
    batch = WriteBatch()
    batch.put_value(1, b"k", value(b"v"))
    store.write(batch)
    reads: list[bytes] = []

    class Counting:
        def __init__(self, db: object) -> None:
            self._db = db

        def __getattr__(self, name: str) -> object:
            return getattr(self._db, name)

        def get(self, key: bytes, *args: object) -> object:
            reads.append(key)
            return self._db.get(key, *args)  # type: ignore[attr-defined]

    store._db = Counting(store._db)
    batch = WriteBatch()
    batch.put_values(1, [(b"k", value(b"w")), (b"j", value(b"x"))])
    batch.put_applied(1, 9)
    store.write(batch)
    assert reads == []
    assert store.get_value(1, b"k") == value(b"w")
    assert store.applied(1) == 9


def test_truncate_suffix_then_append_in_one_batch(store: Store) -> None:
    append(store, 1, 1, 10)
    batch = WriteBatch()
    batch.truncate_log_from(1, 6)
    batch.append_log(1, [rec(i, term=2) for i in range(6, 9)])
    store.write(batch, sync=True)
    entries = store.log_entries(1, 1, 100)
    assert [(r.index, r.term) for r in entries] == [(i, 1) for i in range(1, 6)] + [
        (i, 2) for i in range(6, 9)
    ]
    assert store.last_log_index(1) == 8


def test_truncate_prefix_sets_first_index(store: Store) -> None:
    append(store, 1, 1, 10)
    batch = WriteBatch()
    batch.truncate_log_before(1, 4)
    store.write(batch)
    assert store.first_log_index(1) == 4
    assert store.last_log_index(1) == 10
    assert [r.index for r in store.log_entries(1, 1, 100)] == list(range(4, 11))


def test_truncate_prefix_past_the_end_empties_the_log(store: Store) -> None:
    append(store, 1, 1, 5)
    batch = WriteBatch()
    batch.truncate_log_before(1, 21)  # e.g. after installing a snapshot at index 20
    store.write(batch)
    assert (store.first_log_index(1), store.last_log_index(1)) == (21, 20)
    assert store.log_entries(1, 1, 100) == []
    append(store, 1, 21, 22)
    assert [r.index for r in store.log_entries(1, 1, 100)] == [21, 22]


def test_truncate_suffix_below_first_index_keeps_first(store: Store) -> None:
    append(store, 1, 1, 10)
    batch = WriteBatch()
    batch.truncate_log_before(1, 5)
    batch.truncate_log_from(1, 2)
    store.write(batch)
    assert (store.first_log_index(1), store.last_log_index(1)) == (5, 4)


def test_reopen_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "db"
    meta = SnapshotMeta(index=3, term=1, voters=(1,), learners=(2,))
    with Store.open(path) as store:
        append(store, 0, 1, 4)
        append(store, 1, 1, 10)
        batch = WriteBatch()
        batch.truncate_log_before(1, 3)
        batch.truncate_log_from(1, 9)
        batch.put_hard_state(1, HardState(2, 1, 8))
        batch.put_applied(1, 8)
        batch.put_snapshot_meta(1, meta)
        batch.clear_values(1)
        batch.put_value(1, b"k", value(b"v"))
        batch.put_system(0, "shardmap", b"map")
        store.write(batch, sync=True)
        size = store.log_size_bytes(1)
    with Store.open(path) as store:
        assert (store.first_log_index(1), store.last_log_index(1)) == (3, 8)
        assert (store.first_log_index(0), store.last_log_index(0)) == (1, 4)
        assert store.log_size_bytes(1) == size
        assert store.hard_state(1) == HardState(2, 1, 8)
        assert store.applied(1) == 8
        assert store.snapshot_meta(1) == meta
        assert list(store.iter_values(1)) == [(b"k", value(b"v"))]
        assert store.get_system(0, "shardmap") == b"map"


def test_newer_store_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db"
    Store.open(path).close()
    db = plyvel.DB(str(path))
    db.put(keys.META_FORMAT_KEY, records.encode_store_meta(FORMAT_VERSION + 1))
    db.close()
    with pytest.raises(
        StorageError, match=rf"format version {FORMAT_VERSION + 1}.*format version {FORMAT_VERSION}"
    ):
        Store.open(path)
    # The refused store was closed again: LevelDB's lock is free.
    plyvel.DB(str(path)).close()


def test_foreign_leveldb_is_refused(tmp_path: Path) -> None:
    db = plyvel.DB(str(tmp_path / "db"), create_if_missing=True)
    db.put(b"hello", b"world")
    db.close()
    with pytest.raises(StorageError, match="without a seshat-trio meta record"):
        Store.open(tmp_path / "db")


def test_open_error_names_the_path(tmp_path: Path) -> None:
    # LevelDB holds a lock file: a second open of the same store fails.
    expected = f"open failed on store {tmp_path / 'db'}"
    with Store.open(tmp_path / "db"), pytest.raises(StorageError, match=expected):
        Store.open(tmp_path / "db")


def test_disk_full_is_named() -> None:
    error = translate(
        plyvel.IOError("IO error: /x/000005.log: No space left on device"), "write", Path("/x")
    )
    assert "disk full" in str(error)
    assert "/x" in str(error)


def test_closed_store_raises_storage_error(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "db")
    store.close()
    with pytest.raises(StorageError, match="read failed"):
        store.applied(1)


# --- a model check of the log under random appends and truncations --------------------

log_op = st.one_of(
    st.tuples(st.just("append"), st.integers(1, 5)),
    st.tuples(st.just("from"), st.integers(1, 30)),
    st.tuples(st.just("before"), st.integers(1, 30)),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.lists(log_op, min_size=1, max_size=4), min_size=1, max_size=8), st.booleans())
def test_log_matches_model(
    tmp_path_factory: pytest.TempPathFactory, writes: list[list[tuple[str, int]]], size_first: bool
) -> None:
    path = tmp_path_factory.mktemp("model") / "db"
    model: dict[int, LogRecord] = {}
    first = 1
    with Store.open(path) as store:
        if size_first:
            store.log_size_bytes(1)  # exercise the maintained counter, not only the scan
        for ops in writes:
            batch = WriteBatch()
            for name, arg in ops:
                last = max(model, default=first - 1)
                if name == "append":
                    new = [rec(i, term=len(model)) for i in range(last + 1, last + 1 + arg)]
                    batch.append_log(1, new)
                    model.update((r.index, r) for r in new)
                elif name == "from":
                    batch.truncate_log_from(1, arg)
                    model = {i: r for i, r in model.items() if i < max(arg, first)}
                else:
                    batch.truncate_log_before(1, arg)
                    if arg > first:
                        first = arg
                        model = {i: r for i, r in model.items() if i >= arg}
            store.write(batch)
            last = max(model, default=first - 1)
            assert (store.first_log_index(1), store.last_log_index(1)) == (first, last)
            assert store.log_entries(1, 1, 100) == [model[i] for i in sorted(model)]
        expected_size = sum(
            len(keys.log_key(1, i)) + len(records.encode_log_record(r)) for i, r in model.items()
        )
        assert store.log_size_bytes(1) == expected_size
    with Store.open(path) as store:
        assert (store.first_log_index(1), store.last_log_index(1)) == (first, last)


def old_layout_store(path: Path, format_version: int, generation: int = 0) -> None:
    """A store as a build of format 1 or 2 left it: values under `generation | user key`."""
    Store.open(path).close()
    db = plyvel.DB(str(path))
    db.put(keys.META_FORMAT_KEY, records.encode_store_meta(format_version))
    old = records._schema.StoredValue.new_message(version=1, kind=0, data=b"v1", expiresAtMs=7)
    prefix = keys.generation_prefix(1, generation)
    db.put(prefix + b"old", old.to_bytes_packed())  # a version 1 (capnp) value
    for i in range(25):
        db.put(prefix + b"k%d" % i, records.encode_stored_value(value(b"%d" % i)))
    db.put(keys.generation_prefix(2, 0) + b"other", records.encode_stored_value(value(b"2")))
    db.put(keys.generation_prefix(1, generation + 5) + b"stale", b"crash leftover")
    db.put(keys.state_key(1, keys.VALUE_GENERATION), records.encode_counter(generation))
    db.close()


@pytest.mark.parametrize("format_version", [1, 2])
def test_old_layout_store_is_migrated_at_open(
    tmp_path: Path, format_version: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "db"
    old_layout_store(path, format_version, generation=3)
    monkeypatch.setattr("seshat_trio.storage.migrate.BATCH_KEYS", 7)  # several batches
    with Store.open(path) as store:
        assert store.get_value(1, b"old") == StoredValue(kind=0, data=b"v1", expires_at_ms=7)
        assert store.get_value(1, b"k24") == value(b"24")
        assert len(list(store.iter_values(1))) == 26
        assert [k for k, _ in store.iter_values(2)] == [b"other"]
        assert store.get_value(1, b"stale") is None
        while store.sweep_garbage():
            pass
        # Only the new generations are left: the old layout and the leftover are gone.
        assert len(raw_keys(store, keys.values_prefix(1))) == 26
    db = plyvel.DB(str(path))
    assert records.decode_store_meta(db.get(keys.META_FORMAT_KEY)) == FORMAT_VERSION == 3
    db.close()


def test_a_crash_during_migration_leaves_the_old_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "db"
    old_layout_store(path, 2)

    def crash(generation: int) -> bytes:
        raise KeyboardInterrupt  # the process dies after copying group 1, before the flip

    with monkeypatch.context() as patched:
        patched.setattr("seshat_trio.storage.migrate.BATCH_KEYS", 7)
        patched.setattr("seshat_trio.storage.migrate.encode_counter", crash)
        with pytest.raises(KeyboardInterrupt):
            Store.open(path)
    db = plyvel.DB(str(path))
    assert records.decode_store_meta(db.get(keys.META_FORMAT_KEY)) == 2
    assert len(list(db.iterator(prefix=keys.values_prefix(1)))) > 30  # a half-done copy
    db.close()
    with Store.open(path) as store:  # the next open migrates again
        assert store.get_value(1, b"k3") == value(b"3")
        assert len(list(store.iter_values(1))) == 26
        while store.sweep_garbage():
            pass
        assert len(raw_keys(store, keys.values_prefix(1))) == 26


def test_known_log_size_is_read_while_a_write_holds_the_store(store: Store) -> None:
    # The group committer's thread holds the store's lock for a whole synced write; the
    # driver asks for the log size after every Ready of every group on the event loop.
    append(store, 1, 1, 3)
    size = store.log_size_bytes(1)  # computed once (under the lock)
    held, release = threading.Event(), threading.Event()

    def writer() -> None:
        with store._lock:  # what `Store._commit` holds while LevelDB syncs
            held.set()
            release.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert held.wait(10)
        answers: list[int] = []
        reader = threading.Thread(target=lambda: answers.append(store.log_size_bytes(1)))
        reader.start()
        reader.join(5)
        assert answers == [size]
    finally:
        release.set()
        thread.join()


def test_every_batch_operation_has_a_translation() -> None:
    # Translation.add dispatches on the operation's type: a type added to the batch
    # vocabulary without a handler would fail every write that holds it.
    assert set(_HANDLERS) == set(get_args(Operation))
