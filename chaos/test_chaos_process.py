"""Process faults: 30 s clock skew on one node (11); a follower and then the leader
paused with SIGSTOP for longer than the election timeout, then resumed (12)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import trio

from chaos.checks import final_check, max_gap_between_ok_writes, ok_writes_after
from chaos.cluster import ChaosCluster, open_cluster
from chaos.settings import ChaosSettings
from chaos.skew import faketime_env, log_clock_offset
from chaos.workload import Workload

PAUSE_SECONDS = 3.0  # > election_timeout_max_ms (1 s) with margin


def ports_of(cluster: ChaosCluster) -> dict[int, int]:
    return {i: n.client_port for i, n in cluster.nodes.items()}


async def test_clock_skew_30s(tmp_path: Path, settings: ChaosSettings) -> None:
    """11. Node 3 runs 30 s ahead (libfaketime): the cluster keeps committing with no gap
    over 3 s, whichever node leads; the skewed node serves linearizable reads too."""
    env = faketime_env("+30s")
    if env is None:
        pytest.skip("libfaketime is not installed (apt-get install faketime)")
    async with open_cluster(tmp_path, env={3: env}) as cluster:
        await cluster.node(3).info()  # something logged after this call is ~30 s ahead
        ahead = log_clock_offset(cluster.node(3).log_path.read_text(), time.time())
        assert ahead is not None and 25 < ahead < 35, f"node 3 is {ahead}s ahead, not ~30 s"
        workload = Workload(ports_of(cluster), clients=6, keys=8, seed=11)
        start = trio.current_time()
        async with workload.running():
            await trio.sleep(2 * settings.phase_seconds)
            # Move leadership around so the skewed node takes part in elections too.
            leader = await cluster.wait_leader()
            cluster.kill(leader)
            await cluster.wait_leader(timeout=10.0, among=[i for i in cluster.ids if i != leader])
            await cluster.start_node(leader, env if leader == 3 else None)
            await trio.sleep(2 * settings.phase_seconds)
        end = trio.current_time()
        gap = max_gap_between_ok_writes(workload, start, end)
        print(f"node 3 is {ahead:.1f}s ahead; longest gap {gap:.2f}s (one leader kill)")
        assert gap < 3.5
        assert ok_writes_after(workload, start, [3]) > 0
        await final_check(workload, cluster.ids)


async def test_pause_follower(tmp_path: Path, settings: ChaosSettings) -> None:
    """12a. SIGSTOP a follower for 3 s: the leader keeps its role and committing; the
    follower catches up after SIGCONT and serves linearizable reads."""
    async with open_cluster(tmp_path) as cluster:
        leader = await cluster.wait_leader()
        follower = next(i for i in cluster.ids if i != leader)
        term = (await cluster.node(leader).info())["group1_term"]
        workload = Workload(ports_of(cluster), clients=6, keys=8, seed=12)
        async with workload.running():
            await trio.sleep(settings.phase_seconds)
            cluster.pause(follower)
            paused_at = trio.current_time()
            await trio.sleep(PAUSE_SECONDS)
            cluster.resume(follower)
            resumed_at = trio.current_time()
            await trio.sleep(settings.phase_seconds)
        after = await cluster.node(leader).info()
        ok = ok_writes_after(workload, paused_at, [i for i in cluster.ids if i != follower])
        print(
            f"follower {follower} paused {resumed_at - paused_at:.1f}s; {ok} OK writes; "
            f"leader {leader} term {term} -> {after['group1_term']} {after['group1_role']}"
        )
        assert after["group1_role"] == "leader"
        assert ok > 10
        await cluster.wait_applied(int(after["group1_commit_index"]), cluster.ids)
        await final_check(workload, cluster.ids)


async def test_pause_leader(tmp_path: Path, settings: ChaosSettings) -> None:
    """12b. SIGSTOP the leader for 3 s: the others elect a new leader; after SIGCONT the
    old leader learns the new term and follows; no stale read or lost write (history)."""
    async with open_cluster(tmp_path) as cluster:
        old = await cluster.wait_leader()
        others = [i for i in cluster.ids if i != old]
        workload = Workload(ports_of(cluster), clients=6, keys=8, seed=120)
        async with workload.running():
            await trio.sleep(settings.phase_seconds)
            cluster.pause(old)
            paused_at = trio.current_time()
            new = await cluster.wait_leader(timeout=10.0, among=others)
            elected = trio.current_time() - paused_at
            await trio.sleep(max(0.0, PAUSE_SECONDS - elected))
            cluster.resume(old)
            info = await cluster.wait_role(old, "follower", timeout=10.0)
            await trio.sleep(settings.phase_seconds)
        print(
            f"leader {old} paused; new leader {new} after {elected:.2f}s; old leader "
            f"resumed as {info['group1_role']} of leader {info['group1_leader_id']}"
        )
        assert new != old
        assert elected < 3.0
        assert ok_writes_after(workload, paused_at + elected) > 0
        await final_check(workload, cluster.ids)
