"""Waiting for a system under test to go quiet before a cell is measured (bench/runner.py).

Writing the big hash's 1,000,000 fields leaves the nodes busy after the last reply: LevelDB
compacts the tables the fill wrote (on every node), a follower that fell behind catches up,
the Raft log is compacted; deleting the empty hash before its cell leaves its old fields to
the background sweep. A cell started at once measures that aftermath along with its own
commands. `wait_until_idle` returns once every process of the system has used less than
`IDLE_SHARE` of a core in `IDLE_WINDOWS` windows of `WINDOW_S` in a row (an idle 3-node
cluster uses ~2% per node), or when `timeout_s` has passed; it returns the seconds waited
and whether the system did go quiet. CPU time is the process's own (`/proc/PID/stat`), so
other load on the machine does not keep it waiting.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import trio

from bench.machine import cpu_seconds

IDLE_SHARE = 0.10
WINDOW_S = 1.0
IDLE_WINDOWS = 3
TIMEOUT_S = 600.0


async def wait_until_idle(pids: Sequence[int], timeout_s: float = TIMEOUT_S) -> tuple[float, bool]:
    started = time.monotonic()
    quiet = 0
    before = [cpu_seconds(pid) for pid in pids]
    while quiet < IDLE_WINDOWS:
        if time.monotonic() - started >= timeout_s:
            return time.monotonic() - started, False
        await trio.sleep(WINDOW_S)
        now = [cpu_seconds(pid) for pid in pids]
        busiest = max((b - a for a, b in zip(before, now, strict=True)), default=0.0)
        quiet = quiet + 1 if busiest < IDLE_SHARE * WINDOW_S else 0
        before = now
    return time.monotonic() - started, True
