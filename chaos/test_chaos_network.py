"""Network faults through the relays: a 2-1 partition (3), a one-way partition of the
leader's inbound links (4), an isolated leader (5), 100 ms latency on every link (9)."""

from __future__ import annotations

from pathlib import Path

import trio

from chaos.checks import (
    assert_nothing_succeeded,
    final_check,
    max_gap_between_ok_writes,
    ok_writes_after,
)
from chaos.cluster import ChaosCluster, open_cluster
from chaos.settings import ChaosSettings
from chaos.workload import Record, Workload
from seshat_trio.testing.history import HistoryRecorder


def ports_of(cluster: ChaosCluster) -> dict[int, int]:
    return {i: n.client_port for i, n in cluster.nodes.items()}


def cut_off_ops(workload: Workload, node: int, start: float, end: float) -> list[Record]:
    """Operations sent to `node`, invoked at or after `start`, completed before `end`."""
    return [
        r
        for r in workload.between(start, end, [node])
        if r.op.complete is not None and r.op.complete < end
    ]


async def test_minority_partition(tmp_path: Path, settings: ChaosSettings) -> None:
    """3. Cut a follower off (2-1): the majority keeps committing; the minority node
    answers no write with OK and serves no read at all (so no stale read)."""
    async with open_cluster(tmp_path) as cluster:
        leader = await cluster.wait_leader()
        minority = next(i for i in cluster.ids if i != leader)
        majority = [i for i in cluster.ids if i != minority]
        recorder = HistoryRecorder(trio.current_time)
        main = Workload(ports_of(cluster), clients=4, keys=6, seed=3, recorder=recorder)
        cut = Workload(
            ports_of(cluster), clients=3, keys=6, seed=33, first_client=50, recorder=recorder
        )
        async with main.running(majority), cut.running([minority]):
            await trio.sleep(settings.phase_seconds)
            cluster.mesh.partition({minority}, set(majority))
            parted_at = trio.current_time()
            await trio.sleep(max(8.0, 2 * settings.phase_seconds))
            healed_at = trio.current_time()
            cluster.mesh.heal()
            await trio.sleep(settings.phase_seconds)
        during = cut_off_ops(cut, minority, parted_at, healed_at)
        cut_links = [cluster.mesh.links[(minority, m)].stats for m in majority]
        print(f"minority {minority}: {len(during)} ops during the partition; links {cut_links}")
        # The fault really hit: each cut link had a live connection to drop or refused a
        # redial (the minority node keeps redialling its peers).
        assert all(s.dropped + s.refused > 0 for s in cut_links), cut_links
        assert len(during) >= 3
        assert_nothing_succeeded(during)
        assert ok_writes_after(main, parted_at, majority) > 10
        await final_check(main, cluster.ids, others=[cut])


async def test_one_way_partition_leader_steps_down(tmp_path: Path, settings: ChaosSettings) -> None:
    """4. Drop everything the followers send to the leader (its outbound links still work):
    it hears no majority, so it steps down (check-quorum); the followers elect a new
    leader; after the heal the old leader is a follower of the new term."""
    async with open_cluster(tmp_path) as cluster:
        old = await cluster.wait_leader()
        followers = [i for i in cluster.ids if i != old]
        workload = Workload(ports_of(cluster), clients=6, keys=8, seed=4)
        async with workload.running():
            await trio.sleep(settings.phase_seconds)
            for f in followers:
                cluster.mesh.block(f, old)
            cut_at = trio.current_time()
            info = await cluster.wait_not_leader(old, timeout=5.0)
            stepped_down = trio.current_time() - cut_at
            new = await cluster.wait_leader(timeout=10.0, among=followers)
            elected = trio.current_time() - cut_at
            await trio.sleep(settings.phase_seconds)
            cluster.mesh.heal()
            healed = await cluster.wait_role(old, "follower", timeout=10.0)
            await trio.sleep(settings.phase_seconds)
        print(
            f"old leader {old} stepped down after {stepped_down:.2f}s ({info['group1_role']}), "
            f"new leader {new} after {elected:.2f}s, rejoined in term {healed['group1_term']}"
        )
        assert new in followers
        assert int(healed["group1_leader_id"]) == new or int(healed["group1_leader_id"]) == 0
        assert ok_writes_after(workload, cut_at + elected) > 0
        await final_check(workload, cluster.ids)


async def test_isolated_leader(tmp_path: Path, settings: ChaosSettings) -> None:
    """5. Isolate the leader: it commits nothing (no OK through it), the other two elect a
    new leader, and after the heal the old leader rejoins as a follower."""
    async with open_cluster(tmp_path) as cluster:
        old = await cluster.wait_leader()
        others = [i for i in cluster.ids if i != old]
        workload = Workload(ports_of(cluster), clients=6, keys=8, seed=5)
        async with workload.running():
            await trio.sleep(settings.phase_seconds)
            before = await cluster.node(old).info()
            cluster.mesh.isolate(old)
            isolated_at = trio.current_time()
            new = await cluster.wait_leader(timeout=10.0, among=others)
            elected = trio.current_time() - isolated_at
            await trio.sleep(max(4.0, settings.phase_seconds))
            during_info = await cluster.node(old).info()
            healed_at = trio.current_time()
            cluster.mesh.heal()
            after = await cluster.wait_role(old, "follower", timeout=10.0)
            await trio.sleep(settings.phase_seconds)
        print(
            f"old leader {old} (term {before['group1_term']}) isolated; new leader {new} after "
            f"{elected:.2f}s; old leader while isolated: {during_info['group1_role']} "
            f"commit {during_info['group1_commit_index']}; after heal: {after['group1_role']} "
            f"term {after['group1_term']} leader {after['group1_leader_id']}"
        )
        assert new != old
        assert during_info["group1_role"] != "leader"
        assert int(after["group1_term"]) > int(before["group1_term"])
        assert_nothing_succeeded(cut_off_ops(workload, old, isolated_at, healed_at))
        assert ok_writes_after(workload, isolated_at + elected, others) > 0
        await final_check(workload, cluster.ids)


async def test_latency_100ms(tmp_path: Path, settings: ChaosSettings) -> None:
    """9. 100 ms each way on every node-to-node link: the cluster stays available (no gap
    longer than 3 s without an OK write) and keeps its leader."""
    async with open_cluster(tmp_path) as cluster:
        leader = await cluster.wait_leader()
        term = (await cluster.node(leader).info())["group1_term"]
        workload = Workload(ports_of(cluster), clients=6, keys=8, seed=9)
        async with workload.running():
            await trio.sleep(1.0)
            cluster.mesh.set_latency(0.1)
            slow_from = trio.current_time()
            await trio.sleep(max(8.0, 3 * settings.phase_seconds))
            slow_to = trio.current_time()
            cluster.mesh.heal()
        after = await cluster.node(leader).info()
        ok = ok_writes_after(workload, slow_from)
        gap = max_gap_between_ok_writes(workload, slow_from, slow_to)
        print(
            f"{ok} OK writes under latency, longest gap {gap:.2f}s, term {term} -> "
            f"{after['group1_term']}"
        )
        assert gap < 3.0
        assert ok > 20
        assert after["group1_role"] == "leader" and after["group1_term"] == term
        await final_check(workload, cluster.ids)
