"""A Ready whose write needs no wait is handled where the message that made it arrives
(`RaftGroupDriver._react`), without a Ready-loop pass: the leader's round ends inside the
delivery of the quorum's acknowledgement (its client replies resolve there), a follower's
Append is written and acknowledged inside its delivery. A write that must wait (a stalled
disk) still goes through the loop, and a failure there ends the group as the loop's would."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio.testing
from tests.replication.raft_cluster import FAST, Cluster, running, set_op, write

from seshat_trio.protocol import SimpleString
from seshat_trio.raft import Append, AppendResp
from seshat_trio.replication.driver import PeerMessage
from seshat_trio.storage import StorageError, WriteBatch

OK = (SimpleString("OK"),)


@pytest.fixture
def cluster(tmp_path: Path) -> Cluster:
    return Cluster(tmp_path, FAST)


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
        leader = await cluster.leader()
        await cluster.wait_applied(await write(leader, b"base", b"0"))
        follower = cluster.other_than(leader)
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


async def test_a_failed_write_where_the_message_arrived_ends_the_group(
    cluster: Cluster, clock: trio.testing.MockClock
) -> None:
    with pytest.raises(BaseExceptionGroup) as failed:  # the whole run fails
        async with running(cluster, 30):
            leader = await cluster.leader()
            await cluster.wait_applied(await write(leader, b"base", b"0"))
            follower = cluster.other_than(leader)

            def broken(batch: WriteBatch) -> bool:
                raise StorageError("disk gone")

            follower.committer.commit_now = broken  # type: ignore[method-assign]
            await write(leader, b"k", b"v")
            await trio.sleep(1)
    assert failed.group_contains(StorageError, match="disk gone")
