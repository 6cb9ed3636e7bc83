"""Linearizable read barriers of one group driver: ReadIndex requests and applied waiters.

A reader asks the core for a read index (`RaftCore.read_index`), waits for the Ready that
answers it, then waits until this node's state machine has applied up to that index.

Reads share one request until the driver's next Ready or tick (see docs/raft.md,
"ReadIndex"): no write is acknowledged in between (that happens only while a Ready is
handled), the confirmation round or forwarded request leaves only in the next Ready, after
every read that joined, and a lease index is fixed at a tick whose lease check holds for
every joiner alike. The driver calls `close_round()` at each tick and Ready for that, and
when its ticks stopped keeping time (then it also voids the lease, before any read joins).

A read has a deadline, and the driver's ticks enforce it (`expire`): a read still waiting
for its index or its apply at the first tick after its deadline fails with TIMEOUT. So a
reader needs no cancel scope of its own (~5 us of Trio bookkeeping per read, of ~80 us of
the leader's CPU per GET at `-c 50`: docs/performance.md, round 8). A request fails at the
earliest deadline among the reads that joined it; a read whose own deadline has not
passed then asks again.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import attrs
import trio

from seshat_trio.errors import ServiceError
from seshat_trio.raft import RaftCore, ReadFailure, Ready

READ_FAILURES = {
    ReadFailure.NO_LEADER: "NOLEADER no leader is known for this group; retry",
    ReadFailure.NOT_LEADER: "TRYAGAIN the leader refused the read (leadership moved); retry",
    ReadFailure.LEADERSHIP_LOST: "TRYAGAIN leadership changed while the read was pending; retry",
    ReadFailure.TIMED_OUT: "TIMEOUT the leader did not confirm the read in time; retry",
    ReadFailure.TRANSFERRING: "TRYAGAIN a leadership transfer is in progress; retry",
}
EXPIRED = "TIMEOUT the read was not confirmed before its deadline; retry"


@attrs.define(slots=True, eq=False)
class _ReadWaiter:
    done: trio.Event = attrs.field(factory=trio.Event)
    deadline: float = math.inf  # the earliest deadline of the reads that joined
    index: int | None = None
    failure: str | None = None


class ReadBarriers:
    """The read requests and applied waiters of one driver (its core and state machine)."""

    def __init__(
        self,
        core: RaftCore,
        applied: Callable[[], int],
        wake: Callable[[], None],
        stopped: str,
        check_clock: Callable[[], None] = lambda: None,
    ) -> None:
        self._core = core
        # Called as each read is served, before it may join a request or take a lease index:
        # the driver voids a lease that its ticks no longer vouch for (docs/raft.md).
        self._check_clock = check_clock
        self._applied = applied
        self._wake = wake
        self._stopped = stopped
        self._reads: dict[int, _ReadWaiter] = {}
        self._next_id = 1
        # The read request the core has not yet taken into a Ready: later reads join it.
        self._open: _ReadWaiter | None = None
        self._apply_waiters: list[tuple[int, trio.Event, float]] = []  # index, wake-up, deadline
        self.accepting = False

    @property
    def requests(self) -> int:
        """Read index requests handed to the core so far."""
        return self._next_id - 1

    async def barrier(self, deadline: float = math.inf) -> None:
        """Return once the applied state reflects every write acknowledged before the call;
        ServiceError when the read cannot be confirmed (one retry when a leader is known),
        TIMEOUT when it is still waiting at the first `expire` after `deadline`
        (`trio.current_time()` clock)."""
        retried = False
        while True:
            if not self.accepting:
                raise ServiceError(f"TRYAGAIN {self._stopped}")
            self._check_clock()
            waiter = self._open
            if waiter is None:
                waiter = self._open = _ReadWaiter()
                request_id = self._next_id
                self._next_id += 1
                self._reads[request_id] = waiter
                self._core.read_index(request_id)
                self._wake()
            waiter.deadline = min(waiter.deadline, deadline)
            await waiter.done.wait()
            if waiter.index is not None:
                await self._wait_applied(waiter.index, deadline)
                return
            if waiter.failure is EXPIRED:
                if trio.current_time() < deadline:
                    continue  # the request ended at an earlier reader's deadline
            elif not retried and self._core.leader_id is not None and self.accepting:
                retried = True
                continue
            raise ServiceError(waiter.failure or READ_FAILURES[ReadFailure.NO_LEADER])

    def expire(self, now: float) -> None:
        """Fail the requests and apply waits whose deadline is `now` or earlier (the driver
        calls this at each tick)."""
        if self._reads:
            for request_id, waiter in list(self._reads.items()):
                if waiter.deadline <= now:
                    del self._reads[request_id]
                    if waiter is self._open:
                        self._open = None
                    waiter.failure = EXPIRED
                    waiter.done.set()
        if self._apply_waiters:
            for _, event, deadline in self._apply_waiters:
                if deadline <= now:
                    event.set()  # the reader finds its index not applied and times out
            self._apply_waiters = [w for w in self._apply_waiters if not w[1].is_set()]

    def close_round(self) -> None:
        """A tick or a Ready: later reads open a request of their own."""
        self._open = None

    def resolve(self, ready: Ready) -> None:
        """The read states of `ready` (they depend on none of its writes)."""
        for state in ready.read_states:
            waiter = self._reads.pop(state.request_id, None)
            if waiter is not None:
                waiter.index = state.index
                waiter.done.set()
        for failed in ready.failed_reads:
            waiter = self._reads.pop(failed.request_id, None)
            if waiter is not None:
                waiter.failure = READ_FAILURES[failed.reason]
                waiter.done.set()

    def release_applied(self) -> None:
        """Wake the readers whose index the state machine has reached."""
        applied = self._applied()
        still: list[tuple[int, trio.Event, float]] = []
        for waiter in self._apply_waiters:
            if waiter[0] <= applied:
                waiter[1].set()
            else:
                still.append(waiter)
        self._apply_waiters = still

    def stop(self) -> None:
        """The driver stopped: every waiting reader fails."""
        self.accepting = False
        for waiter in self._reads.values():
            waiter.failure = f"TRYAGAIN {self._stopped}"
            waiter.done.set()
        self._reads.clear()
        self._open = None
        for _, event, _ in self._apply_waiters:
            event.set()
        self._apply_waiters = []

    async def _wait_applied(self, index: int, deadline: float) -> None:
        if self._applied() >= index:
            return
        event = trio.Event()
        self._apply_waiters.append((index, event, deadline))
        await event.wait()
        if self._applied() < index:
            raise ServiceError(EXPIRED if self.accepting else f"TRYAGAIN {self._stopped}")
