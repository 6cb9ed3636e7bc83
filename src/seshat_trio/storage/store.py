"""Store: one LevelDB per node, typed reads and atomic batch writes (see docs/storage.md).

Threading: `write` may run in a worker thread (group commit) while the event loop reads.
Writes, cache loads and install bookkeeping hold one lock; plain reads go to the value
cache (value_cache.py, which says why it needs no lock) and then to LevelDB, which is
thread-safe. Caches (per-group log bounds and size, value generation) only
move after a write succeeded, so a failed write changes nothing. After a failed write the
store reopens LevelDB before the next write: LevelDB may refuse every write after an I/O
error until reopened, and reopening replays its log, so the store recovers once the
condition (a full disk, say) clears.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import attrs
import plyvel

from seshat_trio.storage import keys
from seshat_trio.storage.batch import WriteBatch
from seshat_trio.storage.errors import DB_ERRORS, StorageError, translate
from seshat_trio.storage.keys import EVERY_ELEMENT, Span
from seshat_trio.storage.migrate import migrate_layout
from seshat_trio.storage.records import (
    HardState,
    LogRecord,
    SnapshotMeta,
    StoredValue,
    decode_counter,
    decode_hard_state,
    decode_log_record,
    decode_snapshot_meta,
    decode_store_meta,
    decode_stored_value,
    encode_store_meta,
    stored_version_of,
)
from seshat_trio.storage.snapshot import ValueInstaller, ValueSnapshot
from seshat_trio.storage.translate import LogState, Translation
from seshat_trio.storage.value_cache import MISSING, ValueCache

# Format 3: the data record layout of keys.py (slot, metadata and element records) and
# StoredValue version 3. Builds of format 2 cannot read it, so they refuse the store at open.
# A format 1 or 2 store is migrated when this build opens it (storage/migrate.py).
FORMAT_VERSION = 3

T = TypeVar("T")
# Metadata LevelDB keys kept for the next write (see Store._meta_keys).
_META_KEYS_KEPT = 4096


# LevelDB tuning, measured on the apply path (docs/performance.md, round 3): every L0 table
# overlaps the value keys (log entries and values share one LevelDB), so without Bloom filters
# a lookup probes each of them; a larger memtable keeps recent values out of the tables.
_BLOOM_BITS_PER_KEY = 10


@attrs.frozen
class StoreOptions:
    """Memory the store may use for caching (config section [storage])."""

    block_cache_bytes: int = 32 << 20
    # Holds about 1.2 million records of ~100 bytes (a 1,000,000-field hash): reading a
    # record from a LevelDB table costs several times a hit (docs/storage.md, "Value cache").
    value_cache_bytes: int = 320 << 20
    # The memtable: LevelDB holds up to twice this while one is written to a table.
    write_buffer_bytes: int = 32 << 20


def _open_db(path: Path, options: StoreOptions) -> Any:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return plyvel.DB(
            str(path),
            create_if_missing=True,
            bloom_filter_bits=_BLOOM_BITS_PER_KEY,
            write_buffer_size=options.write_buffer_bytes,
            lru_cache_size=options.block_cache_bytes,
        )
    except DB_ERRORS as exc:
        raise translate(exc, "open", path) from exc


class Store:
    """A node's storage. Use `Store.open(path)`; close it (or use it as a context manager)."""

    def __init__(self, path: Path, db: Any, options: StoreOptions = StoreOptions()) -> None:
        self.path = path
        self._db = db
        self._options = options
        self.value_cache = ValueCache(options.value_cache_bytes)
        self._lock = threading.RLock()
        self._logs: dict[int, LogState] = {}
        self._generations: dict[int, int] = {}
        self._highest: dict[int, int] = {}
        # LevelDB keys of metadata records read on a cache miss, by cache key: the write that
        # usually follows (the same apply run's batch) takes them instead of computing the
        # slot and checksum again. A dict, bounded; whatever is missing is computed.
        self._meta_keys: dict[bytes, bytes] = {}
        self._installing: set[int] = set()
        self._needs_reopen = False
        # Whether garbage records may exist (the sweep looks only then).
        self.garbage_pending = True

    @classmethod
    def open(cls, path: Path, options: StoreOptions = StoreOptions()) -> Store:
        """Open (creating if missing) the store at `path`; refuses newer store formats."""
        db = _open_db(path, options)
        try:
            _check_format(db, path)
            store = cls(path, db, options)
            store._collect_stale_generations()
        except BaseException:
            db.close()
            raise
        return store

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def leveldb_memory_bytes(self) -> int:
        """LevelDB's estimate of its own memory: memtables and block cache (no lock, as
        reads: a synced write holds the lock through its fsync)."""
        db = self._db
        value: bytes | None = self._guard(
            "read", lambda: db.get_property(b"leveldb.approximate-memory-usage")
        )
        return int(value) if value else 0

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _guard(self, action: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except DB_ERRORS as exc:
            raise translate(exc, action, self.path) from exc

    def _write_failed(self, exc: Exception, action: str = "write") -> StorageError:
        """The error for a failed LevelDB write; the handle is reopened before the next one
        (a failed write may leave it unusable)."""
        self._needs_reopen = True
        return translate(exc, action, self.path)

    def _get(self, key: bytes, db: Any = None) -> bytes | None:
        source = self._db if db is None else db
        value: bytes | None = self._guard("read", lambda: source.get(key))
        return value

    # --- writes --------------------------------------------------------------------------

    def write(self, batch: WriteBatch, sync: bool = False) -> None:
        """Apply `batch` atomically; with sync=True it is on disk when this returns."""
        self._commit(batch, sync, None)

    def _commit(self, batch: WriteBatch | None, sync: bool, flip: tuple[int, int] | None) -> None:
        with self._lock:
            if self._needs_reopen:
                self._reopen()
            try:
                wb = self._db.write_batch(sync=sync)
            except DB_ERRORS as exc:
                raise self._write_failed(exc) from exc
            # The translation puts its records straight into LevelDB's batch, which is
            # written only if the whole translation succeeded (dropped otherwise).
            translation = Translation(
                self._db,
                wb,
                load_log=self._log_state,
                load_generation=self._generation,
                load_highest_generation=self._highest_generation,
                meta_keys=self._meta_keys,
            )
            if flip is not None:
                translation.set_generation(*flip)
            if batch is not None:
                self._guard("prepare write", lambda: translation.add_all(batch))
            try:
                wb.write()
            except DB_ERRORS as exc:
                raise self._write_failed(exc) from exc
            translation.publish(self._logs, self._generations, self._highest)
            if translation.regenerated:
                self.value_cache.clear()
            for group in translation.emptied:  # before its records of this write are put
                self.value_cache.complete(keys.meta_prefixes(group, self._generations[group])[1])
            self.value_cache.put_all(translation.values)
            if translation.uncached:
                self.value_cache.forget(translation.uncached)
            self.garbage_pending |= translation.garbage

    def _reopen(self) -> None:
        # A write reported as failed may still be in LevelDB's log and replayed by the open:
        # no cached value may outlive the old handle (nor be served while none is open), and
        # a read of the old handle must not fill the cache after the new one is open.
        self.value_cache.clear()
        self._db.close()
        self._db = _open_db(self.path, self._options)
        self._logs.clear()
        self._generations.clear()
        self._highest.clear()
        self.value_cache.clear()
        self._needs_reopen = False
        self.garbage_pending = True

    # --- log -----------------------------------------------------------------------------

    def _edge_key(self, prefix: bytes, *, last: bool) -> bytes | None:
        """The first (or, with `last`, the last) LevelDB key under `prefix`, None when there
        is none: one seek."""

        def seek() -> bytes | None:
            with self._db.iterator(prefix=prefix, reverse=last, include_value=False) as it:
                return next(it, None)

        return self._guard("read", seek)

    def _log_state(self, group: int) -> LogState:
        state = self._logs.get(group)
        if state is not None:
            return state
        with self._lock:
            state = self._logs.get(group)
            if state is None:
                raw = self._get(keys.state_key(group, keys.LOG_FLOOR))
                floor = 1 if raw is None else decode_counter(raw)
                key = self._edge_key(keys.log_prefix(group), last=True)
                last = floor - 1 if key is None else keys.log_index(key)
                state = self._logs[group] = LogState(floor=floor, last=last, size=None)
            return state

    def first_log_index(self, group: int) -> int:
        """The first index in the log (last + 1 when the log is empty; 1 for a new group)."""
        return self._log_state(group).floor

    def last_log_index(self, group: int) -> int:
        """The last index in the log (first - 1 when the log is empty)."""
        return self._log_state(group).last

    def log_size_bytes(self, group: int) -> int:
        """Bytes (keys + encoded records) of the group's log; computed once, then maintained.

        Once known it is read without the lock, like the log bounds: the driver asks after
        every Ready, and the lock is held by the group committer's thread for a whole synced
        write, so with several groups the event loop would stall for another group's fsync.
        """
        state = self._log_state(group)
        if state.size is not None:
            return state.size
        with self._lock:
            if state.size is None:
                prefix = keys.log_prefix(group)

                def scan() -> int:
                    return sum(len(k) + len(v) for k, v in self._db.iterator(prefix=prefix))

                state.size = self._guard("read", scan)
            return state.size

    def log_entries(
        self, group: int, lo: int, hi: int, max_bytes: int | None = None
    ) -> list[LogRecord]:
        """Entries with lo <= index < hi in order; with max_bytes, stop once the encoded
        records reach it (at least one entry is returned if any is in range)."""
        if lo >= hi:
            return []

        def read() -> list[LogRecord]:
            records: list[LogRecord] = []
            total = 0
            for _, value in self._db.iterator(
                start=keys.log_key(group, lo), stop=keys.log_key(group, hi)
            ):
                total += len(value)
                if max_bytes is not None and records and total > max_bytes:
                    break
                records.append(decode_log_record(value))
            return records

        return self._guard("read", read)

    # --- raft state and system data ------------------------------------------------------

    def hard_state(self, group: int) -> HardState:
        raw = self._get(keys.state_key(group, keys.HARD_STATE))
        return HardState(term=0, vote=0, commit=0) if raw is None else decode_hard_state(raw)

    def applied(self, group: int, db: Any = None) -> int:
        """The applied index (0 if never set); `db` may be a LevelDB snapshot."""
        raw = self._get(keys.state_key(group, keys.APPLIED), db)
        return 0 if raw is None else decode_counter(raw)

    def snapshot_meta(self, group: int, db: Any = None) -> SnapshotMeta | None:
        """The latest snapshot metadata, if any; `db` may be a LevelDB snapshot."""
        raw = self._get(keys.state_key(group, keys.SNAPSHOT_META), db)
        return None if raw is None else decode_snapshot_meta(raw)

    def get_system(self, group: int, name: str) -> bytes | None:
        return self._get(keys.system_key(group, name))

    def system_records(self, group: int) -> dict[str, bytes]:
        """Every system record of `group`, by name."""
        prefix = keys.group_prefix(keys.SYSTEM_DATA, group)

        def scan() -> dict[str, bytes]:
            return {
                key[len(prefix) :].decode("utf-8"): value
                for key, value in self._db.iterator(prefix=prefix)
            }

        return self._guard("read", scan)

    # --- values --------------------------------------------------------------------------

    def _load_generation(self, group: int, db: Any = None) -> int:
        raw = self._get(keys.state_key(group, keys.VALUE_GENERATION), db)
        return 0 if raw is None else decode_counter(raw)

    def _generation(self, group: int) -> int:
        generation = self._generations.get(group)
        if generation is None:
            # Under the lock so a concurrent write cannot publish a newer generation
            # between our read and our cache fill.
            with self._lock:
                generation = self._generations.get(group)
                if generation is None:
                    generation = self._generations[group] = self._load_generation(group)
        return generation

    def _load_highest(self, group: int) -> int:
        """The current generation or the highest one with records, if higher (staged or
        garbage): found by one backward seek."""
        key = self._edge_key(keys.values_prefix(group), last=True)
        present = 0 if key is None else keys.generation_of(key)
        return max(self._generation(group), present)

    def _highest_generation(self, group: int) -> int:
        highest = self._highest.get(group)
        if highest is None:
            highest = self._highest[group] = self._load_highest(group)
        return highest

    def cache_if_empty(self, group: int) -> bool:
        """If the group holds no value (a new group), let the value cache answer for all of
        its keys from now on (value_cache.py, "Complete prefixes"); whether it did."""
        with self._lock:  # no write between the look and the word
            generation = self._generation(group)
            if self._edge_key(keys.generation_prefix(group, generation), last=False) is not None:
                return False
            self.value_cache.complete(keys.meta_prefixes(group, generation)[1])
            return True

    def get_value(self, group: int, key: bytes) -> StoredValue | None:
        """The metadata record of `key` (for a string, its value)."""
        prefix, cache_prefix = keys.meta_prefixes(group, self._generation(group))
        cache_key = cache_prefix + key
        cache = self.value_cache
        raw = cache.get(cache_key, cache_prefix)
        if raw is MISSING:  # the LevelDB key is only built on a miss (`_read_through`)
            version = cache.version
            raw = self._get(prefix + keys.meta_suffix(key))
            cache.fill(cache_key, raw, version)
        return None if raw is None else decode_stored_value(raw)

    def stored_versions(self, group: int, keys_: list[bytes]) -> list[int | None]:
        """For each key, in order: None if it has no metadata record, else its element
        version (0: a string). For the keys an apply run writes without reading them
        (plain SETs), in one call: nothing is decoded, and a LevelDB read does not fill the
        value cache (the write that follows puts the key there); the LevelDB key it built
        is kept for that write (`_meta_keys`). Where the cache is complete (value_cache.py)
        nothing is read from LevelDB."""
        prefix, cache_prefix = keys.meta_prefixes(group, self._generation(group))
        cache = self.value_cache
        meta_keys, meta_suffix, get = self._meta_keys, keys.meta_suffix, self._db.get
        cache_keys = [cache_prefix + key for key in keys_]
        cached = cache.peek_all(cache_keys)
        if cache.is_complete(cache_prefix):  # asked after the lookups (value_cache.py)
            cache.count(len(keys_), 0)
            return [
                None if hit is MISSING or hit is None else stored_version_of(hit) for hit in cached
            ]
        versions: list[int | None] = []
        append = versions.append
        hits = 0
        try:
            for key, cache_key, hit in zip(keys_, cache_keys, cached, strict=True):
                if hit is MISSING:
                    full_key = prefix + meta_suffix(key)
                    if len(meta_keys) >= _META_KEYS_KEPT:
                        meta_keys.clear()
                    meta_keys[cache_key] = full_key
                    raw = get(full_key)
                else:
                    hits += 1
                    raw = hit
                append(None if raw is None else stored_version_of(raw))
        except DB_ERRORS as exc:
            raise translate(exc, "read", self.path) from exc
        finally:
            cache.count(hits, len(versions) - hits)
        return versions

    def _read_through(self, full_key: bytes, cache_key: bytes) -> bytes | None:
        """A LevelDB read after a cache miss, filling the cache (see value_cache.py)."""
        cache = self.value_cache
        version = cache.version
        try:  # `_get`, inlined: every apply's element read after a miss comes here
            raw: bytes | None = self._db.get(full_key)
        except DB_ERRORS as exc:
            raise translate(exc, "read", self.path) from exc
        cache.fill(cache_key, raw, version)
        return raw

    def get_element(self, group: int, key: bytes, version: int, suffix: bytes) -> bytes | None:
        """One element record of the collection (key, version)."""
        full_key = keys.element_prefix(group, self._generation(group), key, version) + suffix
        raw = self.value_cache.get(full_key)
        return self._read_through(full_key, full_key) if raw is MISSING else raw

    def iter_values(self, group: int, start: int = 0) -> Iterator[tuple[bytes, StoredValue]]:
        """(key, metadata) pairs from position `start` on (keys.position), in position
        order, as of the call."""
        with self.value_snapshot(group) as snap:
            yield from snap.items(start)

    def iter_elements(
        self, group: int, key: bytes, version: int, span: Span = EVERY_ELEMENT
    ) -> Iterator[tuple[bytes, bytes]]:
        """(suffix, element) pairs of (key, version) in `span`, as of the call."""
        with self.value_snapshot(group) as snap:
            yield from snap.elements(key, version, span)

    def value_snapshot(self, group: int) -> ValueSnapshot:
        """A point-in-time view of a group's values and raft state (a context manager)."""
        keys.check_data_group(group)
        snapshot = self._guard("snapshot", self._db.snapshot)
        try:
            generation = self._load_generation(group, snapshot)
            return ValueSnapshot(
                db=snapshot,
                group=group,
                generation=generation,
                path=self.path,
                applied=self.applied(group, snapshot),
                meta=self.snapshot_meta(group, snapshot),
            )
        except BaseException:
            snapshot.close()
            raise

    # --- snapshot install (see ValueInstaller) -------------------------------------------

    def begin_install(self, group: int) -> ValueInstaller:
        """Start replacing a group's values from streamed chunks (a context manager).

        The values are staged under a generation above every one in use, which is empty."""
        keys.check_data_group(group)
        with self._lock:
            if group in self._installing:
                raise StorageError(f"a snapshot install into group {group} is already in progress")
            staging = self._highest[group] = self._highest_generation(group) + 1
            self._installing.add(group)
        return ValueInstaller(self, group, staging)

    def stage_values(self, group: int, generation: int, items: list[tuple[bytes, bytes]]) -> None:
        """Write data records (key suffix after the generation, record) under a staging
        generation, synced (ValueInstaller only)."""
        prefix = keys.generation_prefix(group, generation)
        with self._lock:
            if self._needs_reopen:
                self._reopen()
            try:
                with self._db.write_batch(sync=True) as wb:
                    for suffix, value in items:
                        wb.put(prefix + suffix, value)
            except DB_ERRORS as exc:
                raise self._write_failed(exc, "write snapshot chunk") from exc

    def finish_install(self, group: int, generation: int, batch: WriteBatch | None) -> None:
        """Flip the group to `generation` and apply `batch` in one synced write (installer only)."""
        try:
            self._commit(batch, True, (group, generation))
        finally:
            self.end_install(group)

    def end_install(self, group: int) -> None:
        with self._lock:
            self._installing.discard(group)

    def abort_install(self, group: int, generation: int) -> None:
        """The staged generation becomes garbage."""
        self.end_install(group)
        self._write_garbage([keys.generation_prefix(group, generation)], group)

    # --- garbage: ranges of records nobody reads any more (docs/storage.md, "Garbage") ----

    def _write_garbage(self, prefixes: list[bytes], group: int) -> None:
        with self._lock:
            if self._needs_reopen:
                self._reopen()
            try:
                with self._db.write_batch() as wb:
                    for prefix in prefixes:
                        wb.put(keys.garbage_key(group, prefix), keys.prefix_end(prefix))
            except DB_ERRORS as exc:
                raise self._write_failed(exc) from exc
            self.garbage_pending = True

    def sweep_garbage(self, max_keys: int = 1000) -> int:
        """Delete up to `max_keys` garbage records (one unsynced write); returns how many
        LevelDB keys it deleted or looked at, 0 once no garbage is left. A crash loses no
        garbage: the range's record moves forward in the same write as the deletions."""
        if not self.garbage_pending:
            return 0
        with self._lock:
            if self._needs_reopen:
                self._reopen()

            def step() -> int:
                with self._db.iterator(prefix=keys.DATA_RAFT_STATE) as records:
                    for record, stop in records:
                        if record[9:10] == keys.GARBAGE:
                            return self._sweep_range(record, stop, max_keys)
                self.garbage_pending = False
                return 0

            try:
                return self._guard("sweep garbage", step)
            except StorageError:
                self._needs_reopen = True
                raise

    def _sweep_range(self, record: bytes, stop: bytes, max_keys: int) -> int:
        start = record[10:]
        with self._db.iterator(start=start, stop=stop, include_value=False) as it:
            doomed = [key for _, key in zip(range(max_keys), it, strict=False)]
            following = next(it, None)
        with self._db.write_batch() as wb:
            for key in doomed:
                wb.delete(key)
            wb.delete(record)
            if following is not None:
                wb.put(record[:10] + following, stop)
        return len(doomed) + 1

    def _collect_stale_generations(self) -> None:
        """Every value generation but the current one is garbage (run at open: a crash may
        leave a staged install or a migration behind)."""
        end = keys.prefix_end(keys.DATA_KV)
        start = keys.DATA_KV
        while True:

            def next_key(start: bytes = start) -> bytes | None:
                with self._db.iterator(start=start, stop=end, include_value=False) as it:
                    return next(it, None)

            key = self._guard("read", next_key)
            if key is None:
                return
            group, generation = keys.group_of(key), keys.generation_of(key)
            prefix = keys.generation_prefix(group, generation)
            if generation != self._generation(group):
                self._write_garbage([prefix], group)
            start = keys.prefix_end(prefix)


def _check_format(db: Any, path: Path) -> None:
    def read_meta() -> bytes | None:
        raw: bytes | None = db.get(keys.META_FORMAT_KEY)
        if raw is None:
            with db.iterator(include_value=False) as it:
                if next(it, None) is not None:
                    raise StorageError(
                        f"{path} holds a LevelDB database without a seshat-trio meta record: "
                        "refusing to use it as a store"
                    )
            db.put(keys.META_FORMAT_KEY, encode_store_meta(FORMAT_VERSION), sync=True)
        return raw

    try:
        raw = read_meta()
    except DB_ERRORS as exc:
        raise translate(exc, "open", path) from exc
    if raw is not None:
        version = decode_store_meta(raw)
        if version > FORMAT_VERSION:
            raise StorageError(
                f"store {path} has format version {version}, newer than the supported format "
                f"version {FORMAT_VERSION}: upgrade seshat-trio to open it"
            )
        if version < FORMAT_VERSION:
            try:
                migrate_layout(db, encode_store_meta(FORMAT_VERSION))
            except DB_ERRORS as exc:
                raise translate(exc, "upgrade", path) from exc
