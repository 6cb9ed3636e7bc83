"""The value cache: bounded, never stale across writes, deletes, FLUSHALL, installs, reopens."""

import binascii
import gc
import struct
from pathlib import Path

import plyvel
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seshat_trio.config.model import StorageSection
from seshat_trio.storage import (
    StorageError,
    Store,
    StoredValue,
    StoreOptions,
    WriteBatch,
    encode_chunk,
    keys,
)
from seshat_trio.storage.records import encode_stored_value
from seshat_trio.storage.value_cache import ENTRY_OVERHEAD, MISSING, ValueCache, entry_size


def value(data: bytes, expires_at_ms: int = 0) -> StoredValue:
    return StoredValue(kind=0, data=data, expires_at_ms=expires_at_ms)


def put(store: Store, key: bytes, data: bytes) -> None:
    batch = WriteBatch()
    batch.put_value(1, key, value(data))
    store.write(batch)


# --- ValueCache on its own ------------------------------------------------------------------


def test_put_replaces_and_fill_does_not() -> None:
    cache = ValueCache(10_000)
    assert cache.get(b"k") is MISSING
    cache.fill(b"k", b"read", cache.version)
    assert cache.get(b"k") == b"read"
    cache.put(b"k", b"written")
    # A read that began before the write must not bring the old value back.
    cache.fill(b"k", b"read", cache.version)
    assert cache.get(b"k") == b"written"
    cache.put(b"k", None)
    assert cache.get(b"k") is None
    assert (cache.hits, cache.misses) == (3, 1)


def test_forget_drops_entries_and_fills_that_overlap_it() -> None:
    cache = ValueCache(10_000)
    cache.put(b"k", b"v")
    cache.fill(b"j", None, cache.version)
    version = cache.version  # a read starts...
    cache.forget([b"k", b"j", b"absent"])  # ...records are written uncached...
    cache.fill(b"k", b"old", version)  # ...and the read finishes
    assert (cache.get(b"k"), cache.get(b"j"), len(cache), cache.size_bytes) == (
        MISSING,
        MISSING,
        0,
        0,
    )


def test_a_fill_that_overlaps_a_clear_is_dropped() -> None:
    cache = ValueCache(10_000)
    version = cache.version  # a read starts...
    cache.clear()  # ...a reopen or generation flip happens meanwhile...
    cache.fill(b"k", b"stale?", version)  # ...and the read finishes
    assert cache.get(b"k") is MISSING
    assert cache.size_bytes == 0
    cache.fill(b"k", b"fresh", cache.version)
    assert cache.get(b"k") == b"fresh"


@pytest.mark.parametrize("kept", [False, True])
def test_a_fill_that_overlaps_any_write_is_dropped(kept: bool) -> None:
    # A write on another thread lands between a read's LevelDB lookup and its fill. Whether
    # or not the cache kept the written record (too large, or evicted at once), the value
    # the read found must not be cached.
    cache = ValueCache(ENTRY_OVERHEAD + 100)
    cache.fill(b"k", b"old", cache.version)
    version = cache.version  # a read misses on another key and looks it up...
    cache.put(b"j", b"new" if kept else b"n" * 200)  # ...a write of that key lands...
    cache.fill(b"j", b"old", version)  # ...and the read finishes
    assert cache.get(b"j") == (b"new" if kept else MISSING)


def test_bounded_in_bytes_evicting_oldest_first() -> None:
    entry = ENTRY_OVERHEAD + 2 + 10
    cache = ValueCache(3 * entry)
    for key in (b"k1", b"k2", b"k3"):
        cache.put(key, b"x" * 10)
    cache.put(b"k1", b"y" * 10)  # rewritten: now the newest
    cache.put(b"k4", b"x" * 10)
    assert cache.get(b"k2") is MISSING
    assert [cache.get(k) for k in (b"k1", b"k3", b"k4")] == [b"y" * 10, b"x" * 10, b"x" * 10]
    assert len(cache) == 3
    assert cache.size_bytes == 3 * entry
    cache.put(b"big", b"z" * 4 * entry)  # larger than the whole cache: not kept
    assert cache.get(b"big") is MISSING
    assert len(cache) == 3


