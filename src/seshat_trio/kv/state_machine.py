"""The deterministic state machine of a data group.

`apply` takes committed log entries in index order and writes their effects and the new
applied index in ONE storage batch, so the data and the index that describes it can never
disagree. Entries at or below the applied index are skipped: replaying the log after a
restart is idempotent. The batch is written unsynced; durability comes from the log, which
is always fsynced before an entry can commit (see docs/architecture.md).

Rules for what an entry may do to the nodes:
- An operation this build cannot read (a newer format, an unknown command) raises: a node
  must stop rather than apply something differently from its peers.
- A command that fails unexpectedly (a bug) has its whole operation rolled back and answers
  an error; the failure is a function of the replicated data, so every node of this build
  reaches the same state.

Besides the data, the machine keeps derived in-memory state, rebuilt from the store on
load: the number of stored keys and the index of keys with an expiry.

Keyspace notifications: the commands raise events through the view (`notify`); the
machine hands those of each applied run to its `notifier` after the run is written, which
publishes them where this node leads (they change nothing in the state). Its `listener`
(the node's blocked clients, seshat_trio.blocking) hears, on every node, which keys each
run wrote, and that everything changed when a snapshot is installed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Protocol

from seshat_trio.kv import catalog, multi  # noqa: F401  (registration)
from seshat_trio.kv.expiry_index import ExpiryIndex
from seshat_trio.kv.operations import Operation, decode_entry
from seshat_trio.kv.plain_ops import PlainOperation, plain_operations
from seshat_trio.kv.registry import READS, WRITES
from seshat_trio.kv.transaction import Transaction
from seshat_trio.kv.types import WRONGTYPE, WrongType
from seshat_trio.logs import get_logger
from seshat_trio.protocol import ErrorReply, Reply
from seshat_trio.replication.machine import Applied, unapplied
from seshat_trio.storage import (
    EVERY_ELEMENT,
    Span,
    StorageError,
    Store,
    StoredValue,
    ValueInstaller,
    ValueSnapshot,
    WriteBatch,
)

log = get_logger(__name__)

INTERNAL_ERROR = ErrorReply("ERR internal error while applying the command; it had no effect")


class Notifier(Protocol):
    """Where keyspace notifications go (pubsub/keyspace.py implements it)."""

    def flags(self) -> int:
        """The notification classes to raise now (0: none, e.g. on a follower)."""
        ...

    def emit(self, flags: int, events: list[tuple[bytes, bytes]]) -> None:
        """Publish (event, key) pairs raised under `flags`, in order."""
        ...


class KeyListener(Protocol):
    """Who hears which keys applied writes changed (blocking/waiters.py implements it)."""

    def keys_changed(self, written: Mapping[bytes, StoredValue | None]) -> None:
        """A run wrote these keys (value now, None: deleted)."""
        ...

    def everything_changed(self) -> None:
        """Applied state was replaced (a snapshot install)."""
        ...


def is_known(name: bytes) -> bool:
    return name in READS or name in WRITES


class KvStateMachine:
    def __init__(self, store: Store, group: int) -> None:
        self._store = store
        self._group = group
        self._tx = Transaction(store, group)
        self.applied_index = 0
        self.key_count = 0
        self.expiries = ExpiryIndex()
        self.notifier: Notifier | None = None
        self.listener: KeyListener | None = None
        self.reload()

    def reload(self) -> None:
        """Re-read the applied index from the store (at open and after a snapshot install)."""
        self.applied_index = self._store.applied(self._group)
        # Derived, not persisted: counted here, then kept by apply.
        self.key_count = 0
        self.expiries.clear()
        for key, value in self._store.iter_values(self._group):
            self.key_count += 1
            self.expiries.set(key, value.expires_at_ms)
        if not self.key_count:
            self._store.cache_if_empty(self._group)
        if self.listener is not None:
            self.listener.everything_changed()

    def open_snapshot(self) -> ValueSnapshot:
        """A point-in-time view of the data and its applied index, to stream to a follower."""
        return self._store.value_snapshot(self._group)

    def begin_install(self) -> ValueInstaller:
        """Stage a snapshot received from the leader; `reload` after it is finished."""
        return self._store.begin_install(self._group)

    def apply(
        self, entries: Iterable[tuple[int, bytes | None]], before: WriteBatch | None = None
    ) -> list[Applied]:
        """Apply `(index, operation bytes or None for a no-op)` pairs in order; `before`'s
        operations go first in the same write (see `StateMachine.apply`)."""
        notifier = self.notifier
        flags = self._tx.notify_flags = 0 if notifier is None else notifier.flags()
        self._tx.events.clear()
        results = [
            Applied(index, ()) if data is None else self._apply_entry(index, data)
            for index, data in unapplied(entries, self.applied_index)
        ]
        last = results[-1].index if results else self.applied_index
        batch = WriteBatch() if before is None else before
        if last == self.applied_index:
            if len(batch):
                self._store.write(batch, sync=False)
        else:
            cleared, written, delta = self._tx.flush_into(batch)
            batch.put_applied(self._group, last)
            self._store.write(batch, sync=False)
            self.applied_index = last
            if cleared:
                self.key_count = 0
                self.expiries.clear()
            self.key_count += delta
            self.expiries.written(written)
            if self.listener is not None:
                self.listener.keys_changed(written)
        if notifier is not None and self._tx.events:
            events, self._tx.events = self._tx.events, []
            notifier.emit(flags, events)
        return results

    def _apply_entry(self, index: int, data: bytes) -> Applied:
        plain = plain_operations(data)
        if plain is not None:
            return self._apply_plain(index, plain)
        operations = decode_entry(data)
        self._tx.start_entry(index)
        if len(operations) == 1:
            return Applied(index, self._apply_operation(operations[0]))
        per_operation = [self._apply_operation(op) for op in operations]
        # Lists, not generators: this runs for every batch entry on every node.
        return Applied(
            index,
            tuple([reply for replies in per_operation for reply in replies]),
            tuple([len(replies) for replies in per_operation]),
        )

    def _apply_plain(self, index: int, operations: list[PlainOperation]) -> Applied:
        """An entry of plain operations (kv/plain_ops.py): no decoding into operations, no
        registry; the same writes, events and replies as `_apply_operation`."""
        tx = self._tx
        tx.start_entry(index)
        replies: list[Reply] = []
        for time_ms, max_value_bytes, row, args in operations:
            tx.time_ms = time_ms
            tx.max_value_bytes = max_value_bytes
            atomic = row.atomic
            mark = len(tx.events)
            if not atomic:
                tx.begin()
            try:
                reply = row.apply(tx, args)
            except WrongType:
                reply = WRONGTYPE
            except StorageError:
                raise
            except Exception:
                log.exception("apply_failed", commands=[row.name])
                if atomic:
                    del tx.events[mark:]
                else:
                    tx.rollback()
                replies.append(INTERNAL_ERROR)
                continue
            if not atomic:
                tx.commit()
            replies.append(reply)
        # As `_apply_entry`: a batch of one operation has no split.
        return Applied(index, tuple(replies), None if len(replies) == 1 else (1,) * len(replies))

    def _apply_operation(self, op: Operation) -> tuple[Reply, ...]:
        tx = self._tx
        tx.time_ms = op.time_ms
        tx.max_value_bytes = op.max_value_bytes
        for command in op.commands:
            name = command[0]
            if name not in WRITES and name not in READS and name != multi.EXEC:
                # A newer node proposed a command this build does not know: refuse loudly
                # rather than diverge silently from the nodes that do.
                raise RuntimeError(
                    f"cannot apply unknown command {name!r}: mixed versions in the cluster"
                )
        tx.begin()
        try:
            if op.commands and op.commands[0][0] == multi.EXEC:
                replies: tuple[Reply, ...] = (multi.apply_exec(tx, op.commands, self._run),)
            else:
                replies = tuple([self._run(command) for command in op.commands])
        except StorageError:
            raise
        except Exception:
            log.exception("apply_failed", commands=[c[0] for c in op.commands])
            tx.rollback()
            return (INTERNAL_ERROR,) * (1 if op.commands[0][0] == multi.EXEC else len(op.commands))
        tx.commit()
        return replies

    def _run(self, command: tuple[bytes, ...]) -> Reply:
        name, args = command[0], command[1:]
        write = WRITES.get(name)
        if write is not None:
            return write.execute(self._tx, args)
        return READS[name].execute(self._tx, args)

    # -- applied state, for reads (callers ensure the read is linearizable first) ---------
    def get(self, key: bytes) -> StoredValue | None:
        return self._store.get_value(self._group, key)

    def items(self, start: int = 0) -> Iterator[tuple[bytes, StoredValue]]:
        return self._store.iter_values(self._group, start)

    def element(self, key: bytes, version: int, suffix: bytes) -> bytes | None:
        return self._store.get_element(self._group, key, version, suffix)

    def elements(
        self, key: bytes, version: int, span: Span = EVERY_ELEMENT
    ) -> Iterator[tuple[bytes, bytes]]:
        return self._store.iter_elements(self._group, key, version, span)

    def due_expiries(self, now_ms: int, limit: int) -> list[bytes]:
        """Up to `limit` keys whose expiry is at or before `now_ms`, earliest first."""
        return self.expiries.due(now_ms, limit)
