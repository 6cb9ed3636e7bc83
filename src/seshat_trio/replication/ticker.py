"""The node's one ticker: every Raft group on the node ticks from the same task.

Raft time is counted in ticks (`RaftCore.tick()`: election timeouts, heartbeats, leases).
One task per group would wake the scheduler once per group per interval; here one task
sleeps `tick_seconds` (on `trio.sleep`, so a MockClock drives it) and calls every driver's
`tick()` in turn (a driver that is not running ignores it).
"""

from __future__ import annotations

from collections.abc import Iterable

import trio

from seshat_trio.replication.driver import RaftGroupDriver


class Ticker:
    def __init__(self, tick_seconds: float, drivers: Iterable[RaftGroupDriver]) -> None:
        self._tick_seconds = tick_seconds
        self._drivers = tuple(drivers)

    async def run(self) -> None:
        """Tick every driver once per `tick_seconds`, until cancelled."""
        while True:
            await trio.sleep(self._tick_seconds)
            for driver in self._drivers:
                driver.tick()
