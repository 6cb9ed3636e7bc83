"""A Raft group's log storage over the node's Store, and the Ready -> WriteBatch translation.

`RaftLogStore` implements the Raft core's `LogStorage` protocol for one group (0 = system,
>= 1 = data) on top of `seshat_trio.storage.Store`. It reads what earlier Readys persisted:
hard state, snapshot meta (index 0 = bootstrap, carrying the initial membership) and the log
entries after the snapshot. The core never writes storage: the driver turns each Ready into
ONE `WriteBatch` with `ready_batch`, makes it durable, then calls `persisted(ready)` so the
in-memory copies here follow.

Rules this module lives by:
- Caches only move in `persisted`, i.e. after the write succeeded: the core must never read
  back something that is not on disk.
- The log holds exactly `snapshot.index + 1 .. last` (the store's floor is always
  `snapshot.index + 1`: compaction and snapshot install move both in one batch).
- A small tail cache of recently persisted entries serves the leader's re-sends and the
  committed-entry reads without a LevelDB read and a Cap'n Proto decode per entry.
"""

from __future__ import annotations

from seshat_trio.raft import (
    CompactedError,
    Entry,
    EntryKind,
    HardState,
    Membership,
    Ready,
    SnapshotMeta,
    UnavailableError,
)
from seshat_trio.raft.storage import take_within_budget
from seshat_trio.storage import HardState as StoredHardState
from seshat_trio.storage import LogRecord, Store, WriteBatch
from seshat_trio.storage import SnapshotMeta as StoredSnapshotMeta

# Tail cache bounds: whichever is reached first. Past one, the cache is cut to 7/8 of both:
# cutting to the bound itself dropped an entry or two per round, each drop moving the whole
# list (~4,000 pointers) in memory.
TAIL_CACHE_ENTRIES = 4096
TAIL_CACHE_BYTES = 8 << 20


def to_record(entry: Entry) -> LogRecord:
    return LogRecord(index=entry.index, term=entry.term, kind=int(entry.kind), data=entry.data)


def from_record(record: LogRecord) -> Entry:
    return Entry(
        term=record.term, index=record.index, kind=EntryKind(record.kind), data=record.data
    )


def to_stored_meta(meta: SnapshotMeta) -> StoredSnapshotMeta:
    return StoredSnapshotMeta(
        index=meta.index,
        term=meta.term,
        voters=tuple(sorted(meta.membership.voters)),
        learners=tuple(sorted(meta.membership.learners)),
    )


def from_stored_meta(meta: StoredSnapshotMeta) -> SnapshotMeta:
    membership = Membership(voters=frozenset(meta.voters), learners=frozenset(meta.learners))
    return SnapshotMeta(index=meta.index, term=meta.term, membership=membership)


def ready_batch(group: int, ready: Ready) -> WriteBatch:
    """Every write `ready` asks for, as one batch, in the order the Ready contract gives.

    Snapshot install: the whole log is replaced (the core only installs a snapshot whose
    last entry it does not hold), so the log is emptied and its floor set past the
    snapshot; entries that arrived after the offer follow in the same batch. Entries:
    the stored suffix from `entries[0].index` is dropped before appending. Compaction: drop
    the prefix and record the meta the log now starts after (skipped when an install in
    the same Ready already moved past it). The application data of an install is not here:
    the driver hands this batch to the installer, which writes both in one LevelDB write.
    """
    batch = WriteBatch()
    floor = 0
    if ready.snapshot is not None:
        meta = ready.snapshot
        batch.truncate_log_from(group, meta.index + 1)
        batch.truncate_log_before(group, meta.index + 1)
        batch.put_snapshot_meta(group, to_stored_meta(meta))
        floor = meta.index
    if ready.entries:
        batch.truncate_log_from(group, ready.entries[0].index)
        batch.append_log(group, [to_record(entry) for entry in ready.entries])
    if ready.hard_state is not None:
        hs = ready.hard_state
        batch.put_hard_state(group, StoredHardState(term=hs.term, vote=hs.vote, commit=hs.commit))
    if ready.compact is not None and ready.compact.index > floor:
        batch.truncate_log_before(group, ready.compact.index + 1)
        batch.put_snapshot_meta(group, to_stored_meta(ready.compact))
    return batch


