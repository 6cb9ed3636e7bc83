"""The `LogStorage` protocol the core reads stable state through, and an in-memory version.

The core never writes storage: the driver applies each Ready (snapshot, entries, hard state,
compaction) and then calls `advance`. Storage holds a snapshot meta (index 0 / term 0 for a
fresh cluster, carrying the bootstrap membership) and the entries after it.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice
from typing import Protocol

from seshat_trio.raft.errors import CompactedError, UnavailableError
from seshat_trio.raft.membership import Membership
from seshat_trio.raft.model import Entry, HardState, SnapshotMeta


class LogStorage(Protocol):
    def hard_state(self) -> HardState: ...

    def snapshot_meta(self) -> SnapshotMeta: ...

    def first_index(self) -> int:
        """snapshot_meta().index + 1."""
        ...

    def last_index(self) -> int:
        """Index of the last stored entry, or the snapshot index when there is none."""
        ...

    def term(self, index: int) -> int:
        """Term at index for snapshot.index <= index <= last_index; else Compacted/Unavailable."""
        ...

    def entries(self, lo: int, hi: int, max_bytes: int | None) -> list[Entry]:
        """Entries [lo, hi), cut at max_bytes but never empty when lo < hi."""
        ...


def take_within_budget(entries: Iterable[Entry], max_bytes: int | None) -> list[Entry]:
    """Longest prefix of `entries` within `max_bytes` (at least one entry); reads lazily."""
    if max_bytes is None:
        return list(entries)
    out: list[Entry] = []
    total = 0
    for entry in entries:
        total += entry.size()
        if total > max_bytes and out:
            break
        out.append(entry)
    return out


class MemoryLogStorage:
    """LogStorage in memory, with the writers a driver (or a test harness) applies Readys with."""

    def __init__(self, initial_membership: Membership | None = None) -> None:
        self._hard_state = HardState()
        self._snapshot = SnapshotMeta(0, 0, initial_membership or Membership())
        self._entries: list[Entry] = []  # indexes snapshot.index + 1 ...

    # -- LogStorage ----------------------------------------------------------------------
    def hard_state(self) -> HardState:
        return self._hard_state

    def snapshot_meta(self) -> SnapshotMeta:
        return self._snapshot

    def first_index(self) -> int:
        return self._snapshot.index + 1

    def last_index(self) -> int:
        return self._snapshot.index + len(self._entries)

    def term(self, index: int) -> int:
        if index == self._snapshot.index:
            return self._snapshot.term
        if index < self._snapshot.index:
            raise CompactedError(f"index {index} is compacted (snapshot {self._snapshot.index})")
        if index > self.last_index():
            raise UnavailableError(f"index {index} is beyond last index {self.last_index()}")
        return self._entries[index - self.first_index()].term

    def entries(self, lo: int, hi: int, max_bytes: int | None) -> list[Entry]:
        if lo < self.first_index():
            raise CompactedError(f"index {lo} is compacted (first index {self.first_index()})")
        if hi > self.last_index() + 1 or lo > hi:
            raise UnavailableError(f"range [{lo}, {hi}) is beyond last index {self.last_index()}")
        first = self.first_index()
        return take_within_budget(islice(self._entries, lo - first, hi - first), max_bytes)

    # -- writers -------------------------------------------------------------------------
    def set_hard_state(self, hard_state: HardState) -> None:
        self._hard_state = hard_state

    def append(self, entries: tuple[Entry, ...] | list[Entry]) -> None:
        """Drop every stored entry at or after entries[0].index, then append `entries`."""
        if not entries:
            return
        start = entries[0].index
        if start <= self._snapshot.index:
            raise ValueError(f"append at {start} would overwrite the snapshot")
        if start > self.last_index() + 1:
            raise ValueError(f"append at {start} leaves a gap after {self.last_index()}")
        self._entries = self._entries[: start - self.first_index()] + list(entries)

    def apply_snapshot(self, meta: SnapshotMeta) -> None:
        """Install a received snapshot: keep only entries after it that agree with it."""
        if meta.index <= self._snapshot.index:
            raise ValueError(f"snapshot {meta.index} is not newer than {self._snapshot.index}")
        keep: list[Entry] = []
        if meta.index <= self.last_index() and self.term(meta.index) == meta.term:
            keep = self._entries[meta.index + 1 - self.first_index() :]
        self._snapshot = meta
        self._entries = keep

    def compact(self, meta: SnapshotMeta) -> None:
        """Discard entries up to meta.index, now covered by the application's snapshot."""
        if meta.index <= self._snapshot.index:
            raise ValueError(f"compaction to {meta.index} is not past {self._snapshot.index}")
        if meta.index > self.last_index() or self.term(meta.index) != meta.term:
            raise ValueError(f"compaction meta {meta.index}/{meta.term} does not match the log")
        self._entries = self._entries[meta.index + 1 - self.first_index() :]
        self._snapshot = meta
