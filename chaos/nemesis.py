"""A seeded random nemesis: one fault at a time (kill, pause, partition, one-way
partition, isolated leader, latency, dropped connections), each undone after a random
duration, with quiet gaps between faults.

Rules: every choice comes from the injected `random.Random`, so a seed names the fault
schedule (the timing of the nodes' reactions is real, so a seed does not replay a run
exactly); the run is bounded by its duration; whatever happens, the nemesis ends with the
network healed, every paused node resumed and every killed node restarted.
"""

from __future__ import annotations

import random

import trio

from chaos.cluster import ChaosCluster

FAULTS = (
    "kill",
    "kill-leader",
    "pause",
    "partition",
    "one-way",
    "isolate-leader",
    "latency",
    "drop-connections",
)


class Nemesis:
    """Injects faults into `cluster` until `duration` seconds have passed."""

    def __init__(
        self,
        cluster: ChaosCluster,
        rng: random.Random,
        *,
        fault_seconds: tuple[float, float] = (1.0, 4.0),
        quiet_seconds: tuple[float, float] = (1.0, 3.0),
        faults: tuple[str, ...] = FAULTS,
    ) -> None:
        self.cluster = cluster
        self.rng = rng
        self.fault_seconds = fault_seconds
        self.quiet_seconds = quiet_seconds
        self.faults = faults
        self.log: list[tuple[float, str]] = []
        self.counts: dict[str, int] = dict.fromkeys(faults, 0)

    def note(self, text: str) -> None:
        self.log.append((trio.current_time(), text))

    async def run(self, duration: float) -> None:
        end = trio.current_time() + duration
        try:
            while trio.current_time() < end:
                await trio.sleep(min(self.rng.uniform(*self.quiet_seconds), duration))
                if trio.current_time() >= end:
                    break
                fault = self.rng.choice(self.faults)
                hold = self.rng.uniform(*self.fault_seconds)
                self.counts[fault] += 1
                await self._inject(fault, hold)
        finally:
            with trio.CancelScope(shield=True):
                await self.heal_all()

    async def _leader_or_random(self) -> int:
        try:
            with trio.fail_after(3.0):
                return await self.cluster.wait_leader(timeout=3.0)
        except trio.TooSlowError:
            return self.rng.choice(self.cluster.ids)

    async def _inject(self, fault: str, hold: float) -> None:
        cluster = self.cluster
        ids = cluster.ids
        victim = self.rng.choice(ids)
        if fault == "kill-leader":
            victim = await self._leader_or_random()
        if fault in ("kill", "kill-leader"):
            role = "leader " if fault == "kill-leader" else ""
            self.note(f"kill {role}node {victim} for {hold:.1f}s")
            cluster.kill(victim)
            await trio.sleep(hold)
            self.note(f"restart node {victim}")
            await cluster.start_node(victim)
        elif fault == "pause":
            self.note(f"pause node {victim} for {hold:.1f}s")
            cluster.pause(victim)
            await trio.sleep(hold)
            self.note(f"resume node {victim}")
            cluster.resume(victim)
        elif fault in ("partition", "isolate-leader"):
            if fault == "isolate-leader":
                victim = await self._leader_or_random()
            others = {i for i in ids if i != victim}
            self.note(f"partition {{{victim}}} | {sorted(others)} for {hold:.1f}s")
            cluster.mesh.partition({victim}, others)
            await trio.sleep(hold)
            self.note("heal")
            cluster.mesh.heal()
        elif fault == "one-way":
            target = self.rng.choice([i for i in ids if i != victim])
            self.note(f"one-way {victim} -x-> {target} for {hold:.1f}s")
            cluster.mesh.block(victim, target)
            await trio.sleep(hold)
            self.note("heal")
            cluster.mesh.heal()
        elif fault == "latency":
            self.note(f"latency 100ms on every link for {hold:.1f}s")
            cluster.mesh.set_latency(0.1)
            await trio.sleep(hold)
            self.note("heal")
            cluster.mesh.heal()
        elif fault == "drop-connections":
            self.note("drop every node-to-node connection")
            cluster.mesh.drop_connections()
        else:
            raise ValueError(f"unknown fault {fault!r}")

    async def heal_all(self) -> None:
        """Heal the network, resume paused nodes, restart dead ones."""
        self.cluster.mesh.heal()
        for node_id in sorted(self.cluster.paused):
            self.cluster.resume(node_id)
        for node_id, node in sorted(self.cluster.nodes.items()):
            if not node.alive:
                self.note(f"restart node {node_id} (final heal)")
                await self.cluster.start_node(node_id)
        self.note("healed")

    def describe(self) -> str:
        return "\n".join(f"  t={t:9.3f} {text}" for t, text in self.log)
