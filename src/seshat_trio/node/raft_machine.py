"""What a Raft group driver needs from the state machine it replicates (a small protocol).

Both the data group's `KvStateMachine` and the system group's `SystemStateMachine` fit it:

- `apply` takes committed `(index, bytes | None)` pairs (None = an entry with no command:
  a leader's NOOP or a membership CONFIG entry), skips indexes at or below `applied_index`
  (idempotent by index) and writes effects and the new applied index in one batch.
- A snapshot is the state machine's persisted state itself, read at one point in time
  (`open_snapshot`, whose `applied` may be ahead of the Raft snapshot index it is sent
  for) and streamed in self-framed chunks; `begin_install` stages received chunks
  invisibly and `finish(batch)` makes them visible in one synced write together with the
  driver's Raft batch; `reload` then re-reads in-memory state from the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

from seshat_trio.kv.state_machine import Applied
from seshat_trio.storage import WriteBatch


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

    def apply(self, entries: Iterable[tuple[int, bytes | None]]) -> list[Applied]: ...

    def open_snapshot(self) -> SnapshotSource: ...

    def begin_install(self) -> SnapshotSink: ...

    def reload(self) -> None: ...
