"""A write overlay over the store for applying a run of committed operations.

Applying several log entries produces one storage batch. Later entries in the run must see
the effects of earlier ones before that batch is written, so reads go through an overlay of
this run's own writes first. Expiry is judged against the operation's replicated time, never
a local clock.

Each operation applies inside a savepoint: if a command fails unexpectedly, `rollback`
undoes that operation's writes (and only those), so a bug surfaces as an error reply that
every node computes identically instead of a half-applied entry.

Keyspace notifications raised by the commands (`notify`) are collected in `events` when
`notify_flags` wants their class (the state machine sets it: 0 except on the leader); a
rollback drops those of the undone operation.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from seshat_trio.kv.view import is_expired
from seshat_trio.pubsub.notify import NEW
from seshat_trio.storage import Store, StoredValue, WriteBatch

# Journal marker: the key was not in the overlay before the write.
_UNTOUCHED = object()


@attrs.frozen(slots=True)
class _BeforeClear:
    overlay: dict[bytes, StoredValue | None]
    cleared: bool


class Transaction:
    """Reads and writes of one apply run; `flush_into` turns the writes into a batch."""

    def __init__(self, store: Store, group: int) -> None:
        self._store = store
        self._group = group
        # key -> value written by this run, or None for deleted.
        self._overlay: dict[bytes, StoredValue | None] = {}
        # Store reads of this run (the store does not change until the batch is written).
        self._base: dict[bytes, StoredValue | None] = {}
        self._cleared = False
        self._journal: list[tuple[bytes, object] | _BeforeClear] | None = None
        self.time_ms = 0
        self.max_value_bytes = 0
        self.notify_flags = 0
        self.events: list[tuple[bytes, bytes]] = []  # (event, key)
        self._events_mark = 0

    # -- reads ---------------------------------------------------------------------------
    def _from_store(self, key: bytes) -> StoredValue | None:
        if key not in self._base:
            self._base[key] = self._store.get_value(self._group, key)
        return self._base[key]

    def raw(self, key: bytes) -> StoredValue | None:
        """The stored value of `key`, expired or not."""
        if key in self._overlay:
            return self._overlay[key]
        return None if self._cleared else self._from_store(key)

    def get(self, key: bytes) -> StoredValue | None:
        value = self.raw(key)
        return None if value is None or is_expired(value, self.time_ms) else value

    def _raw_items(self, start: bytes) -> Iterator[tuple[bytes, StoredValue | None]]:
        pending = sorted(k for k in self._overlay if k >= start)
        i = 0
        if not self._cleared:
            for key, value in self._store.iter_values(self._group, start):
                while i < len(pending) and pending[i] < key:
                    yield pending[i], self._overlay[pending[i]]
                    i += 1
                if i < len(pending) and pending[i] == key:
                    i += 1
                    yield key, self._overlay[key]
                else:
                    yield key, value
        for key in pending[i:]:
            yield key, self._overlay[key]

    def items(self, start: bytes = b"") -> Iterator[tuple[bytes, StoredValue]]:
        for key, value in self._raw_items(start):
            if value is not None and not is_expired(value, self.time_ms):
                yield key, value

    def stored_count(self) -> int:
        return sum(1 for _, value in self._raw_items(b"") if value is not None)

    def pick(self, count: int) -> int:
        # Deterministic: every node must pick the same key for RANDOMKEY inside EXEC.
        return self.time_ms % count

    # -- writes --------------------------------------------------------------------------
    def _remember(self, key: bytes) -> None:
        if self._journal is not None:
            self._journal.append((key, self._overlay.get(key, _UNTOUCHED)))

    def put(self, key: bytes, value: StoredValue) -> None:
        if self.notify_flags & NEW and self.get(key) is None:
            self.events.append((b"new", key))  # Redis raises it where a key is added
        self._remember(key)
        self._overlay[key] = value

    def notify(self, event_class: int, event: bytes, key: bytes) -> None:
        if self.notify_flags & event_class:
            self.events.append((event, key))

    def delete(self, key: bytes) -> bool:
        """Delete `key`; True if it existed (and was not expired)."""
        stored = self.raw(key)
        if stored is None:
            return False
        self._remember(key)
        self._overlay[key] = None
        return not is_expired(stored, self.time_ms)

    def clear(self) -> None:
        if self._journal is not None:
            self._journal.append(_BeforeClear(self._overlay, self._cleared))
        self._overlay = {}
        self._cleared = True

    # -- savepoints ----------------------------------------------------------------------
    def begin(self) -> None:
        self._journal = []
        self._events_mark = len(self.events)

    def commit(self) -> None:
        self._journal = None

    def rollback(self) -> None:
        del self.events[self._events_mark :]
        journal, self._journal = self._journal or [], None
        for entry in reversed(journal):
            if isinstance(entry, _BeforeClear):
                self._overlay, self._cleared = entry.overlay, entry.cleared
                continue
            key, previous = entry
            if previous is _UNTOUCHED:
                self._overlay.pop(key, None)
            else:
                assert previous is None or isinstance(previous, StoredValue)
                self._overlay[key] = previous

    # -- flush ---------------------------------------------------------------------------
    def flush_into(self, batch: WriteBatch) -> tuple[bool, dict[bytes, StoredValue | None], int]:
        """Add this run's writes to `batch` and reset the overlay.

        Returns (cleared, final value per written key, change in stored keys); when cleared,
        the change is relative to an empty keyspace."""
        if self._cleared:
            batch.clear_values(self._group)
        delta = 0
        for key, value in self._overlay.items():
            existed = not self._cleared and self._from_store(key) is not None
            if value is None:
                if existed:
                    batch.delete_value(self._group, key)
                    delta -= 1
            else:
                batch.put_value(self._group, key, value)
                delta += not existed
        written, cleared = self._overlay, self._cleared
        self._overlay, self._base, self._cleared = {}, {}, False
        return cleared, written, delta
