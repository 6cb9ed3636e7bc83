"""15. The random mix: CHAOS_CLIENTS concurrent clients for CHAOS_MIX_SECONDS while a
seeded nemesis (CHAOS_SEED) kills, pauses and partitions at random; it ends healed, then
every key is read once through every node in turn and the history must be linearizable."""

from __future__ import annotations

import random
from pathlib import Path

import trio

from chaos.checks import final_check, ok_writes_after
from chaos.cluster import open_cluster
from chaos.nemesis import Nemesis
from chaos.settings import ChaosSettings
from chaos.workload import Workload


async def test_random_mix(tmp_path: Path, settings: ChaosSettings) -> None:
    async with open_cluster(tmp_path) as cluster:
        ports = {i: n.client_port for i, n in cluster.nodes.items()}
        workload = Workload(
            ports,
            clients=settings.clients,
            keys=max(8, settings.clients),
            seed=settings.seed,
            think=0.05,
        )
        nemesis = Nemesis(cluster, random.Random(settings.seed))
        async with workload.running():
            await nemesis.run(settings.mix_seconds)
            healed_at = trio.current_time()
            leader = await cluster.wait_leader(timeout=20.0)
            await trio.sleep(2.0)
        print(
            f"seed {settings.seed}, {settings.clients} clients, {settings.mix_seconds:g}s; "
            f"faults {nemesis.counts}; leader {leader} after the heal\n{nemesis.describe()}"
        )
        assert sum(nemesis.counts.values()) >= 1
        assert ok_writes_after(workload, healed_at) > 0, "no write succeeded after the heal"
        assert all(n.alive for n in cluster.nodes.values()), cluster.states()
        await final_check(workload, cluster.ids, timeout=60.0)
