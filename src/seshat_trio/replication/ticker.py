"""The node's one ticker: every Raft group on the node ticks from the same task.

Raft time is counted in ticks (`RaftCore.tick()`: election timeouts, heartbeats, leases).
One task per group would wake the scheduler once per group per interval; here one task
sleeps `tick_seconds` (on `trio.sleep`, so a MockClock drives it) and calls every driver's
`tick()` in turn (a driver that is not running ignores it), inside `coalescing()` (the
transport's: the groups' heartbeats to one peer leave as one frame).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager

import trio

from seshat_trio.replication.driver import RaftGroupDriver


class Ticker:
    def __init__(
        self,
        tick_seconds: float,
        drivers: Iterable[RaftGroupDriver],
        coalescing: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext,
    ) -> None:
        self._tick_seconds = tick_seconds
        self._drivers = tuple(drivers)
        self._coalescing = coalescing

    async def run(self) -> None:
        """Tick every driver once per `tick_seconds`, until cancelled."""
        while True:
            await trio.sleep(self._tick_seconds)
            with self._coalescing():
                for driver in self._drivers:
                    driver.tick()
