"""Turns a WriteBatch into one LevelDB write, given what the store holds right now.

Some operations depend on the store's state: a log append must follow the last stored index,
a truncation deletes whatever lies in its range, clearing values flips the group's value
generation. A `Translation` keeps a per-group view of the log and of the generation that
starts from the store's caches and moves with every operation, so a merged batch gives the
same result as its parts written one after another. The store's caches change only in
`publish`, called after the LevelDB write succeeded: a failed write leaves them untouched.

Dropping a collection's elements and clearing a group's values write *garbage records*
(a LevelDB range to delete, docs/storage.md "Garbage") instead of deleting: O(1) here, the
store's sweep deletes the range later in bounded steps.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from seshat_trio.storage import keys
from seshat_trio.storage.batch import (
    AppendLog,
    ClearValues,
    DeleteElement,
    DeleteSystem,
    DeleteValue,
    DropElements,
    Operation,
    PutApplied,
    PutElement,
    PutHardState,
    PutSnapshotMeta,
    PutSystem,
    PutValues,
    TruncateLogBefore,
    TruncateLogFrom,
    WriteElements,
)
from seshat_trio.storage.errors import StorageError
from seshat_trio.storage.records import (
    encode_counter,
    encode_hard_state,
    encode_log_record,
    encode_snapshot_meta,
    encode_stored_value,
)


@attrs.define(slots=True)
class LogState:
    """What the store caches about one group's log.

    Entries are exactly the indexes floor..last (empty when last == floor - 1). `size` is the
    sum of key and value bytes of those entries, or None until someone asks for it.
    """

    floor: int
    last: int
    size: int | None


@attrs.define(slots=True)
class _LogView:
    """A group's log as this translation has left it so far."""

    floor: int
    db_last: int  # entries floor..db_last are in LevelDB and not yet deleted by this write
    size_known: bool
    added: dict[int, int] = attrs.field(factory=dict)  # index -> bytes; all above db_last
    added_last: int = 0
    size_delta: int = 0

    @property
    def last(self) -> int:
        return self.added_last if self.added else self.db_last


