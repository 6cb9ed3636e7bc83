"""How many Trio tasks are runnable right now, asked once per group-commit round.

`trio.lowlevel.current_statistics().tasks_runnable` is the public answer, but it builds the
whole statistics record each time, I/O backend included (a walk over every registered
socket): ~20 us on this machine against ~2.5 us for the length of the run queue it reports.
The run queue is Trio's private state, so it is looked up defensively and the public call
stands in if a Trio release renames it.
"""

from __future__ import annotations

from typing import Any

import trio


def runnable_tasks() -> int:
    """`trio.lowlevel.current_statistics().tasks_runnable`, without the statistics record."""
    try:
        return len(_RUN_CONTEXT.runner.runq)
    except AttributeError:
        return trio.lowlevel.current_statistics().tasks_runnable


# Trio's run context (its module is loaded with Trio); None if a release moved it.
_RUN_CONTEXT: Any = getattr(
    getattr(getattr(trio, "_core", None), "_run", None), "GLOBAL_RUN_CONTEXT", None
)
