"""A job queue on lists under faults: producers push unique elements and consumers take
them with LPOP and BLPOP (clients blocked on any node) while the leader is killed and
restarted, then isolated and healed. No acknowledged push may be lost, nothing popped twice
(chaos/queue.py has the check)."""

from __future__ import annotations

from pathlib import Path

import trio

from chaos.cluster import ChaosCluster, open_cluster
from chaos.queue import QueueWorkload
from chaos.settings import ChaosSettings


def ports_of(cluster: ChaosCluster) -> dict[int, int]:
    return {i: n.client_port for i, n in cluster.nodes.items()}


async def test_list_queue_under_kill_and_partition(tmp_path: Path, settings: ChaosSettings) -> None:
    async with open_cluster(tmp_path) as cluster:
        leader = await cluster.wait_leader()
        queue = QueueWorkload(ports_of(cluster), producers=3, consumers=4, keys=2, seed=15)
        async with queue.running():
            await trio.sleep(settings.phase_seconds)
            cluster.kill(leader)
            others = [i for i in cluster.ids if i != leader]
            await cluster.wait_leader(timeout=10.0, among=others)
            await trio.sleep(settings.phase_seconds)
            await cluster.start_node(leader)
            await trio.sleep(settings.phase_seconds)
            leader = await cluster.wait_leader(timeout=10.0)
            cluster.mesh.isolate(leader)
            await cluster.wait_leader(timeout=10.0, among=[i for i in cluster.ids if i != leader])
            await trio.sleep(settings.phase_seconds)
            cluster.mesh.heal()
            await trio.sleep(settings.phase_seconds)
        remaining = await queue.final_lists(cluster.ids)
        print(f"\nlist queue: {queue.summary()}; {len(remaining)} left in the lists")
        queue.check(remaining)
        history = queue.history
        assert len(history.acked_pushes) > 20 and len(history.popped) > 10
        assert history.blocked_pops_served > 0
