"""A follower's round is one LevelDB write: its log entries, hard state and the apply of the
entries the leader's commit index covers, with the acknowledgement and the apply's
visibility after that write (replication/driver.py, `_handle_ready`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import attrs
import pytest
import trio
import trio.testing
from tests.replication.raft_cluster import FAST, Cluster, Node, record_writes, running, write

from seshat_trio.storage.batch import AppendLog, PutApplied, PutHardState, PutValues

# Heartbeats (which carry the commit index) once a second, no commit publication: the
# commit of a write reaches the followers with the next write's Append, as under load.
SLOW_TICKS = attrs.evolve(FAST, tick_seconds=1.0)


async def test_a_follower_round_is_one_write_holding_its_apply(
    cluster: Cluster, clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running(cluster, 30):
        leader = await cluster.leader()
        await cluster.wait_applied(await write(leader, b"warm", b"up"))
        follower = cluster.other_than(leader)
        writes = record_writes(follower, monkeypatch)
        first = await write(leader, b"a", b"1")
        last = await write(leader, b"b", b"2")
        await cluster.wait_applied(last, [follower])
        monkeypatch.undo()
    # Every write that applies also persists Raft state (entries or the commit index) and
    # never runs ahead of it: no write of its own for an apply.
    applied = [
        (ops, [op.index for op in ops if isinstance(op, PutApplied)])
        for ops in writes
        if any(isinstance(op, PutApplied) for op in ops)
    ]
    assert [indexes for _, indexes in applied] == [[first], [last]]
    for ops, (index,) in applied:
        commits = [op.state.commit for op in ops if isinstance(op, PutHardState)]
        assert commits and commits[-1] >= index
        assert any(isinstance(op, PutValues) for op in ops)
    # Two SETs, each persisted once and applied once: three writes (the second Append
    # carries the first's apply; the last commit-only round carries the second's), where
    # separate apply writes made five.
    assert len(writes) == 3
    assert any(isinstance(op, AppendLog) for op in applied[0][0])


@pytest.fixture
def slow(tmp_path: Path) -> Cluster:
    return Cluster(tmp_path, SLOW_TICKS, publish_commits=False)


@attrs.frozen
class Stalled:
    leader: Node
    follower: Node
    first: int  # written while the follower's disk worked; its commit not known there
    second: int  # committed by the other follower while this one's write stalls


@asynccontextmanager
async def stalled_follower(cluster: Cluster) -> AsyncIterator[tuple[Stalled, trio.Nursery]]:
    """`cluster` running with a follower whose disk stalls on the Append that carries
    `first`'s commit, so the stalled write holds `first`'s apply with `second`'s entry."""
    async with running(cluster, 120) as nursery:
        leader = await cluster.leader()
        await cluster.wait_applied(await write(leader, b"warm", b"up"))
        follower = cluster.other_than(leader)
        first = await write(leader, b"a", b"1")
        assert follower.driver.applied_index < first
        follower.committer.gate = trio.Event()
        second = await write(leader, b"b", b"2")
        await trio.sleep(3)  # heartbeats come and go; the follower's loop waits on its disk
        yield Stalled(leader, follower, first, second), nursery


async def test_a_stalled_follower_write_hides_its_apply_and_acknowledges_nothing(
    slow: Cluster, clock: trio.testing.MockClock
) -> None:
    async with stalled_follower(slow) as (stalled, nursery):
        follower = stalled.follower
        read_done = trio.Event()

        async def follower_read() -> None:
            await follower.driver.read_barrier()
            value = follower.kv.get(b"b")
            assert value is not None and value.data == b"2"
            read_done.set()

        nursery.start_soon(follower_read)
        await trio.sleep(1)
        # Nothing of the stalled write is visible or acknowledged: a reader released by
        # an applied index ahead of the store would read a value that is not there.
        assert follower.driver.applied_index < stalled.first
        assert follower.kv.get(b"a") is None
        assert not read_done.is_set()
        assert stalled.leader.driver.status().peers[follower.node_id].match < stalled.second
        gate, follower.committer.gate = follower.committer.gate, None
        assert gate is not None
        gate.set()
        with trio.fail_after(10):
            await read_done.wait()
        assert follower.driver.applied_index >= stalled.second


async def test_a_follower_killed_with_its_round_unwritten_recovers_every_write(
    slow: Cluster, clock: trio.testing.MockClock
) -> None:
    async with stalled_follower(slow) as (stalled, nursery):
        follower = stalled.follower
        applied_before = follower.driver.applied_index
        await follower.crash()  # the gate never opened: the entry and its staged apply are lost
        await follower.start(nursery)
        # The restart resumes from what was written, and the leader re-sends the rest.
        assert follower.driver.applied_index == applied_before
        await slow.wait_applied(stalled.second, [follower])
        assert sorted(follower.data()) == sorted(stalled.leader.data())
        assert {(b"a", b"1"), (b"b", b"2")} <= set(follower.data())
