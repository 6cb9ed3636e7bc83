"""The clients of one node blocked on keys, first blocked first served (sans-IO).

A `Waiter` is queued on each key it waits for, in the order clients blocked. The node's
state machines report the keys each apply run wrote (`keys_changed`): for every key that
still exists afterwards, the FIRST waiter queued on it is woken, no other. The woken
waiter tries its pop; when it leaves (served, timed out or gone) it passes the turn on to
the waiters now first on its keys, which try in their turn. So on one node a push serves
the clients in the order they blocked, and a push of N elements serves N of them, one
after the other, with no herd of attempts.

A wake is a flag plus a callback (`Waiter.on_wake`, set by whoever waits: the Trio side in
blocking/client.py), so the registry never blocks and is tested without an event loop.
CLIENT UNBLOCK (`Waiter.unblock`) calls the same callback without the flag: the client
stops waiting and takes no turn, so it passes none on.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping

from seshat_trio.storage import StoredValue


class Unblocked(enum.Enum):
    """How CLIENT UNBLOCK ends a wait: as if the timeout passed, or with an error."""

    TIMEOUT = "timeout"
    ERROR = "error"


def _nothing() -> None:
    return None


class Waiter:
    """One blocked client: the keys it waits on, whether it was woken since it looked, and
    whether CLIENT UNBLOCK ended its wait (with an error, or as a timeout)."""

    __slots__ = ("keys", "on_wake", "unblocked", "woken")

    def __init__(self, keys: Iterable[bytes]) -> None:
        self.keys = tuple(dict.fromkeys(keys))
        self.woken = False
        self.unblocked: Unblocked | None = None
        self.on_wake: Callable[[], None] = _nothing

    def wake(self) -> None:
        self.woken = True
        self.on_wake()

    def unblock(self, how: Unblocked) -> None:
        """CLIENT UNBLOCK: stop waiting (an attempt under way still runs to its outcome)."""
        if self.unblocked is None:
            self.unblocked = how
        self.on_wake()


class Waiters:
    """The node's blocked clients by key (see the module doc); every method is O(keys)."""

    def __init__(self) -> None:
        # key -> its waiters in blocking order (dicts keep insertion order; O(1) removal).
        self._by_key: dict[bytes, dict[Waiter, None]] = {}
        self._count = 0

    def __len__(self) -> int:
        """Blocked clients (INFO's blocked_clients)."""
        return self._count

    @property
    def key_count(self) -> int:
        """Keys with at least one client blocked on them (INFO's total_blocking_keys)."""
        return len(self._by_key)

    def add(self, waiter: Waiter) -> None:
        for key in waiter.keys:
            self._by_key.setdefault(key, {})[waiter] = None
        self._count += 1

    def remove(self, waiter: Waiter) -> None:
        """`waiter` leaves; the waiters now first on its keys get their turn if it had one
        (it was woken, or it is leaving served: the key may hold more)."""
        passed_on = waiter.woken
        for key in waiter.keys:
            queue = self._by_key.get(key)
            if queue is None or waiter not in queue:
                continue
            was_first = next(iter(queue)) is waiter
            del queue[waiter]
            if not queue:
                del self._by_key[key]
            elif was_first and passed_on:
                next(iter(queue)).wake()
        self._count -= 1

    def served(self, waiter: Waiter) -> None:
        """`waiter` popped: it leaves and the next waiters on its keys try their turn."""
        waiter.woken = True
        self.remove(waiter)

    def keys_changed(self, written: Mapping[bytes, StoredValue | None]) -> None:
        """An apply run wrote `written` (key -> its value now, None if deleted): wake the
        first waiter of every key that holds a value."""
        if not self._by_key:
            return
        for key, value in written.items():
            if value is not None:
                queue = self._by_key.get(key)
                if queue:
                    next(iter(queue)).wake()

    def everything_changed(self) -> None:
        """Applied state was replaced (a snapshot was installed): every first waiter looks."""
        for queue in list(self._by_key.values()):
            next(iter(queue)).wake()
