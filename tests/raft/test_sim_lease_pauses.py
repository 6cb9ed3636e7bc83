"""Lease reads under leader pauses, on the simulator: a paused leader resumes with reads
queued in its socket buffers and ticks that stopped counting while it slept; it must never
answer them from its old lease (docs/raft.md, "Lease reads").

The simulated driver, like the production one, ticks once per period and does not catch up
on missed ticks, so this fails if the driver does not void the lease after a gap. The
randomized campaign under pauses is in test_sim_mutations.py (with and without the void)."""

from __future__ import annotations

import attrs
import pytest

from seshat_trio.testing.history import OpStatus
from seshat_trio.testing.kvapp import Command
from seshat_trio.testing.raftsim import SimConfig, Simulation


def _lease_config(seed: int) -> SimConfig:
    config = SimConfig.for_seed(seed)
    node = attrs.evolve(config.node, lease_reads=True, clock_skew=0.02)
    return attrs.evolve(config, nodes=3, node=node)


@pytest.mark.parametrize("seed", range(8))
def test_resumed_leader_never_serves_its_old_lease(seed: int) -> None:
    config = _lease_config(seed)
    calm = attrs.evolve(config.node, fsync_max_ms=3.0, fsync_stall_probability=0.0)
    sim = Simulation(attrs.evolve(config, node=calm))
    sim.start(clients=False, faults=False)
    cluster = sim.cluster
    sim.await_condition("a leader", lambda: cluster.leader() is not None, 2000)
    old = cluster.leader()
    assert old is not None
    outcomes: list[object] = []
    old.client_write(Command(1, b"k", b"old"), outcomes.append)
    sim.await_condition("the first write", lambda: outcomes == [OpStatus.OK], 1000)
    sim.run_for(3 * old.tick_period)  # heartbeat rounds acknowledged: the lease is fresh
    old.pause(60 * old.tick_period)
    # Cut off too, so that it resumes with nothing from the new leader queued up: only its
    # own clock can tell it that its lease is gone.
    cluster.network.isolate(old.id, cluster.nodes)
    sim.await_condition(
        "a new leader",
        lambda: (leader := cluster.leader()) is not None and leader is not old,
        50 * old.tick_period,
    )
    new = cluster.leader()
    assert new is not None
    new.client_write(Command(2, b"k", b"new"), outcomes.append)
    sim.await_condition("the second write", lambda: len(outcomes) == 2, 50 * old.tick_period)
    assert outcomes[1] is OpStatus.OK
    reads: list[tuple[OpStatus, bytes | None]] = []
    # Sent while the old leader sleeps: it waits in the socket buffer until the resume.
    # (The invariants also check its read index against the commit index of now.)
    old.client_read(b"k", lambda status, value: reads.append((status, value)))
    sim.await_condition("the read", lambda: bool(reads), 100 * old.tick_period)
    status, value = reads[0]
    assert value != b"old"
    assert status is OpStatus.FAIL or value == b"new"
