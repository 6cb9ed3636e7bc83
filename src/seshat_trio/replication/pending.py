"""A reply that a command awaits after its write was submitted for replication, and the
deadlines of such replies, which the driver's ticks keep (`WriteDeadlines`).

A command that waits for several writes bounds the wait with one deadline. A cancel scope
for it costs ~5 us of Trio bookkeeping per client read (a SET at `-c 50` costs the leader
~120 us in all); instead the waiter sets the deadline on each reply (`expire_at`) and the
driver fails those still unresolved at its first tick after it, with the waiter's error
(docs/performance.md, round 8). The write itself goes on: only its reply is given up.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Callable, Generator
from typing import Any, NoReturn

import trio

from seshat_trio.errors import ServiceError
from seshat_trio.protocol import Reply


class PendingReply:
    """Resolved once by the replication engine; awaited once by the submitting command.
    A driver's replies carry its `WriteDeadlines` (`deadlines`), which keep the deadline
    the waiter sets. Its one waiter is woken directly (no `trio.Event`: one per write, its
    task set and its wrappers, cost more than the rest of this class)."""

    __slots__ = ("_deadlines", "_done", "_error", "_late", "_value", "_waiter", "deadline")

    def __init__(self, deadlines: WriteDeadlines | None = None) -> None:
        self._done = False
        self._waiter: trio.lowlevel.Task | None = None
        self._value: tuple[Reply, ...] = ()
        self._error: ServiceError | None = None
        self._deadlines = deadlines
        self.deadline = math.inf  # `trio.current_time()` clock
        self._late: Callable[[], ServiceError] | None = None

    def expire_at(self, deadline: float, late: Callable[[], ServiceError]) -> bool:
        """Fail with the error `late` makes if still unresolved at the first tick at or
        after `deadline` (made only then: nearly every write is answered in time).
        False when no driver keeps this reply's deadline: the waiter bounds its wait."""
        if self._deadlines is None:
            return False
        if not self._done:
            self.deadline = deadline
            self._late = late
            self._deadlines.watch(self)
        return True

    def expire(self, now: float) -> bool:
        """Whether nobody waits for this reply any more: it was resolved, or it fails now
        with the waiter's error because its deadline is `now` or earlier."""
        if self._done:
            return True
        if self._late is None or self.deadline > now:
            return False
        self.fail(self._late())
        return True

    @property
    def done(self) -> bool:
        return self._done

    def resolve(self, value: tuple[Reply, ...]) -> None:
        self._value = value
        self._wake()

    def fail(self, error: ServiceError) -> None:
        self._error = error
        self._wake()

    def _wake(self) -> None:
        self._done = True
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            trio.lowlevel.reschedule(waiter)

    def _abort(self, _: Callable[[], NoReturn]) -> trio.lowlevel.Abort:
        self._waiter = None  # cancelled: the reply may still come, to nobody
        return trio.lowlevel.Abort.SUCCEEDED

    def __await__(self) -> Generator[Any, None, tuple[Reply, ...]]:
        # A resolved reply is taken without a scheduler pass: a client's pipeline of 16
        # writes, resolved by one apply, would otherwise yield 15 times in a row for nothing.
        # A generator of its own, not a coroutine's wrapper: every write awaits one, and
        # a frame less to start and to resume is ~1% of a SET's CPU on the leader.
        if not self._done:
            if self._waiter is not None:
                raise trio.BusyResourceError("a PendingReply has one waiter at a time")
            self._waiter = trio.lowlevel.current_task()
            yield from trio.lowlevel.wait_task_rescheduled(self._abort).__await__()
        if self._error is not None:
            raise self._error
        return self._value


class WriteDeadlines:
    """The replies of one driver whose waiters set a deadline, in the order they set it,
    until each is resolved or its deadline passed. Waiters use one request timeout, so
    deadlines come in order (a CONFIG SET of the timeout aside, which delays the earlier
    deadlines behind a later one by at most the change): a tick looks only at the head."""

    def __init__(self) -> None:
        self._replies: collections.deque[PendingReply] = collections.deque()

    def __len__(self) -> int:
        return len(self._replies)

    def watch(self, pending: PendingReply) -> None:
        self._replies.append(pending)

    def expire(self, now: float) -> None:
        """Forget the resolved replies at the head; fail those whose deadline is `now` or
        earlier."""
        replies = self._replies
        while replies:
            head = replies[0]
            # A resolved head (nearly every one) is dropped without a call.
            if not head._done and not head.expire(now):
                return
            replies.popleft()
