"""A Ready whose write needs no wait is handled where the message that made it arrives
(`RaftGroupDriver._react`), without a Ready-loop pass: the leader's round ends inside the
delivery of the quorum's acknowledgement (its client replies resolve there), a follower's
Append is written and acknowledged inside its delivery. A write that must wait (a stalled
disk) is handed to the committer and acknowledged from its round's report, still without a
loop pass; a failure in either place ends the group as the loop's would."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio.testing
from tests.replication.raft_cluster import FAST, Cluster, Node, running, set_op, write

from seshat_trio.protocol import SimpleString
from seshat_trio.raft import Append, AppendResp
from seshat_trio.replication.driver import PeerMessage
from seshat_trio.storage import StorageError, WriteBatch

OK = (SimpleString("OK"),)


@pytest.fixture
def cluster(tmp_path: Path) -> Cluster:
    return Cluster(tmp_path, FAST)


async def _after_a_write(cluster: Cluster) -> tuple[Node, Node]:
    """The leader and a follower, once every node applied a first write."""
    leader = await cluster.leader()
    await cluster.wait_applied(await write(leader, b"base", b"0"))
    return leader, cluster.other_than(leader)


async def test_the_quorum_acknowledgement_resolves_the_reply_inside_its_delivery(
    cluster: Cluster, clock: trio.testing.MockClock
) -> None:
    async with running(cluster, 30):
        leader = await cluster.leader()
        await cluster.wait_applied(await write(leader, b"base", b"0"))
        driver = leader.driver
        deliver = driver.deliver
        pending = driver.propose(set_op(b"k", b"v"))
        target = driver.status().last_index + 1
        moved: list[bool] = []  # per ack that committed the write: its reply was resolved

        def spy(msg: PeerMessage) -> None:
            before = driver.status().commit
            deliver(msg)
            if isinstance(msg, AppendResp) and before < target <= driver.status().commit:
                moved.append(pending.done)

        driver.deliver = spy  # type: ignore[method-assign]
        assert await pending == OK
        del driver.deliver
        assert moved == [True]


async def test_a_follower_acknowledges_an_append_inside_its_delivery(
    cluster: Cluster, clock: trio.testing.MockClock
) -> None:
    async with running(cluster, 30):
        leader, follower = await _after_a_write(cluster)
        sent = cluster.network.sent
        deliver = follower.driver.deliver
        acked: list[bool] = []  # per Append with entries: its ack was sent at once

        def spy(msg: PeerMessage) -> None:
            deliver(msg)
            if isinstance(msg, Append) and msg.entries:
                last = msg.entries[-1].index
                acked.append(
                    any(
                        isinstance(m, AppendResp) and m.src == follower.node_id and m.index >= last
                        for m in sent[-3:]
                    )
                )

        follower.driver.deliver = spy  # type: ignore[method-assign]
        await write(leader, b"k", b"1")
        # A stalled disk: the write waits in the Ready loop, the ack after it.
        follower.committer.gate = gate = trio.Event()
        await write(leader, b"k", b"2")  # the other follower makes the quorum
        await trio.testing.wait_all_tasks_blocked()
        stalled = follower.driver.status().last_index
        follower.committer.gate = None
        gate.set()
        await cluster.wait_applied(leader.driver.applied_index)
        del follower.driver.deliver
        assert acked == [True, False]
        assert follower.driver.status().last_index == stalled
        assert dict(follower.data())[b"k"] == b"2"


@pytest.mark.parametrize("where", ["delivery", "committer"])
async def test_a_failed_write_outside_the_loop_ends_the_group(
    cluster: Cluster, clock: trio.testing.MockClock, where: str
) -> None:
    """Where the message arrived (`commit_now`), or in the round a stalled write was handed
    to (`submit`): the group ends as if its loop had raised."""
    with pytest.raises(BaseExceptionGroup) as failed:  # the whole run fails
        async with running(cluster, 30):
            leader, follower = await _after_a_write(cluster)
            committer = follower.committer

            def broken_now(batch: WriteBatch) -> bool:
                raise StorageError("disk gone")

            async def broken(batch: WriteBatch) -> None:
                await trio.lowlevel.checkpoint()
                raise StorageError("disk gone")

            if where == "delivery":
                committer.commit_now = broken_now  # type: ignore[method-assign]
            else:
                committer.gate = trio.Event()  # every write is submitted
                committer.commit = broken  # type: ignore[method-assign]
            await write(leader, b"k", b"v")
            await trio.sleep(1)
    assert failed.group_contains(StorageError, match="disk gone")


async def test_a_write_that_must_wait_is_acknowledged_from_its_round_not_the_loop(
    cluster: Cluster, clock: trio.testing.MockClock
) -> None:
    async with running(cluster, 30):
        leader, follower = await _after_a_write(cluster)
        network = cluster.network
        send = network.send
        acked_by: list[str] = []  # the task that sent each of the follower's acks

        def spy(msg: PeerMessage) -> None:
            if isinstance(msg, AppendResp) and msg.src == follower.node_id:
                acked_by.append(trio.lowlevel.current_task().name)
            send(msg)

        network.send = spy  # type: ignore[method-assign]
        follower.committer.gate = gate = trio.Event()  # a stalled disk
        await write(leader, b"k", b"1")  # the other follower makes the quorum
        await trio.testing.wait_all_tasks_blocked()
        assert acked_by == []
        follower.committer.gate = None
        gate.set()
        await cluster.wait_applied(leader.driver.applied_index, [follower])
        del network.send
        # The stalled write's ack leaves from its round's report; none from the Ready loop
        # (later ones leave inside their Appends' deliveries, by the network's task).
        assert acked_by[0].endswith("InlineCommitter._submitted")
        assert not any(name.endswith("RaftGroupDriver.run") for name in acked_by)
        assert dict(follower.data())[b"k"] == b"1"
