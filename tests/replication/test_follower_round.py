"""A follower's round is one LevelDB write: its log entries, hard state and the apply of the
entries the leader's commit index covers, with the acknowledgement and the apply's
visibility after that write (replication/driver.py, `_handle_ready`)."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
import trio
import trio.testing
from tests.replication.raft_cluster import FAST, Cluster, running, write

from seshat_trio.storage import WriteBatch
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
        writes: list[list[object]] = []
        store_write = follower.store.write

        def recording(batch: WriteBatch, sync: bool = False) -> None:
            writes.append(list(batch))
            store_write(batch, sync)

        monkeypatch.setattr(follower.store, "write", recording)
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


async def test_a_stalled_follower_write_hides_its_apply_and_acknowledges_nothing(
    tmp_path: Path, clock: trio.testing.MockClock
) -> None:
    cluster = Cluster(tmp_path, SLOW_TICKS, publish_commits=False)
    async with running(cluster, 120) as nursery:
        leader = await cluster.leader()
        await cluster.wait_applied(await write(leader, b"warm", b"up"))
        follower = cluster.other_than(leader)
        first = await write(leader, b"a", b"1")
        assert follower.driver.applied_index < first  # its commit is not known there yet
        # The follower's disk stalls: the next Append carries `first`'s commit, so the
        # stalled write holds `first`'s apply together with the new entry.
        gate = follower.committer.gate = trio.Event()
        second = await write(leader, b"b", b"2")  # committed by the other follower
        read_done = trio.Event()

        async def follower_read() -> None:
            await follower.driver.read_barrier()
            value = follower.kv.get(b"b")
            assert value is not None and value.data == b"2"
            read_done.set()

        nursery.start_soon(follower_read)
        await trio.sleep(3)  # heartbeats come and go; the follower's loop waits on its disk
        # Nothing of the stalled write is visible or acknowledged: a reader released by
        # an applied index ahead of the store would read a value that is not there.
        assert follower.driver.applied_index < first
        assert follower.kv.get(b"a") is None
        assert not read_done.is_set()
        assert leader.driver.status().peers[follower.node_id].match < second
        follower.committer.gate = None
        gate.set()
        with trio.fail_after(10):
            await read_done.wait()
        assert follower.driver.applied_index >= second


async def test_a_follower_killed_with_its_round_unwritten_recovers_every_write(
    tmp_path: Path, clock: trio.testing.MockClock
) -> None:
    cluster = Cluster(tmp_path, SLOW_TICKS, publish_commits=False)
    async with running(cluster, 120) as nursery:
        leader = await cluster.leader()
        await cluster.wait_applied(await write(leader, b"warm", b"up"))
        follower = cluster.other_than(leader)
        first = await write(leader, b"a", b"1")
        follower.committer.gate = trio.Event()  # never opened: the write never happens
        second = await write(leader, b"b", b"2")
        await trio.sleep(2)
        applied_before = follower.driver.applied_index
        assert applied_before < first
        await follower.crash()  # the log entry and the apply staged with it: both lost
        await follower.start(nursery)
        # The restart resumes from what was written, and the leader re-sends the rest.
        assert follower.driver.applied_index == applied_before
        await cluster.wait_applied(second, [follower])
        assert sorted(follower.data()) == sorted(leader.data())
        assert (b"a", b"1") in follower.data() and (b"b", b"2") in follower.data()
