"""A write overlay over the store for applying a run of committed operations.

Applying several log entries produces one storage batch. Later entries in the run must see
the effects of earlier ones before that batch is written, so reads go through an overlay of
this run's own writes first: metadata records by key, element records by (key, version)
and suffix. Expiry is judged against the operation's replicated time, never a local clock.

Element records live as long as a metadata record names their version: when the run is
flushed, an element write whose (key, version) is no longer the key's final version is
dropped, and a collection stored before the run whose version is gone at the end (deleted,
expired, overwritten, renamed) has its elements dropped as garbage in O(1)
(`WriteBatch.drop_elements`). Versions are never reused (`new_version`: the entry's index and
a sequence number), so a dropped version is never read again.

Each operation applies inside a savepoint: if a command fails unexpectedly, `rollback`
undoes that operation's writes (and only those), so a bug surfaces as an error reply that
every node computes identically instead of a half-applied entry.

Keyspace notifications raised by the commands (`notify`) are collected in `events` when
`notify_flags` wants their class (the state machine sets it: 0 except on the leader); a
rollback drops those of the undone operation.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import attrs

from seshat_trio.kv.types import TYPES
from seshat_trio.kv.view import is_expired
from seshat_trio.pubsub.notify import NEW
from seshat_trio.storage import EVERY_ELEMENT, Span, Store, StoredValue, WriteBatch, position

# Journal marker: the key was not in the overlay before the write.
_UNTOUCHED = object()
# A version is (log index << VERSION_SEQUENCE_BITS) | a sequence number within the entry.
VERSION_SEQUENCE_BITS = 24

Pending = dict[bytes, bytes | None]  # element suffix -> value, or None for deleted


@attrs.frozen(slots=True)
class _BeforeClear:
    overlay: dict[bytes, StoredValue | None]
    elements: dict[tuple[bytes, int], Pending]
    cleared: bool


def _version(value: StoredValue | None) -> int:
    return 0 if value is None else value.version


def merge_sorted(
    stored: Iterator[tuple[bytes, bytes]], pending: Pending, *, reverse: bool
) -> Iterator[tuple[bytes, bytes]]:
    """`stored` (sorted) overlaid with `pending` (sorted here): the run's writes win."""
    keys = sorted(pending, reverse=reverse)
    i = 0

    def before(a: bytes, b: bytes) -> bool:
        return a > b if reverse else a < b

    for key, value in stored:
        while i < len(keys) and before(keys[i], key):
            written = pending[keys[i]]
            if written is not None:
                yield keys[i], written
            i += 1
        if i < len(keys) and keys[i] == key:
            written = pending[key]
            i += 1
            if written is not None:
                yield key, written
        else:
            yield key, value
    for key in keys[i:]:
        written = pending[key]
        if written is not None:
            yield key, written


