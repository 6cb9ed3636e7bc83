"""Value snapshots stream in chunks from one point in time; install replaces values atomically."""

import pytest

from seshat_trio.storage import (
    StorageError,
    Store,
    StoredValue,
    WriteBatch,
    decode_chunk,
    encode_chunk,
    keys,
)
from seshat_trio.storage.records import encode_stored_value


def value(data: bytes) -> StoredValue:
    return StoredValue(kind=0, data=data, expires_at_ms=0)


def fill(store: Store, group: int, count: int, tag: bytes) -> dict[bytes, StoredValue]:
    items = {b"k%05d" % i: value(tag * 20) for i in range(count)}
    batch = WriteBatch()
    for k, v in items.items():
        batch.put_value(group, k, v)
    batch.put_applied(group, count)
    store.write(batch)
    return items


def test_chunks_are_bounded_and_point_in_time(store: Store) -> None:
    items = fill(store, 1, 500, b"a")
    with store.value_snapshot(1) as snap:
        fill(store, 1, 600, b"b")  # written after the snapshot: invisible to it
        chunks = list(snap.chunks(2000))
        assert snap.applied == 500
    assert len(chunks) > 5
    assert all(len(c) < 2000 + 100 for c in chunks)
    streamed = [pair for chunk in chunks for pair in decode_chunk(chunk)]
    assert streamed == sorted(items.items())


def test_install_replaces_values_and_applies_batch(store: Store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    fill(store, 1, 50, b"old")
    fill(store, 2, 5, b"other")
    with Store.open(tmp_path / "source") as source:
        new = fill(source, 1, 300, b"new")
        with source.value_snapshot(1) as snap, store.begin_install(1) as installer:
            for chunk in snap.chunks(1000):
                installer.add_chunk(chunk)
                assert store.get_value(1, b"k00000") == value(b"old" * 20)  # not yet visible
            done = WriteBatch()
            done.put_applied(1, snap.applied)
            installer.finish(done)
    assert dict(store.iter_values(1)) == new
    assert store.applied(1) == 300
    assert len(dict(store.iter_values(2))) == 5  # other groups untouched
    assert len(list(store._db.iterator(prefix=keys.values_prefix(1)))) == 300  # old purged


def test_aborted_install_keeps_old_values(store: Store) -> None:
    old = fill(store, 1, 20, b"old")
    with store.begin_install(1) as installer:
        installer.add_chunk(encode_chunk([(b"x", encode_stored_value(value(b"new")))]))
    assert dict(store.iter_values(1)) == old
    assert len(list(store._db.iterator(prefix=keys.values_prefix(1)))) == 20


def test_install_refuses_bad_chunks_and_concurrent_installs(store: Store) -> None:
    fill(store, 1, 3, b"old")
    with store.begin_install(1) as installer:
        with pytest.raises(StorageError, match="truncated"):
            installer.add_chunk(encode_chunk([(b"k", b"vvvv")])[:-2])
        with pytest.raises(StorageError, match="cannot decode StoredValue"):
            installer.add_chunk(encode_chunk([(b"k", b"\xff" * 9)]))
        with pytest.raises(StorageError, match="newer than the supported"):
            installer.add_chunk(b"\x09")
        with pytest.raises(StorageError, match="already in progress"):
            store.begin_install(1)
        clear = WriteBatch()
        clear.clear_values(1)
        with pytest.raises(StorageError, match="install is in progress"):
            store.write(clear)
    assert len(dict(store.iter_values(1))) == 3
    # Over: a new install may start, and the old one cannot be used any more.
    with pytest.raises(StorageError, match="already over"):
        installer.finish()
    with store.begin_install(1) as again:
        again.finish()
    assert dict(store.iter_values(1)) == {}


def test_empty_snapshot_yields_no_chunks(store: Store) -> None:
    with store.value_snapshot(1) as snap:
        assert list(snap.chunks(100)) == []
        with pytest.raises(ValueError, match="positive"):
            list(snap.chunks(0))