class RaftLogStore:
    """`LogStorage` for one group of a Store (see the module docstring)."""

    def __init__(self, store: Store, group: int, initial_membership: Membership) -> None:
        """Load the group's persisted Raft state. A group never written before starts at the
        bootstrap snapshot (index 0, term 0) with `initial_membership` (empty for a node that
        joins later), recorded synced so a restart never depends on configuration again."""
        self._store = store
        self._group = group
        stored = store.snapshot_meta(group)
        if stored is None:
            self._snapshot = SnapshotMeta(index=0, term=0, membership=initial_membership)
            batch = WriteBatch()
            batch.put_snapshot_meta(group, to_stored_meta(self._snapshot))
            store.write(batch, sync=True)
        else:
            self._snapshot = from_stored_meta(stored)
        hs = store.hard_state(group)
        self._hard_state = HardState(term=hs.term, vote=hs.vote, commit=hs.commit)
        self._tail: list[Entry] = []  # consecutive persisted entries, newest last
        self._tail_bytes = 0
        # The store's last log index, read once and then followed in `persisted` (the core
        # asks ~25 times per round; the store's answer takes its log-state lookup each time).
        self._last = max(store.last_log_index(group), self._snapshot.index)

    @property
    def group(self) -> int:
        return self._group

    # -- LogStorage -----------------------------------------------------------------------
    def hard_state(self) -> HardState:
        return self._hard_state

    def snapshot_meta(self) -> SnapshotMeta:
        return self._snapshot

    def first_index(self) -> int:
        return self._snapshot.index + 1

    def last_index(self) -> int:
        return self._last

    def term(self, index: int) -> int:
        if index == self._snapshot.index:
            return self._snapshot.term
        self._check_range(index, index + 1)
        cached = self._cached(index)
        if cached is not None:
            return cached.term
        (record,) = self._store.log_entries(self._group, index, index + 1)
        return record.term

    def entries(self, lo: int, hi: int, max_bytes: int | None) -> list[Entry]:
        self._check_range(lo, hi)
        if lo >= hi:
            return []
        if self._tail and self._tail[0].index <= lo:
            start = lo - self._tail[0].index
            cached = self._tail[start : hi - self._tail[0].index]
            if len(cached) == hi - lo:
                return take_within_budget(cached, max_bytes)
        # The store cuts on encoded sizes; the cut on the core's own measure is exact.
        records = self._store.log_entries(self._group, lo, hi, max_bytes)
        return take_within_budget([from_record(r) for r in records], max_bytes)

    def _check_range(self, lo: int, hi: int) -> None:
        if lo < self.first_index():
            raise CompactedError(
                f"group {self._group}: index {lo} is compacted (first index {self.first_index()})"
            )
        last = self.last_index()
        if hi > last + 1 or lo > hi:
            raise UnavailableError(
                f"group {self._group}: range [{lo}, {hi}) is beyond last index {last}"
            )

    def _cached(self, index: int) -> Entry | None:
        if self._tail and self._tail[0].index <= index <= self._tail[-1].index:
            return self._tail[index - self._tail[0].index]
        return None

    # -- after a Ready's batch is durable ---------------------------------------------------
    def persisted(self, ready: Ready) -> None:
        """Follow the writes of `ready`'s batch (call only after it was written)."""
        if ready.snapshot is not None:
            # The batch emptied the log up to the snapshot (`ready_batch`).
            self._snapshot = ready.snapshot
            self._last = ready.snapshot.index
            self._tail, self._tail_bytes = [], 0
        if ready.entries:
            # The stored suffix from the first entry was replaced.
            self._last = ready.entries[-1].index
            self._cache_entries(ready.entries)
        if ready.hard_state is not None:
            self._hard_state = ready.hard_state
        if ready.compact is not None and ready.compact.index > self._snapshot.index:
            # Only applied entries are compacted: the last one stays.
            self._snapshot = ready.compact
            if self._tail:
                self._drop_front(ready.compact.index + 1 - self._tail[0].index)

    def _cache_entries(self, entries: tuple[Entry, ...]) -> None:
        first = entries[0].index
        if self._tail and self._tail[0].index <= first <= self._tail[-1].index + 1:
            # A suffix replaced by a new leader's entries, or plain appending.
            keep = first - self._tail[0].index
            self._tail_bytes -= sum(entry.size() for entry in self._tail[keep:])
            del self._tail[keep:]
        else:
            self._tail, self._tail_bytes = [], 0
        self._tail.extend(entries)
        self._tail_bytes += sum(entry.size() for entry in entries)
        if len(self._tail) > TAIL_CACHE_ENTRIES or self._tail_bytes > TAIL_CACHE_BYTES:
            self._drop_front(len(self._tail) - TAIL_CACHE_ENTRIES * 7 // 8)
            drop, over = 0, self._tail_bytes - TAIL_CACHE_BYTES * 7 // 8
            while over > 0 and drop < len(self._tail) - 1:
                over -= self._tail[drop].size()
                drop += 1
            self._drop_front(drop)

    def _drop_front(self, count: int) -> None:
        count = max(0, min(count, len(self._tail)))
        self._tail_bytes -= sum(entry.size() for entry in self._tail[:count])
        del self._tail[:count]
