"""Read deadlines kept by the driver's ticks (`ReadBarriers.expire`), not by cancel scopes.

`ReadBarriers` against a stand-in core that records read requests and answers nothing by
itself: each test decides what the core answers, when time passes and when the ticks
expire; a real cluster checks the end to end deadline of `group_service.read_barrier`.
"""

from __future__ import annotations

from typing import cast

import pytest
import trio
import trio.testing
from tests.replication.raft_cluster import FAST, IDS, Cluster, running

from seshat_trio.errors import ServiceError
from seshat_trio.node.group_service import read_barrier
from seshat_trio.raft import RaftCore, ReadState, Ready
from seshat_trio.replication.reads import EXPIRED, ReadBarriers


class StandInCore:
    def __init__(self) -> None:
        self.asked: list[int] = []  # read request ids, in order
        self.leader_id: int | None = 1

    def read_index(self, request_id: int) -> None:
        self.asked.append(request_id)


class Harness:
    def __init__(self) -> None:
        self.core = StandInCore()
        self.applied = 0
        self.reads = ReadBarriers(
            cast("RaftCore", self.core), lambda: self.applied, lambda: None, "stopped"
        )
        self.reads.accepting = True
        self.outcomes: dict[str, str] = {}  # reader -> "ok" or the error

    async def read(self, name: str, deadline: float) -> None:
        try:
            await self.reads.barrier(deadline)
        except ServiceError as exc:
            self.outcomes[name] = exc.message
        else:
            self.outcomes[name] = "ok"

    def answer(self, index: int) -> None:
        """The core confirms the latest request at `index` (a Ready; the round closes)."""
        self.reads.close_round()
        self.reads.resolve(Ready(read_states=(ReadState(self.core.asked[-1], index),)))
        self.reads.release_applied()

    async def tick_at(self, clock: trio.testing.MockClock, at: float) -> None:
        clock.jump(at - trio.current_time())
        self.reads.close_round()
        self.reads.expire(trio.current_time())
        await trio.testing.wait_all_tasks_blocked()


@pytest.fixture
def still_clock() -> trio.testing.MockClock:
    """Time moves only when a test jumps it."""
    return trio.testing.MockClock()


async def test_an_unanswered_read_fails_at_the_first_tick_after_its_deadline(
    still_clock: trio.testing.MockClock,
) -> None:
    h = Harness()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(h.read, "r", 5.0)
        await trio.testing.wait_all_tasks_blocked()
        await h.tick_at(still_clock, 4.9)
        assert h.outcomes == {}
        await h.tick_at(still_clock, 5.0)
        assert h.outcomes == {"r": EXPIRED}
    assert h.core.asked == [1]  # it did not ask again: its own deadline had passed


async def test_a_request_ended_by_an_earlier_deadline_is_asked_again_by_later_readers(
    still_clock: trio.testing.MockClock,
) -> None:
    h = Harness()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(h.read, "early", 5.0)
        nursery.start_soon(h.read, "late", 10.0)
        await trio.testing.wait_all_tasks_blocked()
        assert h.core.asked == [1]  # both joined one request
        await h.tick_at(still_clock, 5.0)
        assert h.outcomes == {"early": EXPIRED}
        assert h.core.asked == [1, 2]  # the late reader asks again
        h.applied = 3
        h.answer(3)  # to the second request: the first one expired
        await trio.testing.wait_all_tasks_blocked()
    assert h.outcomes == {"early": EXPIRED, "late": "ok"}


async def test_a_read_waiting_for_its_apply_fails_at_its_deadline(
    still_clock: trio.testing.MockClock,
) -> None:
    h = Harness()
    h.applied = 4
    async with trio.open_nursery() as nursery:
        nursery.start_soon(h.read, "behind", 5.0)
        nursery.start_soon(h.read, "applied in time", 20.0)
        await trio.testing.wait_all_tasks_blocked()
        h.answer(7)
        await trio.testing.wait_all_tasks_blocked()
        await h.tick_at(still_clock, 4.0)
        assert h.outcomes == {}
        await h.tick_at(still_clock, 6.0)
        assert h.outcomes == {"behind": EXPIRED}
        h.applied = 7
        h.reads.release_applied()
    assert h.outcomes == {"behind": EXPIRED, "applied in time": "ok"}


async def test_a_stopped_driver_fails_waiting_reads_as_stopped_not_as_expired() -> None:
    h = Harness()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(h.read, "confirming", 5.0)
        nursery.start_soon(h.read, "applying", 5.0)
        await trio.testing.wait_all_tasks_blocked()
        h.answer(3)  # "applying" waits for index 3 (nothing applied)
        nursery.start_soon(h.read, "confirming", 5.0)
        await trio.testing.wait_all_tasks_blocked()
        h.reads.stop()
    assert h.outcomes == {"confirming": "TRYAGAIN stopped", "applying": "TRYAGAIN stopped"}


async def test_an_isolated_leader_answers_a_read_timeout_within_a_tick_of_the_deadline(
    cluster: Cluster, clock: trio.testing.MockClock
) -> None:
    async with running(cluster, 30):
        leader = await cluster.leader()
        await leader.driver.read_barrier()
        cluster.network.isolated.update(i for i in IDS if i != leader.node_id)
        timeout_s = FAST.tick_seconds * 3.5  # shorter than an election timeout
        started = trio.current_time()
        with pytest.raises(ServiceError) as info:
            await read_barrier(leader.driver, timeout_s)
        waited = trio.current_time() - started
        assert info.value.message.startswith("TIMEOUT the read could not be confirmed within")
        assert EXPIRED in info.value.message
        assert timeout_s <= waited <= timeout_s + FAST.tick_seconds