class Translation:
    """One write in the making: `add` operations in order, each putting its records into
    LevelDB's write batch `out`; once `out` is written, `publish`."""

    def __init__(
        self,
        db: Any,
        out: Any,
        *,
        load_log: Callable[[int], LogState],
        load_generation: Callable[[int], int],
        load_highest_generation: Callable[[int], int],
        meta_keys: dict[bytes, bytes],
    ) -> None:
        self._db = db
        # LevelDB's batch methods, bound: every record of every write goes through one.
        self._put = out.put
        self._delete = out.delete
        self._load_log = load_log
        self._load_generation = load_generation
        self._load_highest = load_highest_generation
        self._meta_keys = meta_keys  # metadata LevelDB keys by cache key, already computed
        self._logs: dict[int, _LogView] = {}
        self._generations: dict[int, int] = {}
        self._highest: dict[int, int] = {}
        self._prefixes: dict[int, tuple[bytes, bytes]] = {}
        # Data records written, by value cache key (None: deleted), for the store's cache.
        self.values: list[tuple[bytes, bytes | None]] = []
        # Cache keys of records written uncached: the cache forgets any entry it has.
        self.uncached: list[bytes] = []
        # Groups whose value generation changed (the value cache forgets everything).
        self.regenerated: set[int] = set()
        # Groups left on a new, empty generation (FLUSHALL): the cache may answer for them.
        self.emptied: set[int] = set()
        self.garbage = False  # whether this write adds garbage records

    def _log(self, group: int) -> _LogView:
        view = self._logs.get(group)
        if view is None:
            state = self._load_log(group)
            known = state.size is not None
            view = _LogView(floor=state.floor, db_last=state.last, size_known=known)
            self._logs[group] = view
        return view

    def _generation(self, group: int) -> int:
        generation = self._generations.get(group)
        if generation is None:
            generation = self._generations[group] = self._load_generation(group)
        return generation

    def _value_prefixes(self, group: int) -> tuple[bytes, bytes]:
        """The LevelDB key prefix and value cache key prefix of the group's metadata."""
        prefixes = self._prefixes.get(group)
        if prefixes is None:
            prefixes = self._prefixes[group] = keys.meta_prefixes(group, self._generation(group))
        return prefixes

    def highest_generation(self, group: int) -> int:
        """The highest generation that may hold records of `group` (current, staged or
        garbage not yet swept): a flip always goes above it, onto an empty generation."""
        highest = self._highest.get(group)
        if highest is None:
            highest = self._highest[group] = self._load_highest(group)
        return highest

    def allocate_generation(self, group: int) -> int:
        generation = self.highest_generation(group) + 1
        self._highest[group] = generation
        return generation

    def set_generation(self, group: int, generation: int) -> None:
        """Point the group's values at `generation` (clear and snapshot install); the
        generation it leaves becomes garbage."""
        old = self._generation(group)
        self._generations[group] = generation
        self._prefixes.pop(group, None)
        self._highest[group] = max(self.highest_generation(group), generation)
        self.regenerated.add(group)
        self.emptied.discard(group)  # a snapshot's flip: the generation holds its records
        self._put(keys.state_key(group, keys.VALUE_GENERATION), encode_counter(generation))
        if old != generation:
            self.add_garbage(group, keys.generation_prefix(group, old))

    def add_garbage(self, group: int, prefix: bytes) -> None:
        """Every LevelDB key starting with `prefix` is garbage: the sweep deletes them."""
        self._put(keys.garbage_key(group, prefix), keys.prefix_end(prefix))
        self.garbage = True

    def add_all(self, ops: Iterable[Operation]) -> None:
        for op in ops:
            self.add(op)

    def add(self, op: Operation) -> None:
        # By the operation's type: a `match` over class patterns tried every case in turn
        # (~1-3 us for the Raft bookkeeping at its end), and every write comes here.
        _HANDLERS[type(op)](self, op)

    def _write_elements(self, op: WriteElements) -> None:
        prefix = keys.element_prefix(op.group, self._generation(op.group), op.key, op.version)
        put, delete = self._put, self._delete
        records = [(prefix + suffix, value) for suffix, value in op.changes]
        uncached = [(prefix + suffix, value) for suffix, value in op.uncached]
        for full_key, value in itertools.chain(records, uncached):
            if value is None:
                delete(full_key)
            else:
                put(full_key, value)
        self.values += records
        self.uncached += [full_key for full_key, _ in uncached]

    def _put_element(self, op: PutElement) -> None:
        full_key = keys.element_prefix(op.group, self._generation(op.group), op.key, op.version)
        full_key += op.suffix
        self._put(full_key, op.value)
        self.values.append((full_key, op.value))

    def _put_hard_state(self, op: PutHardState) -> None:
        self._put(keys.state_key(op.group, keys.HARD_STATE), encode_hard_state(op.state))

    def _put_applied(self, op: PutApplied) -> None:
        self._put(keys.state_key(op.group, keys.APPLIED), encode_counter(op.index))

    def _put_snapshot_meta(self, op: PutSnapshotMeta) -> None:
        self._put(keys.state_key(op.group, keys.SNAPSHOT_META), encode_snapshot_meta(op.meta))

    def _delete_value(self, op: DeleteValue) -> None:
        prefix, cache_prefix = self._value_prefixes(op.group)
        self._delete(prefix + keys.meta_suffix(op.key))
        self.values.append((cache_prefix + op.key, None))

    def _delete_element(self, op: DeleteElement) -> None:
        full_key = keys.element_prefix(op.group, self._generation(op.group), op.key, op.version)
        full_key += op.suffix
        self._delete(full_key)
        self.values.append((full_key, None))

    def _drop_elements(self, op: DropElements) -> None:
        group = op.group
        self.add_garbage(
            group, keys.element_prefix(group, self._generation(group), op.key, op.version)
        )

    def _clear_values(self, op: ClearValues) -> None:
        self.set_generation(op.group, self.allocate_generation(op.group))
        self.emptied.add(op.group)  # allocated above every generation in use: empty

    def _put_system(self, op: PutSystem) -> None:
        self._put(keys.system_key(op.group, op.name), op.data)

    def _delete_system(self, op: DeleteSystem) -> None:
        self._delete(keys.system_key(op.group, op.name))

    def _put_values(self, op: PutValues) -> None:
        prefix, cache_prefix = self._value_prefixes(op.group)
        # Locals bound: every value written comes here.
        meta_keys, suffix, encode = self._meta_keys, keys.meta_suffix, encode_stored_value
        put, remember = self._put, self.values.append
        for key, value in op.values:
            record = encode(value)
            cache_key = cache_prefix + key
            # (`meta_keys` is empty where the value cache is complete: no `pop` call then.)
            kept = meta_keys.pop(cache_key, None) if meta_keys else None
            full_key = kept or prefix + suffix(key)
            put(full_key, record)
            remember((cache_key, record))

    def _append(self, op: AppendLog) -> None:
        group, records = op.group, op.records
        view = self._log(group)
        expected = view.last + 1
        if records[0].index != expected:
            raise StorageError(
                f"log append to group {group} starts at index {records[0].index}, "
                f"expected {expected} (first {view.floor}, last {view.last})"
            )
        for record in records:
            key = keys.log_key(group, record.index)
            value = encode_log_record(record)
            self._put(key, value)
            view.added[record.index] = len(key) + len(value)
            view.size_delta += len(key) + len(value)
        view.added_last = records[-1].index

    def _drop_added(self, view: _LogView, group: int, keep: Callable[[int], bool]) -> None:
        for index in [i for i in view.added if not keep(i)]:
            view.size_delta -= view.added.pop(index)
            self._delete(keys.log_key(group, index))

    def _drop_stored(self, view: _LogView, group: int, lo: int, hi: int) -> None:
        """Delete entries lo..hi (inclusive) that are in LevelDB, keeping the size exact."""
        if lo > hi:
            return
        if not view.size_known:
            for index in range(lo, hi + 1):
                self._delete(keys.log_key(group, index))
            return
        for key, value in self._db.iterator(
            start=keys.log_key(group, lo), stop=keys.log_key(group, hi), include_stop=True
        ):
            view.size_delta -= len(key) + len(value)
            self._delete(key)

    def _truncate_from(self, op: TruncateLogFrom) -> None:
        group, index = op.group, op.index
        view = self._log(group)
        index = max(index, view.floor)
        self._drop_added(view, group, lambda i: i < index)
        if view.added:
            view.added_last = min(view.added_last, index - 1)
        if index <= view.db_last:
            self._drop_stored(view, group, index, view.db_last)
            view.db_last = index - 1

    def _truncate_before(self, op: TruncateLogBefore) -> None:
        group, index = op.group, op.index
        view = self._log(group)
        if index <= view.floor:
            return
        self._drop_stored(view, group, view.floor, min(index - 1, view.db_last))
        self._drop_added(view, group, lambda i: i >= index)
        view.floor = index
        view.db_last = max(view.db_last, index - 1)
        self._put(keys.state_key(group, keys.LOG_FLOOR), encode_counter(index))

    def publish(
        self, logs: dict[int, LogState], generations: dict[int, int], highest: dict[int, int]
    ) -> None:
        """Move the store's caches to the state this (successfully written) translation made."""
        for group, view in self._logs.items():
            state = logs[group]
            state.floor = view.floor
            state.last = view.last
            if state.size is not None:
                state.size += view.size_delta
        generations.update(self._generations)
        highest.update(self._highest)


_HANDLERS: dict[type[Any], Callable[[Translation, Any], None]] = {
    PutValues: Translation._put_values,
    WriteElements: Translation._write_elements,
    PutElement: Translation._put_element,
    AppendLog: Translation._append,
    TruncateLogFrom: Translation._truncate_from,
    TruncateLogBefore: Translation._truncate_before,
    PutHardState: Translation._put_hard_state,
    PutApplied: Translation._put_applied,
    PutSnapshotMeta: Translation._put_snapshot_meta,
    DeleteValue: Translation._delete_value,
    DeleteElement: Translation._delete_element,
    DropElements: Translation._drop_elements,
    ClearValues: Translation._clear_values,
    PutSystem: Translation._put_system,
    DeleteSystem: Translation._delete_system,
}