def test_one_write_over_the_budget_keeps_its_newest_records() -> None:
    entry = ENTRY_OVERHEAD + 2 + 10
    cache = ValueCache(3 * entry)
    cache.put(b"k0", b"x" * 10)
    cache.put(b"k1", b"x" * 5)
    # One write of five records (one rewrites k1, one too big to keep): the oldest go.
    big = b"z" * 4 * entry
    cache.put_all(
        [(b"k1", b"y" * 10), (b"k2", b"x" * 10), (b"kb", big), (b"k3", None), (b"k4", b"x" * 10)]
    )
    assert [cache.get(k) for k in (b"k0", b"k1", b"kb")] == [MISSING] * 3
    assert [cache.get(k) for k in (b"k2", b"k3", b"k4")] == [b"x" * 10, None, b"x" * 10]
    assert cache.size_bytes == 2 * entry + entry_size(b"k3", None)
    assert cache.size_bytes <= cache.max_bytes


def test_a_complete_prefix_answers_misses_until_anything_leaves_the_cache() -> None:
    entry = ENTRY_OVERHEAD + 3 + 10
    cache = ValueCache(3 * entry)
    cache.complete(b"p")
    cache.put(b"p:1", b"x" * 10)
    assert (cache.get(b"p:1", b"p"), cache.get(b"p:2", b"p"), cache.get(b"q:1", b"q")) == (
        b"x" * 10,
        None,
        MISSING,
    )
    assert cache.get(b"p:2") is MISSING  # without its prefix, a miss is a miss
    assert (cache.hits, cache.misses) == (2, 2)
    cache.put_all([(b"p:2", b"x" * 10), (b"p:3", b"x" * 10)])
    assert cache.is_complete(b"p")
    cache.put(b"p:4", b"x" * 10)  # evicts p:1
    assert not cache.is_complete(b"p")
    assert cache.get(b"p:1", b"p") is MISSING

    for end in (
        lambda: cache.put(b"p:5", b"x" * 4 * entry),  # too large to keep
        lambda: cache.forget([b"p:2"]),
        cache.clear,
    ):
        cache.complete(b"p")
        end()
        assert not cache.is_complete(b"p")
    cache.complete(b"p")
    cache.forget([b"q:1"])  # not under the prefix
    assert cache.is_complete(b"p")


def test_zero_bytes_turns_it_off() -> None:
    cache = ValueCache(0)
    cache.put(b"k", b"v")
    cache.fill(b"j", None, cache.version)
    cache.complete(b"")
    assert (cache.get(b"k"), cache.get(b"j", b""), len(cache)) == (MISSING, MISSING, 0)


def test_entries_are_not_tracked_by_the_garbage_collector(store: Store) -> None:
    put(store, b"k", b"v")
    store.get_value(1, b"other")
    assert len(store.value_cache) == 2
    assert not any(gc.is_tracked(record) for record in store.value_cache._entries.values())


# --- through the store ----------------------------------------------------------------------


def test_reads_are_served_from_the_cache(store: Store) -> None:
    put(store, b"k", b"v")
    hits = store.value_cache.hits
    assert store.get_value(1, b"k") == value(b"v")
    assert store.get_value(1, b"absent") is None
    assert store.get_value(1, b"absent") is None
    assert store.value_cache.hits == hits + 2


def test_uncached_elements_are_written_but_never_left_stale_in_the_cache(store: Store) -> None:
    batch = WriteBatch()
    batch.write_elements(1, b"k", 7, [(b"m", b"1")], [(b"s1", b""), (b"s2", b"x")])
    store.write(batch)
    assert len(store.value_cache) == 1  # the cached change only
    assert list(store.iter_elements(1, b"k", 7)) == [(b"m", b"1"), (b"s1", b""), (b"s2", b"x")]
    assert store.get_element(1, b"k", 7, b"s1") == b""  # read from LevelDB (and filled)
    batch = WriteBatch()
    batch.write_elements(1, b"k", 7, [], [(b"s1", None), (b"s2", b"y")])
    store.write(batch)
    assert [store.get_element(1, b"k", 7, s) for s in (b"s1", b"s2")] == [None, b"y"]
    assert len(store.value_cache) == 3  # the member, and the two reads just made


