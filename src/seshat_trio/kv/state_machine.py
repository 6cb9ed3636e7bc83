"""The deterministic state machine of a data group.

`apply` takes committed log entries in index order and writes their effects and the new
applied index in ONE storage batch, so the data and the index that describes it can never
disagree. Entries at or below the applied index are skipped: replaying the log after a
restart is idempotent. The batch is written unsynced; durability comes from the log, which
is always fsynced before an entry can commit (see docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import attrs

from seshat_trio.kv import keyspace, strings
from seshat_trio.kv.operations import Operation, decode_operation
from seshat_trio.kv.transaction import Transaction
from seshat_trio.protocol import Reply
from seshat_trio.storage import (
    Store,
    StoredValue,
    ValueInstaller,
    ValueSnapshot,
    WriteBatch,
)

ApplyFn = Callable[[Transaction, tuple[bytes, ...]], Reply]

APPLY_FUNCTIONS: dict[bytes, ApplyFn] = {**strings.APPLY, **keyspace.APPLY}


@attrs.frozen(slots=True)
class Applied:
    """The outcome of one entry: its index and one reply per command (empty for a no-op)."""

    index: int
    replies: tuple[Reply, ...]


class KvStateMachine:
    def __init__(self, store: Store, group: int) -> None:
        self._store = store
        self._group = group
        self._tx = Transaction(store, group)
        self.applied_index = 0
        self.key_count = 0
        self.reload()

    def reload(self) -> None:
        """Re-read the applied index from the store (at open and after a snapshot install)."""
        self.applied_index = self._store.applied(self._group)
        # Derived, not persisted: counted here, then kept by apply.
        self.key_count = sum(1 for _ in self._store.iter_values(self._group))

    def open_snapshot(self) -> ValueSnapshot:
        """A point-in-time view of the data and its applied index, to stream to a follower."""
        return self._store.value_snapshot(self._group)

    def begin_install(self) -> ValueInstaller:
        """Stage a snapshot received from the leader; `reload` after it is finished."""
        return self._store.begin_install(self._group)

    def apply(self, entries: Iterable[tuple[int, bytes | None]]) -> list[Applied]:
        """Apply `(index, operation bytes or None for a no-op)` pairs in order."""
        results: list[Applied] = []
        last = self.applied_index
        for index, data in entries:
            if index <= last:
                continue
            if index != last + 1:
                raise ValueError(f"apply gap: index {index} after applied index {last}")
            last = index
            replies = () if data is None else self._apply_operation(decode_operation(data))
            results.append(Applied(index, replies))
        if last != self.applied_index:
            batch = WriteBatch()
            self._tx.flush_into(batch)
            batch.put_applied(self._group, last)
            self._store.write(batch, sync=False)
            self.applied_index = last
            self.key_count += self._tx.key_delta
            self._tx.key_delta = 0
        return results

    def _apply_operation(self, op: Operation) -> tuple[Reply, ...]:
        self._tx.time_ms = op.time_ms
        replies: list[Reply] = []
        for command in op.commands:
            fn = APPLY_FUNCTIONS.get(command[0])
            if fn is None:
                # A newer node proposed a command this build does not know: refuse loudly
                # rather than diverge silently from the nodes that do.
                raise RuntimeError(
                    f"cannot apply unknown command {command[0]!r}: mixed versions in the cluster"
                )
            replies.append(fn(self._tx, command[1:]))
        return tuple(replies)

    def get(self, key: bytes) -> StoredValue | None:
        """Read applied state (callers ensure the read is linearizable first)."""
        return self._store.get_value(self._group, key)
