"""The views a data command runs against: the same command code reads and writes through them.

A command in this package is written once, against `KeyView` (reads) or `WritableView`
(writes). At apply time the view is the run's `Transaction` and the time is the operation's
replicated `time_ms`. Outside MULTI, a read command runs on the leader against a `ReadView`
over applied state, with the leader's clock as the time.

The rule a `ReadView` lives by: only a view that may judge expiry (the leader's) decides
whether a key with an expiry is alive; any other view raises `MustAskLeader` as soon as a
command examines such a key, and the caller forwards the command to the leader. Keys
without an expiry are the same on every node at the same applied index, so any node may
serve them.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Protocol

from seshat_trio.storage import EVERY_ELEMENT, Span, StoredValue


class MustAskLeader(Exception):
    """A read examined a key with an expiry on a node that may not judge it."""


def is_expired(value: StoredValue, time_ms: int) -> bool:
    return value.expires_at_ms != 0 and value.expires_at_ms <= time_ms


class StateReader(Protocol):
    """Applied state as stored: values regardless of expiry (the node service offers this)."""

    def get(self, key: bytes) -> StoredValue | None: ...

    def items(self, start: int = 0) -> Iterator[tuple[bytes, StoredValue]]:
        """Stored (key, value) pairs from position `start` on, in position order."""
        ...

    def element(self, key: bytes, version: int, suffix: bytes) -> bytes | None: ...

    def elements(
        self, key: bytes, version: int, span: Span = EVERY_ELEMENT
    ) -> Iterator[tuple[bytes, bytes]]:
        """(suffix, element) pairs of (key, version) with start <= suffix < stop."""
        ...

    def key_count(self) -> int: ...


class KeyView(Protocol):
    """What a read command sees: live keys at `time_ms`."""

    @property
    def time_ms(self) -> int: ...

    @property
    def max_value_bytes(self) -> int:
        """The largest value a write may produce (0 = unbounded)."""
        ...

    def get(self, key: bytes) -> StoredValue | None:
        """The value of `key` if it exists and is alive at `time_ms`."""
        ...

    def items(self, start: int = 0) -> Iterator[tuple[bytes, StoredValue]]:
        """Live (key, value) pairs from position `start` on, in position order."""
        ...

    def element(self, key: bytes, version: int, suffix: bytes) -> bytes | None:
        """One element of the collection (key, version), its metadata read before."""
        ...

    def elements(
        self, key: bytes, version: int, span: Span = EVERY_ELEMENT
    ) -> Iterator[tuple[bytes, bytes]]:
        """(suffix, element) pairs of (key, version) with start <= suffix < stop, in suffix
        order (descending if `reverse`)."""
        ...

    def stored_count(self) -> int:
        """Stored keys, including expired ones not yet deleted (what DBSIZE reports)."""
        ...

    def random(self) -> random.Random:
        """Random choices (RANDOMKEY, HRANDFIELD): deterministic when applying."""
        ...


class WritableView(KeyView, Protocol):
    """What a write command may do besides reading (apply time only)."""

    def raw(self, key: bytes) -> StoredValue | None:
        """The stored value of `key`, expired or not."""
        ...

    def put(self, key: bytes, value: StoredValue) -> None: ...

    def delete(self, key: bytes) -> bool:
        """Remove `key` (a collection's elements with it); True if it existed and was alive."""
        ...

    def clear(self) -> None:
        """Remove every key (FLUSHDB)."""
        ...

    def put_element(self, key: bytes, version: int, suffix: bytes, value: bytes) -> None: ...

    def delete_element(self, key: bytes, version: int, suffix: bytes) -> None: ...

    def new_version(self) -> int:
        """A number no write of this group ever got before (the same on every node): a new
        collection's version, and the stamp of a collection's every write (WATCH)."""
        ...

    def notify(self, event_class: int, event: bytes, key: bytes) -> None:
        """Raise keyspace notification `event` about `key` (pubsub/notify.py has the
        classes). Call it at apply, after the change, in Redis's order; the leader publishes
        it if `notify-keyspace-events` wants its class (a new key's `new` is raised by
        `put` itself)."""
        ...


class ReadView:
    """A read-only view of applied state at `time_ms` (see the module rule on expiry).

    Keys found expired are collected in `expired`: the leader proposes their deletion.
    """

    def __init__(self, state: StateReader, time_ms: int, *, may_judge_expiry: bool) -> None:
        self._state = state
        self._time_ms = time_ms
        self._judge = may_judge_expiry
        self.expired: list[bytes] = []

    @property
    def time_ms(self) -> int:
        return self._time_ms

    @property
    def max_value_bytes(self) -> int:
        return 0

    def _alive(self, key: bytes, value: StoredValue) -> bool:
        if value.expires_at_ms == 0:
            return True
        if not self._judge:
            raise MustAskLeader(key)
        if value.expires_at_ms <= self._time_ms:
            self.expired.append(key)
            return False
        return True

    def get(self, key: bytes) -> StoredValue | None:
        value = self._state.get(key)
        if value is None or not value.expires_at_ms:  # most keys: no expiry to judge
            return value
        return value if self._alive(key, value) else None

    def items(self, start: int = 0) -> Iterator[tuple[bytes, StoredValue]]:
        for key, value in self._state.items(start):
            if self._alive(key, value):
                yield key, value

    def element(self, key: bytes, version: int, suffix: bytes) -> bytes | None:
        return self._state.element(key, version, suffix)

    def elements(
        self, key: bytes, version: int, span: Span = EVERY_ELEMENT
    ) -> Iterator[tuple[bytes, bytes]]:
        return self._state.elements(key, version, span)

    def stored_count(self) -> int:
        return self._state.key_count()

    def random(self) -> random.Random:
        return _RANDOM


_RANDOM = random.Random()
