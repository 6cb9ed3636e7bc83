"""RaftLog: the stable log (read through LogStorage) plus the unstable tail kept in memory.

Rules this module lives by:
- Indexes `< offset` live in storage (durable); `[offset, last]` are unstable and reach storage
  only through a Ready followed by `stable_to`. A received snapshot is unstable too until
  `stable_snap_to`.
- Appending at an index <= an existing one replaces the suffix from there (the Ready's
  `entries[0].index` tells the driver where storage must truncate). Nothing at or below
  `committed` is ever replaced: trying to is a safety violation and raises.
- `term(i)` answers for first_index - 1 .. last_index and returns None elsewhere, so callers
  can tell "compacted or beyond" from a real term.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import islice

from seshat_trio.raft.errors import CompactedError, UnavailableError
from seshat_trio.raft.model import Entry, SnapshotMeta
from seshat_trio.raft.storage import LogStorage, take_within_budget


class RaftLog:
    def __init__(self, storage: LogStorage) -> None:
        self._storage = storage
        self._offset = storage.last_index() + 1
        self._unstable: list[Entry] = []
        self._unstable_snapshot: SnapshotMeta | None = None
        snapshot_index = storage.snapshot_meta().index
        self.committed = max(storage.hard_state().commit, snapshot_index)
        self.applied = snapshot_index

    # -- queries -------------------------------------------------------------------------
    def snapshot_meta(self) -> SnapshotMeta:
        return self._unstable_snapshot or self._storage.snapshot_meta()

    def first_index(self) -> int:
        if self._unstable_snapshot is not None:
            return self._unstable_snapshot.index + 1
        return self._storage.first_index()

    def last_index(self) -> int:
        if self._unstable:
            return self._unstable[-1].index
        if self._unstable_snapshot is not None:
            return self._unstable_snapshot.index
        return self._storage.last_index()

    def last_term(self) -> int:
        term = self.term(self.last_index())
        assert term is not None, "the last index always has a known term"
        return term

    def term(self, index: int) -> int | None:
        if index < self.first_index() - 1 or index > self.last_index():
            return None
        snap = self._unstable_snapshot
        if snap is not None and index == snap.index:
            return snap.term
        if index >= self._offset:
            return self._unstable[index - self._offset].term
        try:
            return self._storage.term(index)
        except (CompactedError, UnavailableError):
            return None

    def match_term(self, index: int, term: int) -> bool:
        return self.term(index) == term

    def is_up_to_date(self, last_index: int, last_term: int) -> bool:
        """Is a log ending at (last_index, last_term) at least as up to date as ours (5.4.1)?"""
        ours = self.last_term()
        return last_term > ours or (last_term == ours and last_index >= self.last_index())

    def slice(self, lo: int, hi: int, max_bytes: int | None) -> list[Entry]:
        """Entries [lo, hi) within max_bytes (never empty when lo < hi); CompactedError if
        lo is below the first index."""
        if lo < self.first_index():
            raise CompactedError(f"index {lo} is compacted (first index {self.first_index()})")
        hi = min(hi, self.last_index() + 1)
        if lo >= hi:
            return []
        out: list[Entry] = []
        if lo < self._offset:
            stable_hi = min(hi, self._offset)
            out = self._storage.entries(lo, stable_hi, max_bytes)
            if len(out) < stable_hi - lo or hi <= self._offset:
                return out
        tail = islice(self._unstable, max(lo, self._offset) - self._offset, hi - self._offset)
        if max_bytes is None:
            return out + list(tail)
        if not out:
            return take_within_budget(tail, max_bytes)
        budget = max_bytes - sum(entry.size() for entry in out)
        for entry in tail:
            budget -= entry.size()
            if budget < 0:
                break
            out.append(entry)
        return out

    def find_conflict(self, entries: Sequence[Entry]) -> int:
        """Index of the first entry that is new or disagrees with our log; 0 if none."""
        for entry in entries:
            if not self.match_term(entry.index, entry.term):
                return entry.index
        return 0

    def find_conflict_by_term(self, index: int, term: int) -> tuple[int, int]:
        """Largest (i, term(i)) with i <= index and term(i) <= term; (i, 0) if unknown below."""
        while True:
            found = self.term(index)
            if found is None:
                return index, 0
            if found <= term:
                return index, found
            index -= 1

    def unstable_entries(self) -> tuple[Entry, ...]:
        return tuple(self._unstable)

    def unstable_snapshot(self) -> SnapshotMeta | None:
        return self._unstable_snapshot

    def has_committed_to_apply(self) -> bool:
        return self.committed > max(self.applied, self.first_index() - 1)

    def committed_to_apply(self, max_bytes: int) -> list[Entry]:
        lo = max(self.applied, self.first_index() - 1) + 1
        if lo > self.committed:
            return []
        return self.slice(lo, self.committed + 1, max_bytes)

    # -- mutations -----------------------------------------------------------------------
    def append(self, entries: Sequence[Entry]) -> None:
        """Append, replacing any suffix starting at entries[0].index."""
        if not entries:
            return
        after = entries[0].index
        if after <= self.committed:
            raise AssertionError(f"append at {after} would overwrite committed {self.committed}")
        if after > self.last_index() + 1:
            raise AssertionError(f"append at {after} leaves a gap after {self.last_index()}")
        if after == self._offset + len(self._unstable):
            self._unstable.extend(entries)
        elif after <= self._offset:
            self._offset = after
            self._unstable = list(entries)
        else:
            self._unstable = self._unstable[: after - self._offset] + list(entries)

    def maybe_append(
        self, prev_index: int, prev_term: int, commit: int, entries: Sequence[Entry]
    ) -> int | None:
        """Follower side of AppendEntries: last index now known to match, or None on mismatch."""
        if not self.match_term(prev_index, prev_term):
            return None
        last_new = prev_index + len(entries)
        conflict = self.find_conflict(entries)
        if conflict:
            self.append(entries[conflict - prev_index - 1 :])
        self.commit_to(min(commit, last_new))
        return last_new

    def commit_to(self, index: int) -> None:
        if index > self.committed:
            if index > self.last_index():
                raise AssertionError(f"commit {index} beyond last index {self.last_index()}")
            self.committed = index

    def applied_to(self, index: int) -> None:
        if index > self.committed or index < self.applied:
            raise AssertionError(f"applied {index} outside [{self.applied}, {self.committed}]")
        self.applied = index

    def stable_to(self, index: int, term: int) -> None:
        """Entries up to (index, term) are durable: drop them from the unstable tail."""
        pos = index - self._offset
        if 0 <= pos < len(self._unstable) and self._unstable[pos].term == term:
            self._unstable = self._unstable[pos + 1 :]
            self._offset = index + 1

    def stable_snap_to(self, index: int) -> None:
        if self._unstable_snapshot is not None and self._unstable_snapshot.index == index:
            self._unstable_snapshot = None

    def restore(self, meta: SnapshotMeta) -> None:
        """Replace the whole log by a received snapshot (the log did not contain it)."""
        self._unstable_snapshot = meta
        self._unstable = []
        self._offset = meta.index + 1
        self.committed = meta.index