class Transaction:
    """Reads and writes of one apply run; `flush_into` turns the writes into a batch."""

    def __init__(self, store: Store, group: int) -> None:
        self._store = store
        self._group = group
        # key -> metadata written by this run, or None for deleted.
        self._overlay: dict[bytes, StoredValue | None] = {}
        # Store reads of this run (the store does not change until the batch is written).
        self._base: dict[bytes, StoredValue | None] = {}
        # (key, version) -> elements written by this run.
        self._elements: dict[tuple[bytes, int], Pending] = {}
        # Versions made in this run: the store holds no element of theirs.
        self._fresh: set[int] = set()
        self._cleared = False
        self._journal: list[tuple[dict[bytes, Any], bytes, object] | _BeforeClear] | None = None
        self.time_ms = 0
        self.max_value_bytes = 0
        self._index = 0
        self._sequence = 0
        self.notify_flags = 0
        self.events: list[tuple[bytes, bytes]] = []  # (event, key)
        self._events_mark = 0

    def start_entry(self, index: int) -> None:
        """The log index of the entry about to apply (new versions derive from it)."""
        self._index = index
        self._sequence = 0

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

    def _raw_items(self, start: int) -> Iterator[tuple[bytes, StoredValue | None]]:
        ordered = sorted((position(k), k) for k in self._overlay)
        pending = [k for p, k in ordered if p >= start]
        i = 0
        if not self._cleared:
            for key, value in self._store.iter_values(self._group, start):
                here = (position(key), key)
                while i < len(pending) and (position(pending[i]), pending[i]) < here:
                    yield pending[i], self._overlay[pending[i]]
                    i += 1
                if i < len(pending) and pending[i] == key:
                    i += 1
                    yield key, self._overlay[key]
                else:
                    yield key, value
        for key in pending[i:]:
            yield key, self._overlay[key]

    def items(self, start: int = 0) -> Iterator[tuple[bytes, StoredValue]]:
        for key, value in self._raw_items(start):
            if value is not None and not is_expired(value, self.time_ms):
                yield key, value

    def stored_count(self) -> int:
        return sum(1 for _, value in self._raw_items(0) if value is not None)

    def element(self, key: bytes, version: int, suffix: bytes) -> bytes | None:
        pending = self._elements.get((key, version))
        if pending is not None and suffix in pending:
            return pending[suffix]
        if self._cleared or version in self._fresh:
            return None
        return self._store.get_element(self._group, key, version, suffix)

    def elements(
        self, key: bytes, version: int, span: Span = EVERY_ELEMENT
    ) -> Iterator[tuple[bytes, bytes]]:
        stored: Iterator[tuple[bytes, bytes]] = iter(())
        if not (self._cleared or version in self._fresh):
            stored = self._store.iter_elements(self._group, key, version, span)
        pending = self._elements.get((key, version), {})
        start, stop = span.start, span.stop
        in_range = {s: v for s, v in pending.items() if s >= start and (stop is None or s < stop)}
        return merge_sorted(stored, in_range, reverse=span.reverse)

    def random(self) -> random.Random:
        # Deterministic: every node must make the same choices inside EXEC.
        return random.Random(self._stamp())

    # -- writes --------------------------------------------------------------------------
    def _remember(self, mapping: dict[bytes, Any], key: bytes) -> None:
        if self._journal is not None:
            self._journal.append((mapping, key, mapping.get(key, _UNTOUCHED)))

    def put(self, key: bytes, value: StoredValue) -> None:
        if self.notify_flags & NEW and self.get(key) is None:
            self.events.append((b"new", key))  # Redis raises it where a key is added
        journal = self._journal
        if journal is not None:  # `_remember`, inlined: every write comes here
            journal.append((self._overlay, key, self._overlay.get(key, _UNTOUCHED)))
        self._overlay[key] = value

    def notify(self, event_class: int, event: bytes, key: bytes) -> None:
        if self.notify_flags & event_class:
            self.events.append((event, key))

    def delete(self, key: bytes) -> bool:
        """Delete `key` (its elements go with it at flush); True if it existed (and was not
        expired)."""
        stored = self.raw(key)
        if stored is None:
            return False
        self._remember(self._overlay, key)
        self._overlay[key] = None
        return not is_expired(stored, self.time_ms)

    def clear(self) -> None:
        if self._journal is not None:
            self._journal.append(_BeforeClear(self._overlay, self._elements, self._cleared))
        self._overlay = {}
        self._elements = {}
        self._cleared = True

    def _pending(self, key: bytes, version: int) -> Pending:
        pending = self._elements.get((key, version))
        if pending is None:
            pending = self._elements[key, version] = {}
        return pending

    def put_element(self, key: bytes, version: int, suffix: bytes, value: bytes) -> None:
        pending = self._pending(key, version)
        journal = self._journal
        if journal is not None:  # `_remember`, inlined: every element write comes here
            journal.append((pending, suffix, pending.get(suffix, _UNTOUCHED)))
        pending[suffix] = value

    def delete_element(self, key: bytes, version: int, suffix: bytes) -> None:
        pending = self._pending(key, version)
        self._remember(pending, suffix)
        pending[suffix] = None

    def _stamp(self) -> int:
        if self._sequence >> VERSION_SEQUENCE_BITS:
            raise RuntimeError(f"entry {self._index} makes more versions than it may")
        stamp = self._index << VERSION_SEQUENCE_BITS | self._sequence
        self._sequence += 1
        return stamp

    def new_version(self) -> int:
        version = self._stamp()
        self._fresh.add(version)
        return version

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
                self._overlay, self._elements = entry.overlay, entry.elements
                self._cleared = entry.cleared
                continue
            mapping, key, previous = entry
            if previous is _UNTOUCHED:
                mapping.pop(key, None)
            else:
                mapping[key] = previous

    # -- flush ---------------------------------------------------------------------------
    def flush_into(self, batch: WriteBatch) -> tuple[bool, dict[bytes, StoredValue | None], int]:
        """Add this run's writes to `batch` and reset the overlay.

        Returns (cleared, final value per written key, change in stored keys); when cleared,
        the change is relative to an empty keyspace."""
        group = self._group
        if self._cleared:
            batch.clear_values(group)
        read = self._base
        # What the store holds of keys this run wrote without reading (plain SETs): one
        # lookup call for all of them.
        unread = [] if self._cleared else [key for key in self._overlay if key not in read]
        stored = (
            dict(zip(unread, self._store.stored_versions(group, unread), strict=True))
            if unread
            else {}
        )
        delta = 0
        puts: list[tuple[bytes, StoredValue]] = []
        for key, value in self._overlay.items():
            # What the store holds: None (nothing), 0 (a string) or a collection's version.
            if self._cleared:
                base: int | None = None
            elif key in read:
                base = _version(read[key]) if read[key] is not None else None
            else:
                base = stored[key]
            if value is None:
                if base is not None:
                    batch.delete_value(group, key)
                    delta -= 1
            else:
                puts.append((key, value))
                delta += base is None
            if base and base != _version(value):
                # The collection stored before this run is gone: its elements are garbage.
                batch.drop_elements(group, key, base)
        if puts:
            batch.put_values(group, puts)
        for (key, version), pending in self._elements.items():
            final = self.raw(key)
            if final is None or final.version != version:
                continue  # the collection is gone: its elements are garbage or never stored
            if version in self._fresh:  # nothing stored to delete
                changes = [item for item in pending.items() if item[1] is not None]
            else:
                changes = list(pending.items())
            scanned = TYPES[final.kind].scanned
            if scanned and changes:
                uncached = [item for item in changes if item[0].startswith(scanned)]
                changes = [item for item in changes if not item[0].startswith(scanned)]
                batch.write_elements(group, key, version, changes, uncached)
            elif changes:
                batch.write_elements(group, key, version, changes)
        written, cleared = self._overlay, self._cleared
        self._overlay, self._base, self._elements, self._cleared = {}, {}, {}, False
        self._fresh = set()
        return cleared, written, delta
