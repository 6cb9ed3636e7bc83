"""storage/run_queue.py: the run queue's length is what Trio's statistics report."""

from __future__ import annotations

import trio

from seshat_trio.storage.run_queue import runnable_tasks


async def test_runnable_tasks_matches_trio_statistics() -> None:
    assert runnable_tasks() == trio.lowlevel.current_statistics().tasks_runnable == 0
    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(trio.sleep, 0)
        # Started, not yet run: all three wait in the run queue.
        assert runnable_tasks() == trio.lowlevel.current_statistics().tasks_runnable == 3
    assert runnable_tasks() == 0
