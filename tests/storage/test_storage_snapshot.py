"""Value snapshots stream in chunks from one point in time; install replaces values atomically."""

import pytest

from seshat_trio.storage import (
    Span,
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


def value_chunk(items: list[tuple[bytes, StoredValue]]) -> bytes:
    """A chunk of metadata records for these user keys."""
    return encode_chunk([(keys.meta_suffix(k), encode_stored_value(v)) for k, v in items])


def sweep(store: Store) -> None:
    while store.sweep_garbage():
        pass


def stored_keys(store: Store, group: int) -> int:
    return len(list(store._db.iterator(prefix=keys.values_prefix(group))))


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
    expected = sorted((keys.meta_suffix(k), encode_stored_value(v)) for k, v in items.items())
    assert streamed == expected


def test_collections_stream_their_live_elements_only(store: Store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    batch = WriteBatch()
    batch.put_value(1, b"h", StoredValue(4, b"hdr", 0, version=5))
    for i in range(300):
        batch.put_element(1, b"h", 5, b"f%03d" % i, b"v" * 10)
        batch.put_element(1, b"h", 4, b"f%03d" % i, b"dead")  # an older, dropped version
        batch.put_element(1, b"gone", 9, b"f%03d" % i, b"dead")  # its key was deleted
    batch.put_value(1, b"s", value(b"string"))
    store.write(batch)
    with store.value_snapshot(1) as snap:
        chunks = list(snap.chunks(500))
    assert len(chunks) > 5  # a big collection travels in bounded chunks
    streamed = [pair for chunk in chunks for pair in decode_chunk(chunk)]
    assert len(streamed) == 302
    with Store.open(tmp_path / "copy") as copy, copy.begin_install(1) as installer:
        for chunk in chunks:
            installer.add_chunk(chunk)
        installer.finish()
        assert [k for k, _ in sorted(copy.iter_values(1))] == [b"h", b"s"]
        elements = list(copy.iter_elements(1, b"h", 5))
        assert elements == [(b"f%03d" % i, b"v" * 10) for i in range(300)]
        assert list(copy.iter_elements(1, b"h", 5, Span(b"f100", b"f103", reverse=True))) == [
            (b"f102", b"v" * 10),
            (b"f101", b"v" * 10),
            (b"f100", b"v" * 10),
        ]
        # One record in a backwards range, at its start (plyvel alone yields nothing).
        assert list(copy.iter_elements(1, b"h", 5, Span(b"f100", b"f101", reverse=True))) == [
            (b"f100", b"v" * 10)
        ]
        assert list(copy.iter_elements(1, b"h", 5, Span(b"f299", None, reverse=True))) == [
            (b"f299", b"v" * 10)
        ]
        assert copy.get_element(1, b"h", 5, b"f007") == b"v" * 10
        assert stored_keys(copy, 1) == 302


def test_old_chunks_are_read_as_metadata_records(store: Store) -> None:
    old = bytes([1]) + encode_chunk([(b"k", encode_stored_value(value(b"v")))])[1:]
    assert decode_chunk(old) == [(keys.meta_suffix(b"k"), encode_stored_value(value(b"v")))]
    with store.begin_install(1) as installer:
        installer.add_chunk(old)
        installer.finish()
    assert store.get_value(1, b"k") == value(b"v")


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
    sweep(store)
    assert stored_keys(store, 1) == 300  # old purged


def test_aborted_install_keeps_old_values(store: Store) -> None:
    old = fill(store, 1, 20, b"old")
    with store.begin_install(1) as installer:
        installer.add_chunk(value_chunk([(b"x", value(b"new"))]))
    assert dict(store.iter_values(1)) == old
    sweep(store)
    assert stored_keys(store, 1) == 20


def test_install_refuses_bad_chunks_and_concurrent_installs(store: Store) -> None:
    fill(store, 1, 3, b"old")
    with store.begin_install(1) as installer:
        with pytest.raises(StorageError, match="truncated"):
            installer.add_chunk(encode_chunk([(b"k", b"vvvv")])[:-2])
        with pytest.raises(StorageError, match="cannot decode StoredValue"):
            installer.add_chunk(encode_chunk([(keys.meta_suffix(b"k"), b"\xff" * 9)]))
        with pytest.raises(StorageError, match="malformed record key"):
            installer.add_chunk(encode_chunk([(b"k", b"\xff" * 9)]))
        wrong_slot = bytearray(keys.meta_suffix(b"k"))
        wrong_slot[1] ^= 1
        with pytest.raises(StorageError, match="does not match"):
            installer.add_chunk(encode_chunk([(bytes(wrong_slot), b"")]))
        with pytest.raises(StorageError, match="newer than the supported"):
            installer.add_chunk(b"\x09")
        with pytest.raises(StorageError, match="already in progress"):
            store.begin_install(1)
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


def staged_chunk(tag: bytes) -> bytes:
    return value_chunk([(b"s%d" % i, value(tag)) for i in range(3)])


def clear_and_put(store: Store, key: bytes, data: bytes, applied: int) -> None:
    """What applying a FLUSHALL followed by a SET writes."""
    batch = WriteBatch()
    batch.clear_values(1)
    batch.put_value(1, key, value(data))
    batch.put_applied(1, applied)
    store.write(batch)


def test_clear_during_install_applies_and_an_abort_keeps_it(store: Store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # A follower applies committed entries it holds while a snapshot stream is staged: a
    # FLUSHALL among them applies like any write (it used to raise StorageError, stopping
    # the group), and the staged values stay invisible and intact.
    fill(store, 1, 20, b"old")
    with store.begin_install(1) as installer:
        installer.add_chunk(staged_chunk(b"staged"))
        clear_and_put(store, b"after", b"flush", 21)
        assert dict(store.iter_values(1)) == {b"after": value(b"flush")}
        assert store.get_value(1, b"k00000") is None
        assert store.get_value(1, b"s0") is None  # the staged values stay invisible
        clear_and_put(store, b"again", b"second flush", 22)  # a second one as well
        assert dict(store.iter_values(1)) == {b"again": value(b"second flush")}
        installer.add_chunk(staged_chunk(b"late"))  # chunks keep arriving
        assert store.get_value(1, b"s0") is None
    # Aborted (e.g. the core declined the snapshot): the flushes stay, nothing else is left.
    assert dict(store.iter_values(1)) == {b"again": value(b"second flush")}
    assert store.applied(1) == 22
    sweep(store)
    assert stored_keys(store, 1) == 1
    store.close()
    with Store.open(store.path) as reopened:
        assert dict(reopened.iter_values(1)) == {b"again": value(b"second flush")}


def test_clear_during_install_then_finish_installs_the_staged_values(store: Store) -> None:
    fill(store, 1, 20, b"old")
    with store.begin_install(1) as installer:
        installer.add_chunk(staged_chunk(b"staged"))
        clear_and_put(store, b"after", b"flush", 21)
        installer.add_chunk(staged_chunk(b"staged"))
        done = WriteBatch()
        done.put_applied(1, 30)
        installer.finish(done)
    # The install replaces the state, flush included (the snapshot covers it).
    assert dict(store.iter_values(1)) == {b"s%d" % i: value(b"staged") for i in range(3)}
    assert store.get_value(1, b"after") is None
    assert store.applied(1) == 30
    sweep(store)
    assert stored_keys(store, 1) == 3  # rest purged
    # Later clears and installs work as usual.
    clear_and_put(store, b"x", b"y", 31)
    assert dict(store.iter_values(1)) == {b"x": value(b"y")}
    sweep(store)
    assert stored_keys(store, 1) == 1


def test_crash_after_clear_during_install_keeps_the_flush(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "db"
    store = Store.open(path)
    fill(store, 1, 20, b"old")
    installer = store.begin_install(1)
    installer.add_chunk(staged_chunk(b"staged"))
    clear_and_put(store, b"after", b"flush", 21)
    store.close()  # the process dies mid-install: nothing finishes or aborts
    with Store.open(path) as reopened:
        assert dict(reopened.iter_values(1)) == {b"after": value(b"flush")}
        assert reopened.applied(1) == 21
        # The old generation and the staged values are garbage, swept after the open.
        sweep(reopened)
        assert stored_keys(reopened, 1) == 1
