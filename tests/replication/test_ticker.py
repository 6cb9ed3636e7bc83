"""The node's one Ticker: every group ticks in one pass, inside one `coalescing()` block."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import cast

import trio
import trio.testing

from seshat_trio.replication.driver import RaftGroupDriver
from seshat_trio.replication.ticker import Ticker


async def test_every_group_ticks_inside_one_coalescing_block(
    clock: trio.testing.MockClock,
) -> None:
    """The groups' heartbeats of one tick are sent inside one block (the transport's
    `coalescing`: one frame per peer for all of them), one block per tick."""
    blocks: list[list[int]] = []
    inside: list[int] | None = None

    @contextlib.contextmanager
    def coalescing() -> Iterator[None]:
        nonlocal inside
        inside = []
        yield
        blocks.append(inside)
        inside = None

    class Group:
        def __init__(self, group: int) -> None:
            self.group = group

        def tick(self) -> None:
            assert inside is not None, "ticked outside the block"
            inside.append(self.group)

    drivers = [cast("RaftGroupDriver", Group(g)) for g in (1, 2, 3)]
    with trio.move_on_after(0.25):  # ticks at 0.1 and 0.2 of the mock clock
        await Ticker(0.1, drivers, coalescing).run()
    assert blocks == [[1, 2, 3], [1, 2, 3]]
