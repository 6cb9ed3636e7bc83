"""What a Raft group driver needs from the state machine it replicates (a small protocol).

Both the data group's `KvStateMachine` and the system group's `SystemStateMachine` fit it:

- `apply` takes committed `(index, bytes | None)` pairs (None = an entry with no command:
  a leader's NOOP or a membership CONFIG entry), skips indexes at or below `applied_index`
  (idempotent by index) and writes effects and the new applied index in one unsynced
  batch; the operations of `before` (the driver's own unsynced Raft writes, a commit-only
  hard state) go first in that same write, and are written even if nothing applies.
- A snapshot is the state machine's persisted state itself, read at one point in time
  (`open_snapshot`, whose `applied` may be ahead of the Raft snapshot index it is sent
  for) and streamed in self-framed chunks; `begin_install` stages received chunks
  invisibly and `finish(batch)` makes them visible in one synced write together with the
  driver's Raft batch; `reload` then re-reads in-memory state from the store.

`Applied` (one entry's replies) and `unapplied` (the idempotent-by-index filter) are the
shared vocabulary of every state machine behind a driver.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

import attrs

from seshat_trio.protocol import Reply
from seshat_trio.storage import WriteBatch


@attrs.frozen(slots=True)
class Applied:
    """The outcome of one entry: its index and its replies (empty for a no-op).

    One reply per command, except for an EXEC operation: one reply, the EXEC array. An entry
    with a batch of operations has their replies in order; `split` then says how many
    replies belong to each operation (None: the entry was one operation)."""

    index: int
    replies: tuple[Reply, ...]
    split: tuple[int, ...] | None = None


def unapplied(
    entries: Iterable[tuple[int, bytes | None]], applied_index: int
) -> Iterator[tuple[int, bytes | None]]:
    """The entries above `applied_index`, in order: those at or below it were applied before
    (a replay after restart); a gap means the caller lost entries, so it is refused."""
    last = applied_index
    for index, data in entries:
        if index <= last:
            continue
        if index != last + 1:
            raise ValueError(f"apply gap: index {index} after applied index {last}")
        last = index
        yield index, data


class SnapshotSource(Protocol):
    """A point-in-time view of a state machine (close it to release it)."""

    @property
    def applied(self) -> int: ...

    def chunks(self, max_bytes: int) -> Iterator[bytes]: ...

    def close(self) -> None: ...


class SnapshotSink(Protocol):
    """Receives a snapshot's chunks; nothing is visible before `finish`."""

    def add_chunk(self, chunk: bytes) -> None: ...

    def finish(self, batch: WriteBatch | None = None) -> None: ...

    def abort(self) -> None: ...


class StateMachine(Protocol):
    @property
    def applied_index(self) -> int: ...

    def apply(
        self, entries: Iterable[tuple[int, bytes | None]], before: WriteBatch | None = None
    ) -> list[Applied]: ...

    def open_snapshot(self) -> SnapshotSource: ...

    def begin_install(self) -> SnapshotSink: ...

    def reload(self) -> None: ...
