"""Three RaftGroupDrivers in one trio run (raft_cluster.py), real Stores, an in-memory
network, MockClock time. The production path (GroupCommitter + worker threads) is exercised
by the last test on a real clock.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest
import trio
import trio.testing
from tests.replication.raft_cluster import (
    FAST,
    GROUP,
    IDS,
    MEMBERSHIP,
    Cluster,
    Network,
    Node,
    running,
    set_op,
    write,
)

from seshat_trio.errors import OutcomeUnknownError, ServiceError
from seshat_trio.kv.operations import Operation, encode_batch, encode_operation
from seshat_trio.kv.state_machine import KvStateMachine
from seshat_trio.node.system_bootstrap import bootstrap_system_group
from seshat_trio.protocol import ErrorReply, SimpleString
from seshat_trio.raft import NotLeader, RaftConfig, Role, SnapshotChunk
from seshat_trio.replication.driver import (
    DriverSettings,
    PeerMessage,
    RaftGroupDriver,
    run_in_thread,
)
from seshat_trio.replication.pending import PendingReply
from seshat_trio.replication.ticker import Ticker
from seshat_trio.storage import GroupCommitter, Store, WriteBatch
from seshat_trio.storage.batch import PutHardState
from seshat_trio.system.layout import NodeAddresses, initial_layout, layout_of
from seshat_trio.system.machine import SystemStateMachine


async def test_leader_replicates_to_all_and_followers_refuse_writes(
    cluster: Cluster, clock: trio.testing.MockClock
) -> None:
    async with running(cluster, 30):
        leader = await cluster.leader()
        pendings = [leader.driver.propose(set_op(b"k%d" % i, b"v%d" % i)) for i in range(40)]
        for pending in pendings:
            assert await pending == (SimpleString("OK"),)
        await cluster.wait_applied(leader.driver.applied_index)
        expected = [(b"k%d" % i, b"v%d" % i) for i in range(40)]
        for node in cluster:
            assert sorted(node.data()) == sorted(expected)
        follower = cluster.other_than(leader)
        with pytest.raises(NotLeader) as info:
            follower.driver.propose(set_op(b"x", b"y"))
        assert info.value.leader_id == leader.node_id
        status = leader.driver.status()
        assert status.role is Role.LEADER and status.leader_id == leader.node_id
        assert set(status.peers) == set(IDS) - {leader.node_id}
        assert all(p.match == status.last_index for p in status.peers.values())


async def test_leader_writes_commit_with_the_apply_in_one_write(
    cluster: Cluster, clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running(cluster, 30):
        leader = await cluster.leader()
        await write(leader, b"warm", b"up")
        await cluster.wait_applied(leader.driver.applied_index)
        batches: list[list[object]] = []
        store_write = leader.store.write

        def recording(batch: WriteBatch, sync: bool = False) -> None:
            batches.append(list(batch))
            store_write(batch, sync)

        monkeypatch.setattr(leader.store, "write", recording)
        index = await write(leader, b"k", b"v")
        monkeypatch.undo()
    # The round: the log append (synced), then ONE unsynced write holding the apply, the
    # applied index and the commit-only hard state, not a write of its own for the commit.
    kinds = [sorted({type(op).__name__ for op in ops}) for ops in batches]
    assert "AppendLog" in kinds[0]
    assert kinds[1:] == [["PutApplied", "PutHardState", "PutValues"]]
    commits = [op.state.commit for op in batches[1] if isinstance(op, PutHardState)]
    assert commits == [index]


async def test_read_barrier_on_follower_sees_acknowledged_write(
    cluster: Cluster, clock: trio.testing.MockClock
) -> None:
    async with running(cluster, 30):
        leader = await cluster.leader()
        follower = cluster.other_than(leader)
        # Hold the follower's traffic back so it cannot have applied the write by luck.
        cluster.network.isolated.add(follower.node_id)
        await write(leader, b"k", b"fresh")
        assert follower.kv.get(b"k") is None
        cluster.network.isolated.clear()
        await follower.driver.read_barrier()
        value = follower.kv.get(b"k")
        assert value is not None and value.data == b"fresh"
        await leader.driver.read_barrier()  # on the leader too


async def test_concurrent_reads_share_one_read_index_request(
    cluster: Cluster, clock: trio.testing.MockClock
) -> None:
    async with running(cluster, 30):
        leader = await cluster.leader()
        follower = cluster.other_than(leader)
        for node in (leader, follower):
            await write(leader, b"k", b"v" + bytes([node.node_id]))
            before = node.driver._reads.requests
            seen: list[bytes] = []

            async def read(node: Node = node, seen: list[bytes] = seen) -> None:
                await node.driver.read_barrier()
                value = node.kv.get(b"k")
                assert value is not None
                seen.append(value.data)

            # Started together, the reads join one request; the driver's Ready loop may
            # run once among them (it may already be scheduled), which starts a second.
            async with trio.open_nursery() as reads:
                for _ in range(20):
                    reads.start_soon(read)
            assert seen == [b"v" + bytes([node.node_id])] * 20
            used = node.driver._reads.requests - before
            assert 1 <= used <= 2
            # A read after that Ready took the request asks again.
            await node.driver.read_barrier()
            assert node.driver._reads.requests == before + used + 1


async def test_a_read_answer_is_resolved_without_a_ready_loop_pass(
    cluster: Cluster, clock: trio.testing.MockClock
) -> None:
    # A read costs the reading node no full Ready (`_start_ready`): its round (the leader)
    # or its request (a follower) leaves as messages alone (`RaftCore.take_messages`), and
    # the answer wakes the reader where it arrives.
    async with running(cluster, 30):
        leader = await cluster.leader()
        await write(leader, b"k", b"v")
        for node in (leader, cluster.other_than(leader)):
            await node.driver.read_barrier()  # whatever the write left owed is sent first
            passes: list[object] = []
            start = node.driver._start_ready

            def counted(
                ready: object, start: Callable = start, passes: list[object] = passes
            ) -> object:
                passes.append(ready)
                return start(ready)

            node.driver._start_ready = counted  # type: ignore[method-assign]
            await node.driver.read_barrier()
            del node.driver._start_ready
            assert passes == []


async def test_a_tick_closes_the_shared_read_request(
    tmp_path: Path, clock: trio.testing.MockClock
) -> None:
    # While the Ready loop waits on a stalled disk, ticks go on: a read after a tick must not
    # join a request opened before it (a lease checked then may have expired since).
    cluster = Cluster(tmp_path, FAST)
    async with running(cluster, 30):
        leader = await cluster.leader()
        await write(leader, b"k", b"v")
        gate = leader.committer.gate = trio.Event()
        async with trio.open_nursery() as tasks:
            tasks.start_soon(write, leader, b"k", b"stalled")
            await trio.testing.wait_all_tasks_blocked()  # the Ready loop waits on the disk
            before = leader.driver._reads.requests
            tasks.start_soon(leader.driver.read_barrier)
            await trio.sleep(FAST.tick_seconds * 1.5)
            tasks.start_soon(leader.driver.read_barrier)
            await trio.testing.wait_all_tasks_blocked()
            assert leader.driver._reads.requests == before + 2
            leader.committer.gate = None
            gate.set()


async def test_read_barrier_without_leader_fails_clearly(
    cluster: Cluster, clock: trio.testing.MockClock
) -> None:
    async with running(cluster, 30):
        leader = await cluster.leader()
        follower = cluster.other_than(leader)
        cluster.network.isolated.add(follower.node_id)
        # The isolated follower still believes in the leader: the forwarded read times
        # out, the retry too (then no leader is known any more).
        with pytest.raises(ServiceError) as info:
            await follower.driver.read_barrier()
        assert info.value.message.split()[0] in {"TIMEOUT", "NOLEADER", "TRYAGAIN"}


async def test_leader_crash_new_leader_then_old_node_catches_up(
    cluster: Cluster, clock: trio.testing.MockClock
) -> None:
    async with running(cluster, 60) as nursery:
        old = await cluster.leader()
        for i in range(10):
            await write(old, b"a%d" % i, b"1")
        await old.crash()
        others = set(IDS) - {old.node_id}
        new = await cluster.leader(others)
        assert new is not old
        for i in range(10):
            last = await write(new, b"b%d" % i, b"2")
        await old.start(nursery)
        await cluster.wait_applied(last)
        reference = new.data()
        assert len(reference) == 20
        for node in cluster:
            assert node.data() == reference


async def test_partitioned_follower_catches_up_by_chunked_snapshot(
    tmp_path: Path, clock: trio.testing.MockClock
) -> None:
    settings = attrs.evolve(FAST, snapshot_entries=50, snapshot_chunk_bytes=256, snapshot_window=2)
    cluster = Cluster(tmp_path, settings)
    async with running(cluster, 60):
        leader = await cluster.leader()
        lagging = cluster.other_than(leader)
        await write(leader, b"before", b"x")
        await cluster.wait_applied(leader.driver.applied_index)
        cluster.network.isolated.add(lagging.node_id)
        for i in range(200):
            last = await write(leader, b"key%03d" % i, b"value-%d" % i * 3)
        assert leader.driver.status().snapshot_index > 100  # the leader compacted
        assert lagging.driver.applied_index < 10
        # The first stream loses a chunk: the follower refuses the next one, the leader
        # reports the failure to its core and a later offer streams it again.
        lost: list[SnapshotChunk] = []

        def lose_one(msg: PeerMessage) -> bool:
            if isinstance(msg, SnapshotChunk) and msg.offset > 0 and not lost:
                lost.append(msg)
                return True
            return False

        cluster.network.drop = lose_one
        cluster.network.isolated.clear()
        await cluster.wait_applied(last)
        assert lost
        chunks = [
            m
            for m in cluster.network.sent
            if isinstance(m, SnapshotChunk) and m.dst == lagging.node_id
        ]
        assert [m.offset for m in chunks].count(0) >= 2  # streamed twice
        assert len(chunks) > 3  # it came as a stream of chunks, not entries
        status = lagging.driver.status()
        assert status.snapshot_index > 100
        reference = leader.data()
        assert len(reference) == 201
        for node in cluster:
            assert node.data() == reference
        # It keeps replicating normally afterwards.
        last = await write(leader, b"after", b"y")
        await cluster.wait_applied(last)
        assert lagging.kv.get(b"after") is not None


async def test_restart_replays_to_the_same_state(
    tmp_path: Path, clock: trio.testing.MockClock
) -> None:
    settings = attrs.evolve(FAST, snapshot_entries=25)
    cluster = Cluster(tmp_path, settings)
    async with running(cluster, 60) as nursery:
        leader = await cluster.leader()
        for i in range(60):
            last = await write(leader, b"k%d" % (i % 17), b"%d" % i)
        await cluster.wait_applied(last)
        before = {n.node_id: (n.driver.applied_index, n.data()) for n in cluster}
        await cluster.stop()
        for node in cluster:
            await node.start(nursery)
            # Nothing is lost or applied twice: the state machine resumes where it was.
            assert (node.driver.applied_index, node.data()) == before[node.node_id]
            assert node.driver.status().commit >= node.driver.status().snapshot_index
        leader = await cluster.leader()
        last = await write(leader, b"k0", b"new")
        await cluster.wait_applied(last)
        for node in cluster:
            value = node.kv.get(b"k0")
            assert value is not None and value.data == b"new"


@pytest.mark.parametrize("merge", [None, encode_batch], ids=["entry-per-write", "merged"])
async def test_pending_proposals_end_committed_or_failed_when_leadership_is_lost(
    tmp_path: Path,
    clock: trio.testing.MockClock,
    merge: Callable[[list[bytes]], bytes] | None,
) -> None:
    cluster = Cluster(tmp_path, FAST, merge=merge)
    outcomes: dict[bytes, str] = {}

    async def track(key: bytes, pending: PendingReply) -> None:
        try:
            await pending
            outcomes[key] = "ok"
        except OutcomeUnknownError:
            outcomes[key] = "unknown"
        except ServiceError:
            outcomes[key] = "failed"

    async with running(cluster, 60):
        old = await cluster.leader()
        await write(old, b"base", b"0")
        cluster.network.isolated.add(old.node_id)
        async with trio.open_nursery() as waiters:
            for i in range(5):
                key = b"lost%d" % i
                waiters.start_soon(track, key, old.driver.propose(set_op(key, b"x")))
            new = await cluster.leader(set(IDS) - {old.node_id})
            for i in range(5):
                await write(new, b"won%d" % i, b"y")
            cluster.network.isolated.clear()
        # Every pending write ended; those of the deposed leader were overwritten.
        assert outcomes == {b"lost%d" % i: "failed" for i in range(5)}
        await cluster.wait_applied(new.driver.applied_index)
        for node in cluster:
            keys = {k for k, _ in node.data()}
            assert keys == {b"base"} | {b"won%d" % i for i in range(5)}


async def test_writes_queued_when_a_transfer_starts_commit_under_the_new_leader(
    cluster: Cluster, clock: trio.testing.MockClock
) -> None:
    async with running(cluster, 30):
        leader = await cluster.leader()
        target = cluster.other_than(leader)
        await cluster.wait_applied(await write(leader, b"base", b"0"))
        # Queued in this scheduler pass, before the Raft loop took them into the log.
        pendings = [leader.driver.propose(set_op(b"k%d" % i, b"v")) for i in range(20)]
        leader.driver.transfer_leadership(target.node_id)
        assert [await pending for pending in pendings] == [(SimpleString("OK"),)] * 20
        applied = leader.driver.applied_index  # it answered them once it applied them
        while target.driver.role is not Role.LEADER:
            await target.driver.wait_changed()
        await cluster.wait_applied(max(applied, target.driver.applied_index))
        assert all(dict(node.data())[b"k19"] == b"v" for node in cluster)


async def test_merged_proposals_share_entries_and_each_gets_its_own_reply(
    tmp_path: Path, clock: trio.testing.MockClock
) -> None:
    settings = attrs.evolve(FAST, max_merged_entry_bytes=600)
    cluster = Cluster(tmp_path, settings, merge=encode_batch)
    incr = encode_operation(Operation(time_ms=1_000, commands=((b"incr", b"n"),)))
    async with running(cluster, 30):
        leader = await cluster.leader()
        await write(leader, b"base", b"0")
        before = leader.driver.status().last_index
        # Proposed in one go, so one pass of the Raft loop takes them all.
        pendings = [leader.driver.propose(incr) for _ in range(40)]
        pendings.append(leader.driver.propose(set_op(b"n", b"not a number")))
        pendings.append(leader.driver.propose(incr))
        replies = [await pending for pending in pendings]
        assert replies[:40] == [(i,) for i in range(1, 41)]
        assert replies[40] == (SimpleString("OK"),)
        assert isinstance(replies[41][0], ErrorReply)
        # 42 writes of ~30 bytes in entries of at most 600 bytes: a handful, not 42.
        used = leader.driver.status().last_index - before
        assert 2 <= used <= 4
        await cluster.wait_applied(leader.driver.applied_index)
        assert all(node.data() == leader.data() for node in cluster)
        assert dict(leader.data())[b"n"] == b"not a number"


async def test_stopping_driver_reports_pending_writes_as_unknown(
    cluster: Cluster, clock: trio.testing.MockClock
) -> None:
    async with running(cluster, 30):
        leader = await cluster.leader()
        cluster.network.isolated.add(leader.node_id)
        pending = leader.driver.propose(set_op(b"k", b"v"))
        await trio.sleep(0.005)
        await leader.crash()
        with pytest.raises(OutcomeUnknownError):
            await pending


async def test_system_group_bootstraps_layout_once(
    tmp_path: Path, clock: trio.testing.MockClock
) -> None:
    cluster = Cluster(tmp_path, FAST, system=True)
    layout = initial_layout([NodeAddresses(i, f"127.0.0.1:{7000 + i}") for i in IDS], 1)
    async with running(cluster, 30):
        async with trio.open_nursery() as bootstraps:
            for node in cluster:
                assert isinstance(node.machine, SystemStateMachine)
                bootstraps.start_soon(bootstrap_system_group, node.driver, node.machine, layout)
        leader = await cluster.leader()
        await cluster.wait_applied(leader.driver.applied_index)
        for node in cluster:
            assert isinstance(node.machine, SystemStateMachine)
            assert layout_of(node.machine.state) == layout
            assert node.store.get_system(0, "members") == leader.store.get_system(0, "members")
        await cluster.stop()
        # Restart: the layout is read back from system_data.
        for node in cluster:
            node.store = Store.open(node.path)
            assert layout_of(SystemStateMachine(node.store).state) == layout
            node.store.close()


async def test_production_path_with_group_commit_and_threads(tmp_path: Path) -> None:
    """Real clock, GroupCommitter (synced rounds in a worker thread), threaded offload."""
    network = Network()
    stores = {i: Store.open(tmp_path / f"n{i}") for i in IDS}
    try:
        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(network.run)
                drivers: dict[int, RaftGroupDriver] = {}
                for i in IDS:
                    committer = GroupCommitter(stores[i])
                    nursery.start_soon(committer.run)
                    drivers[i] = network.drivers[i] = RaftGroupDriver(
                        raft_config=RaftConfig(group=GROUP, node_id=i),
                        store=stores[i],
                        committer=committer,
                        machine=KvStateMachine(stores[i], GROUP),
                        transport=network,
                        initial_membership=MEMBERSHIP,
                        settings=DriverSettings(tick_seconds=0.05),
                        rng=random.Random(i),
                        offload=run_in_thread,
                    )
                    await nursery.start(drivers[i].run)
                nursery.start_soon(Ticker(0.05, drivers.values()).run)
                while not any(d.role is Role.LEADER for d in drivers.values()):
                    await trio.sleep(0.01)
                leader = next(d for d in drivers.values() if d.role is Role.LEADER)
                pendings = [leader.propose(set_op(b"k%d" % i, b"v")) for i in range(50)]
                for pending in pendings:
                    assert await pending == (SimpleString("OK"),)
                for driver in drivers.values():
                    while driver.applied_index < leader.applied_index:
                        await trio.sleep(0.01)
                data = [list(s.iter_values(GROUP)) for s in stores.values()]
                assert data[0] == data[1] == data[2] and len(data[0]) == 50
                nursery.cancel_scope.cancel()
    finally:
        for store in stores.values():
            store.close()