def test_an_empty_group_and_a_flushed_one_are_read_from_the_cache_alone(store: Store) -> None:
    assert store.cache_if_empty(1)
    put(store, b"k", b"v")
    misses = store.value_cache.misses
    assert (store.get_value(1, b"k"), store.get_value(1, b"absent")) == (value(b"v"), None)
    assert store.stored_versions(1, [b"k", b"absent"]) == [0, None]
    assert store.value_cache.misses == misses  # no LevelDB read
    store.value_cache.clear()  # completeness ends with what leaves the cache
    assert store.get_value(1, b"k") == value(b"v")
    assert store.value_cache.misses == misses + 1
    batch = WriteBatch()
    batch.clear_values(1)
    batch.put_value(1, b"after", value(b"a"))
    store.write(batch)  # FLUSHALL: a new, empty generation, complete again
    assert [store.get_value(1, k) for k in (b"k", b"after")] == [None, value(b"a")]
    assert store.value_cache.misses == misses + 1


def test_a_group_that_holds_values_is_not_taken_for_empty(tmp_path: Path) -> None:
    with Store.open(tmp_path / "db") as store:
        put(store, b"k", b"v")
    with Store.open(tmp_path / "db") as store:
        assert not store.cache_if_empty(1)
        assert store.get_value(1, b"k") == value(b"v")
        with store.begin_install(1) as installer:  # a snapshot: its records are not cached
            installer.add_chunk(
                encode_chunk([(keys.meta_suffix(b"n"), encode_stored_value(value(b"n")))])
            )
            installer.finish()
        assert store.get_value(1, b"n") == value(b"n")


def test_stored_versions_read_through_the_cache(store: Store) -> None:
    batch = WriteBatch()
    batch.put_values(1, [(b"s", value(b"v")), (b"h", StoredValue(4, b"hdr", 0, version=5))])
    store.write(batch)
    store.value_cache.clear()
    hits, misses = store.value_cache.hits, store.value_cache.misses
    assert store.stored_versions(1, [b"s", b"h", b"absent", b"s"]) == [0, 5, None, 0]
    # LevelDB reads, not kept: the caller is about to write these keys.
    assert (store.value_cache.hits - hits, store.value_cache.misses - misses) == (0, 4)
    assert len(store.value_cache) == 0
    store.get_value(1, b"h")  # a read does fill it
    assert store.stored_versions(1, [b"absent", b"h"]) == [None, 5]
    assert store.value_cache.hits - hits == 1
    assert store.stored_versions(1, []) == []
    batch = WriteBatch()
    batch.clear_values(1)
    store.write(batch)
    assert store.stored_versions(1, [b"s", b"h"]) == [None, None]


def test_values_written_together_are_all_seen(store: Store) -> None:
    batch = WriteBatch()
    batch.put_values(1, [(b"a", value(b"1")), (b"b", value(b"2"))])
    batch.put_value(1, b"c", value(b"3"))
    store.write(batch)
    assert [store.get_value(1, k) for k in (b"a", b"b", b"c")] == [
        value(b"1"),
        value(b"2"),
        value(b"3"),
    ]
    store.value_cache.clear()
    assert store.get_value(1, b"b") == value(b"2")  # and in LevelDB, not only the cache


def test_flush_and_delete_are_seen(store: Store) -> None:
    put(store, b"k", b"v")
    put(store, b"gone", b"v")
    assert store.get_value(1, b"k") == value(b"v")
    batch = WriteBatch()
    batch.delete_value(1, b"gone")
    store.write(batch)
    assert store.get_value(1, b"gone") is None
    batch = WriteBatch()
    batch.clear_values(1)
    store.write(batch)
    assert store.get_value(1, b"k") is None
    put(store, b"k", b"after")
    assert store.get_value(1, b"k") == value(b"after")


def test_snapshot_install_is_seen(store: Store) -> None:
    put(store, b"old-only", b"v")
    put(store, b"both", b"old")
    assert store.get_value(1, b"both") == value(b"old")
    assert store.get_value(1, b"new-only") is None
    with store.begin_install(1) as installer:
        installer.add_chunk(
            encode_chunk(
                [
                    (keys.meta_suffix(b"both"), encode_stored_value(value(b"new"))),
                    (keys.meta_suffix(b"new-only"), encode_stored_value(value(b"n"))),
                ]
            )
        )
        installer.finish()
    assert store.get_value(1, b"both") == value(b"new")
    assert store.get_value(1, b"new-only") == value(b"n")
    assert store.get_value(1, b"old-only") is None


