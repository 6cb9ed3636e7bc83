"""Crash scenarios: kill the leader (1), a follower (2), two nodes (6), the leader during
a stream of writes (7), and the whole cluster (8)."""

from __future__ import annotations

from pathlib import Path

import trio

from chaos.checks import assert_nothing_succeeded, final_check, ok_writes_after
from chaos.cluster import ChaosCluster, open_cluster
from chaos.settings import ChaosSettings
from chaos.workload import Workload
from seshat_trio.testing.history import OpKind, OpStatus


def make_workload(
    cluster: ChaosCluster,
    seed: int,
    clients: int = 6,
    *,
    write_ratio: float = 0.4,
    think: float = 0.01,
) -> Workload:
    ports = {i: n.client_port for i, n in cluster.nodes.items()}
    return Workload(ports, clients=clients, keys=8, seed=seed, write_ratio=write_ratio, think=think)


async def test_kill_leader(tmp_path: Path, settings: ChaosSettings) -> None:
    """1. SIGKILL the leader: the others elect a new leader within 2 s; writes continue."""
    async with open_cluster(tmp_path) as cluster:
        workload = make_workload(cluster, seed=1)
        async with workload.running():
            await trio.sleep(settings.phase_seconds)
            old = await cluster.wait_leader()
            survivors = [i for i in cluster.ids if i != old]
            killed_at = trio.current_time()
            cluster.kill(old)
            new = await cluster.wait_leader(timeout=10.0, among=survivors)
            elected_after = trio.current_time() - killed_at
            await trio.sleep(settings.phase_seconds)
        print(f"old leader {old}, new leader {new} after {elected_after:.2f}s")
        assert new != old
        assert elected_after < 2.0, f"new leader after {elected_after:.2f}s"
        assert ok_writes_after(workload, killed_at + elected_after) > 0
        await cluster.start_node(old)
        await final_check(workload, cluster.ids)


async def test_kill_follower(tmp_path: Path, settings: ChaosSettings) -> None:
    """2. SIGKILL a follower: the leader keeps its role and the two nodes keep committing."""
    async with open_cluster(tmp_path) as cluster:
        leader = await cluster.wait_leader()
        follower = next(i for i in cluster.ids if i != leader)
        workload = make_workload(cluster, seed=2)
        async with workload.running([i for i in cluster.ids if i != follower]):
            await trio.sleep(settings.phase_seconds)
            cluster.kill(follower)
            killed_at = trio.current_time()
            await trio.sleep(2 * settings.phase_seconds)
            still = await cluster.wait_leader(among=[i for i in cluster.ids if i != follower])
        print(f"leader {leader} -> {still} with follower {follower} dead")
        assert still == leader, "a follower's death must not move leadership"
        assert ok_writes_after(workload, killed_at) > 10
        await cluster.start_node(follower)
        await final_check(workload, cluster.ids)


async def test_two_nodes_fail(tmp_path: Path, settings: ChaosSettings) -> None:
    """6. Kill two nodes: the survivor accepts no write (never OK); when one returns the
    cluster elects a leader and writes succeed again."""
    async with open_cluster(tmp_path) as cluster:
        survivor, *dead = cluster.ids
        workload = make_workload(cluster, seed=6, clients=4)
        async with workload.running([survivor]):
            await trio.sleep(settings.phase_seconds)
            for node_id in dead:
                cluster.kill(node_id)
            killed_at = trio.current_time()
            await trio.sleep(max(8.0, 2 * settings.phase_seconds))
            returned_at = trio.current_time()
            await cluster.start_node(dead[0])
            leader = await cluster.wait_leader(timeout=15.0, among=[survivor, dead[0]])
            recovered_at = trio.current_time()
            await trio.sleep(settings.phase_seconds)
        # Operations that completed more than one election timeout after the kill saw no
        # quorum; none of them may have succeeded (a read or a write).
        no_quorum = [
            r
            for r in workload.between(killed_at + 1.5, returned_at)
            if r.op.complete is not None and r.op.complete < returned_at
        ]
        ok_in_outage = [r for r in no_quorum if r.op.status is OpStatus.OK]
        print(
            f"outage ops {len(no_quorum)} ({ok_in_outage[:3]}), leader {leader} after "
            f"{recovered_at - returned_at:.2f}s"
        )
        assert no_quorum, "the survivor answered nothing during the outage"
        assert_nothing_succeeded(no_quorum)
        assert ok_writes_after(workload, recovered_at) > 0
        await cluster.start_node(dead[1])
        await final_check(workload, cluster.ids)


async def test_kill_leader_during_writes(tmp_path: Path, settings: ChaosSettings) -> None:
    """7. Kill the leader three times under a write-heavy stream: every OK write survives
    (the final reads and the history are linearizable), nothing is corrupted."""
    async with open_cluster(tmp_path) as cluster:
        workload = make_workload(cluster, seed=7, clients=8, write_ratio=0.8, think=0.0)
        async with workload.running():
            for _ in range(3):
                await trio.sleep(settings.phase_seconds)
                leader = await cluster.wait_leader(timeout=15.0)
                cluster.kill(leader)
                await trio.sleep(1.0)
                await cluster.start_node(leader)
            await trio.sleep(settings.phase_seconds)
        writes = [r for r in workload.records if r.op.kind is OpKind.WRITE]
        info = [r for r in writes if r.op.status is OpStatus.INFO]
        print(f"writes {len(writes)}, unknown outcome {len(info)}")
        assert len(workload.ok_writes()) > 50
        await cluster.wait_leader(timeout=15.0)
        await final_check(workload, cluster.ids)
        assert all(n.alive for n in cluster.nodes.values()), "a node died on its own"


async def test_full_cluster_restart(tmp_path: Path, settings: ChaosSettings) -> None:
    """8. SIGKILL all three nodes at once and start them again: the cluster re-forms and
    every acknowledged write is there."""
    async with open_cluster(tmp_path) as cluster:
        workload = make_workload(cluster, seed=8, write_ratio=0.7)
        async with workload.running():
            await trio.sleep(2 * settings.phase_seconds)
            cluster.kill_all()
        acknowledged = len(workload.ok_writes())
        for node_id in cluster.ids:
            await cluster.start_node(node_id, wait=False)
        for node_id in cluster.ids:
            await cluster.node(node_id).wait_serving()
        started = trio.current_time()
        leader = await cluster.wait_leader(timeout=30.0)
        print(
            f"{acknowledged} acknowledged writes; leader {leader} after "
            f"{trio.current_time() - started:.2f}s"
        )
        assert acknowledged > 20
        await final_check(workload, cluster.ids)
