"""The in-memory index of keys with an expiry, earliest first (derived, never persisted).

The state machine rebuilds it when it loads the store and keeps it on every apply, so it
always describes applied data. The leader's active expiry asks it for keys due by the
leader's clock; the deletion it proposes is re-checked at apply time.

A heap with lazy invalidation: changing or removing a key's expiry leaves its old heap entry
behind, which is dropped when it surfaces (or when stale entries outnumber live ones).
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping

from seshat_trio.storage import StoredValue


class ExpiryIndex:
    def __init__(self) -> None:
        self._when: dict[bytes, int] = {}
        self._heap: list[tuple[int, bytes]] = []

    def __len__(self) -> int:
        return len(self._when)

    def clear(self) -> None:
        self._when.clear()
        self._heap.clear()

    def set(self, key: bytes, expires_at_ms: int) -> None:
        """Record `key`'s expiry; 0 (no expiry) removes it from the index."""
        if expires_at_ms == 0:
            self._when.pop(key, None)
            return
        if self._when.get(key) == expires_at_ms:
            return
        self._when[key] = expires_at_ms
        heapq.heappush(self._heap, (expires_at_ms, key))
        if len(self._heap) > 2 * len(self._when) + 64:
            self._heap = [(when, k) for k, when in self._when.items()]
            heapq.heapify(self._heap)

    def written(self, values: Mapping[bytes, StoredValue | None]) -> None:
        """`set` for each key an apply run wrote (None: deleted): one call per run, and no
        call for a key without an expiry (most writes)."""
        when = self._when
        for key, value in values.items():
            expires_at_ms = 0 if value is None else value.expires_at_ms
            if expires_at_ms:
                self.set(key, expires_at_ms)
            elif when:  # with no key indexed, there is nothing to remove
                when.pop(key, None)

    def due(self, now_ms: int, limit: int) -> list[bytes]:
        """Up to `limit` keys whose expiry is at or before `now_ms`, earliest first."""
        found: dict[bytes, int] = {}
        heap = self._heap
        while heap and len(found) < limit and heap[0][0] <= now_ms:
            when, key = heapq.heappop(heap)
            if self._when.get(key) == when:
                found[key] = when  # a duplicate entry collapses here and is dropped
        for key, when in found.items():  # still indexed until their deletion applies
            heapq.heappush(heap, (when, key))
        return list(found)
