"""A write overlay over the store for applying a run of committed operations.

Applying several log entries produces one storage batch. Later entries in the run must see
the effects of earlier ones before that batch is written, so reads go through an overlay of
this run's own writes first. Expiry is judged against the operation's replicated time, never
a local clock.
"""

from __future__ import annotations

from seshat_trio.storage import Store, StoredValue, WriteBatch

# A key deleted in this run: distinct from "never touched" (None from dict.get).
_DELETED = StoredValue(kind=-1, data=b"", expires_at_ms=0)


class Transaction:
    """Reads and writes of one apply run; `flush_into` turns the writes into a batch."""

    def __init__(self, store: Store, group: int) -> None:
        self._store = store
        self._group = group
        self._overlay: dict[bytes, StoredValue] = {}
        self.time_ms = 0
        # Change in the number of stored keys (expired or not) made by this run.
        self.key_delta = 0

    def _stored(self, key: bytes) -> StoredValue | None:
        value = self._overlay.get(key)
        if value is None:
            value = self._store.get_value(self._group, key)
        return None if value is _DELETED else value

    def get(self, key: bytes) -> StoredValue | None:
        value = self._stored(key)
        if value is None:
            return None
        if value.expires_at_ms and value.expires_at_ms <= self.time_ms:
            return None
        return value

    def put(self, key: bytes, value: StoredValue) -> None:
        if self._stored(key) is None:
            self.key_delta += 1
        self._overlay[key] = value

    def delete(self, key: bytes) -> bool:
        """Delete `key`; True if it existed (and was not expired)."""
        stored = self._stored(key)
        if stored is None:
            return False
        alive = self.get(key) is not None
        self.key_delta -= 1
        self._overlay[key] = _DELETED
        return alive

    def flush_into(self, batch: WriteBatch) -> None:
        for key, value in self._overlay.items():
            if value is _DELETED:
                batch.delete_value(self._group, key)
            else:
                batch.put_value(self._group, key, value)
        self._overlay.clear()
