"""The replies of submitted writes (replication/pending.py): deadlines kept by the driver's
ticks (`WriteDeadlines`, `PendingReply.expire_at`), and a resolved reply taken at once.

Units first (the order replies are checked and forgotten in), then a real cluster: a write
to a leader cut off from its followers is answered with its waiter's error within a tick
of the deadline. The dispatcher's side is in tests/commands/test_dispatch.py.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing
from tests.replication.raft_cluster import FAST, IDS, Cluster, running, set_op

from seshat_trio.errors import OutcomeUnknownError, ServiceError
from seshat_trio.protocol import SimpleString
from seshat_trio.replication.pending import PendingReply, WriteDeadlines

LATE = OutcomeUnknownError("TIMEOUT late")


async def outcome(pending: PendingReply) -> str:
    """'waiting', 'resolved' or the error a waiter gets."""
    if not pending.done:
        return "waiting"
    try:
        await pending
    except ServiceError as exc:
        return exc.message
    return "resolved"


async def outcomes(replies: list[PendingReply]) -> list[str]:
    return [await outcome(pending) for pending in replies]


async def test_replies_fail_at_their_deadline_and_resolved_ones_are_forgotten() -> None:
    deadlines = WriteDeadlines()
    replies = [PendingReply(deadlines) for _ in range(4)]
    for pending, at in zip(replies, (1.0, 2.0, 3.0, 4.0), strict=True):
        assert pending.expire_at(at, lambda: LATE)
    replies[1].resolve(())
    deadlines.expire(0.5)
    assert await outcomes(replies) == ["waiting", "resolved", "waiting", "waiting"]
    assert len(deadlines) == 4
    deadlines.expire(2.5)  # the first fails, the resolved second is forgotten
    assert await outcomes(replies) == ["TIMEOUT late", "resolved", "waiting", "waiting"]
    assert len(deadlines) == 2
    replies[2].resolve(())
    replies[3].resolve(())
    deadlines.expire(2.5)
    assert len(deadlines) == 0
    assert await outcome(replies[3]) == "resolved"  # resolved in time: no late error after


async def test_a_reply_nobody_set_a_deadline_on_holds_up_no_other() -> None:
    deadlines = WriteDeadlines()
    unwatched, watched = PendingReply(deadlines), PendingReply(deadlines)
    assert watched.expire_at(1.0, lambda: LATE)  # proposed after `unwatched`, which no one bounds
    deadlines.expire(1.0)
    assert await outcomes([unwatched, watched]) == ["waiting", "TIMEOUT late"]
    assert len(deadlines) == 0


async def test_a_reply_no_driver_keeps_is_left_to_its_waiter() -> None:
    resolved = PendingReply(WriteDeadlines())
    resolved.resolve(())
    assert resolved.expire_at(1.0, lambda: LATE)  # kept: there is nothing left to bound
    assert not PendingReply().expire_at(1.0, lambda: LATE)


async def test_a_cut_off_leader_answers_a_write_late_within_a_tick_of_its_deadline(
    cluster: Cluster, clock: trio.testing.MockClock
) -> None:
    async with running(cluster, 30):
        leader = await cluster.leader()
        cluster.network.isolated.update(i for i in IDS if i != leader.node_id)
        pending = leader.driver.propose(set_op(b"k", b"v"))
        deadline = trio.current_time() + FAST.tick_seconds * 3.5
        pending.expire_at(deadline, lambda: LATE)
        with pytest.raises(OutcomeUnknownError) as info:
            await pending
        assert info.value is LATE
        assert deadline <= trio.current_time() <= deadline + FAST.tick_seconds


async def test_a_resolved_reply_is_taken_without_a_scheduler_pass() -> None:
    pending = PendingReply()
    pending.resolve((SimpleString("OK"),))
    others: list[str] = []

    async def other() -> None:
        others.append("ran")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(other)
        assert await pending == (SimpleString("OK"),)
        assert others == []  # the task started before it has not had its turn yet


async def test_a_waiter_wakes_at_the_outcome_and_a_cancelled_one_leaves_it_to_the_next() -> None:
    pending = PendingReply()
    got: list[object] = []

    async def wait() -> None:
        got.append(await pending)

    with trio.move_on_after(0.01) as scope:
        await pending  # cancelled while waiting: the reply is not spent
    assert scope.cancelled_caught and not pending.done
    async with trio.open_nursery() as nursery:
        nursery.start_soon(wait)
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(trio.BusyResourceError):
            await pending  # one waiter at a time
        assert got == []
        pending.resolve((SimpleString("OK"),))
    assert got == [(SimpleString("OK"),)]