def test_a_failed_write_leaves_no_trace_and_a_reopen_empties_it(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(store, b"k", b"v")
    assert store.get_value(1, b"k") == value(b"v")

    class FullDisk:
        """The real LevelDB, except that every write fails as on a full disk."""

        def __init__(self, db: object) -> None:
            self._db = db

        def __getattr__(self, name: str) -> object:
            return getattr(self._db, name)

        def write_batch(self, **kwargs: object) -> object:
            raise plyvel.IOError("IO error: No space left on device")

    monkeypatch.setattr(store, "_db", FullDisk(store._db))
    with pytest.raises(StorageError, match="disk full"):
        put(store, b"k", b"lost")
    assert store.get_value(1, b"k") == value(b"v")
    put(store, b"other", b"x")  # reopens LevelDB first, which empties the cache
    assert store.get_value(1, b"k") == value(b"v")
    assert store.value_cache.version >= 1


def test_options_reach_the_store(tmp_path: Path) -> None:
    with Store.open(tmp_path / "db", StoreOptions(value_cache_bytes=0)) as store:
        put(store, b"k", b"v")
        assert store.get_value(1, b"k") == value(b"v")
        assert len(store.value_cache) == 0


def test_the_default_budget_holds_a_million_field_hash() -> None:
    # docs/storage.md: by default a hash of 1,000,000 fields of 100 bytes stays in memory, so
    # an HSET that overwrites one of its fields needs no LevelDB table read (~10 us).
    field = b"f:%012d" % 999_999
    element_key = keys.element_prefix(1, 1, b"bench:hash:big", 1 << 24)
    element_key += struct.pack(">I", binascii.crc32(field)) + field
    default = StoreOptions().value_cache_bytes
    assert 1_000_000 * entry_size(element_key, b"x" * 100) <= default
    assert StorageSection().value_cache_bytes == default


# --- a model check: a cache complete from the start, tiny (constant eviction) or not, reads
# exactly what no cache reads

value_op = st.one_of(
    st.tuples(st.just("put"), st.integers(0, 9), st.binary(max_size=40)),
    st.tuples(st.just("delete"), st.integers(0, 9), st.just(b"")),
    st.tuples(st.just("clear"), st.just(0), st.just(b"")),
    st.tuples(st.just("get"), st.integers(0, 9), st.just(b"")),
)


# A put of a record too large for the tiny cache (it ends completeness: drawn apart, so
# that evictions end it first in the other draws).
too_large = st.tuples(st.just("put"), st.integers(0, 9), st.binary(min_size=500, max_size=501))


@pytest.mark.parametrize("budget", [3 * (ENTRY_OVERHEAD + 50), 1 << 20])
@pytest.mark.parametrize("op", [value_op, st.one_of(value_op, too_large)], ids=["", "too-large"])
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_cached_reads_match_the_model(
    tmp_path_factory: pytest.TempPathFactory,
    budget: int,
    op: st.SearchStrategy[tuple[str, int, bytes]],
    data: st.DataObject,
) -> None:
    writes = data.draw(st.lists(st.lists(op, min_size=1, max_size=5), min_size=1, max_size=12))
    path = tmp_path_factory.mktemp("cache") / "db"
    model: dict[bytes, StoredValue] = {}
    with Store.open(path, StoreOptions(value_cache_bytes=budget)) as store:
        assert store.cache_if_empty(1)  # complete until a record leaves the cache
        for ops in writes:
            batch = WriteBatch()
            staged = dict(model)
            for name, n, data in ops:
                key = b"key%d" % n
                if name == "put":
                    batch.put_value(1, key, value(data))
                    staged[key] = value(data)
                elif name == "delete":
                    batch.delete_value(1, key)
                    staged.pop(key, None)
                elif name == "clear":
                    batch.clear_values(1)
                    staged.clear()
                else:
                    assert store.get_value(1, key) == model.get(key)
            store.write(batch)
            model = staged
            for n in range(10):
                key = b"key%d" % n
                assert store.get_value(1, key) == model.get(key)
        assert store.value_cache.size_bytes <= store.value_cache.max_bytes
