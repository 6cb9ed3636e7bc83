"""Membership changes on the deterministic simulator: scripted schedules and the CI batch.

Scripted: a crash (of the leader, the node the change is about, or another member) at
every point of a change, from the instant it is proposed to well after it applied; a
joiner killed mid-snapshot; growing 1 -> 3 -> 5 -> 3 -> 1 with the leader crashed in
every step; replacing a killed voter and then surviving one more failure. Each ends with
heal + settle, final reads, and the linearizability check of every client operation (so
no acknowledged write is lost); the invariants (election safety, log matching, leader
completeness, no committed entry lost, membership-change rules) run at every event.

Batch (marked slow; CI runs it): SESHAT_SIM_MEMBERSHIP_SCHEDULES (default 2000) seeded
membership campaigns (`SimConfig.for_membership_seed`: plans back to back from 1, 3 or 5
voters, strikes inside every step) of SESHAT_SIM_MEMBERSHIP_STEPS (default 1000) events.
Replay one with `python -m seshat_trio.testing.raftsim --membership --start SEED --seeds 1
--steps 1000 -v`.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import attrs
import pytest
from tests.raft.sim_seeds import over_seed_chunks

from seshat_trio.raft import (
    ChangeKind,
    ConfigChange,
    ConfigChangeRejected,
    LeadershipTransferInProgress,
    Membership,
    NotLeader,
    Role,
)
from seshat_trio.testing.driver import SimNode
from seshat_trio.testing.history import OpKind, OpStatus
from seshat_trio.testing.nemesis import NemesisParams
from seshat_trio.testing.raftsim import SimConfig, Simulation, run_simulation
from seshat_trio.testing.reconfig import change_done

SCHEDULES = int(os.environ.get("SESHAT_SIM_MEMBERSHIP_SCHEDULES", "2000"))
STEPS = int(os.environ.get("SESHAT_SIM_MEMBERSHIP_STEPS", "1000"))
CHUNK = 100


@pytest.mark.slow
@over_seed_chunks(SCHEDULES, CHUNK)
def test_membership_campaigns(first: int, count: int) -> None:
    failed = []
    plans = 0
    for seed in range(first, first + count):
        result = run_simulation(SimConfig.for_membership_seed(seed, STEPS))
        plans += sum(n for name, n in result.plans.items() if name not in ("strikes", "abandoned"))
        if not result.ok:
            failed.append(result)
    assert not failed, f"{len(failed)} failing seed(s): {[r.seed for r in failed]}\n" + failed[
        0
    ].report(STEPS)
    assert plans >= count // 2  # the campaigns really change the membership


# --- scripted schedules ------------------------------------------------------------------


def _sim(seed: int, nodes: int, **node_overrides: object) -> Simulation:
    base = SimConfig.for_seed(seed)
    config = attrs.evolve(
        base,
        nodes=nodes,
        node=attrs.evolve(base.node, **node_overrides),
        nemesis=NemesisParams(membership_changes=False),
    )
    sim = Simulation(config)
    sim.start(faults=False)
    return sim


def _leader(sim: Simulation) -> SimNode:
    sim.await_condition("a leader", lambda: _leading(sim) is not None, 3000)
    leader = _leading(sim)
    assert leader is not None
    return leader


def _leading(sim: Simulation) -> SimNode | None:
    """The leader, once it committed in its term (it then accepts membership changes)."""
    leader = sim.cluster.leader()
    if leader is None or leader.core is None:
        return None
    core = leader.core
    return leader if core.log_term(core.commit) == core.term else None


def _membership(sim: Simulation) -> Membership:
    core = _leader(sim).core
    assert core is not None
    return core.membership


def _propose(sim: Simulation, change: ConfigChange) -> SimNode | None:
    """Propose `change` on the leader (moving leadership off a leader it removes); the
    node that accepted it, or None if it must be retried."""
    leader = _leading(sim)
    if leader is None or leader.core is None:
        return None
    core = leader.core
    try:
        if change.kind is ChangeKind.REMOVE and change.node_id == leader.id:
            others = sorted(core.membership.voters - {leader.id})
            core.transfer_leadership(others[0])
            leader.pump()
            return None
        core.change_membership(change)
    except (NotLeader, LeadershipTransferInProgress, ConfigChangeRejected):
        return None
    leader.pump()
    return leader


def _apply(
    sim: Simulation,
    change: ConfigChange,
    strike: Callable[[SimNode], None] | None = None,
    within_ms: float = 6000,
) -> None:
    """Drive `change` until the leader applied it; `strike(leader)` runs right after the
    first successful proposal."""
    struck = strike is None

    def converged() -> bool:
        nonlocal struck
        leader = _leading(sim)
        if (
            leader is not None
            and leader.core is not None
            and change_done(change, leader.core.membership)
        ):
            return True
        proposer = _propose(sim, change)
        if proposer is not None and not struck:
            struck = True
            assert strike is not None
            strike(proposer)
        return False

    sim.await_condition(f"{change.kind.value} {change.node_id}", converged, within_ms)


def _crash_later(sim: Simulation, node: SimNode, delay_ms: float, down_ms: float = 150) -> None:
    def crash() -> None:
        node.crash()
        sim.cluster.schedule(down_ms, node.start)

    sim.cluster.schedule(delay_ms, crash)


def _finish(sim: Simulation) -> None:
    """Heal, settle, read every key through the leader, check the whole history."""
    sim.heal_and_settle()
    leader = _leader(sim)
    recorder = sim.workload.recorder
    answered: list[OpStatus] = []
    for k in range(sim.config.workload.keys):
        handle = recorder.invoke(10_000 + k, OpKind.READ, b"k%d" % k)

        def done(status: OpStatus, value: bytes | None, handle: int = handle) -> None:
            assert status is OpStatus.OK, status
            recorder.ok(handle, value)
            answered.append(status)

        leader.client_read(b"k%d" % k, done)
    keys = sim.config.workload.keys
    sim.await_condition("final reads", lambda: len(answered) == keys, 2000)
    sim.check_history()
    members = _membership(sim)
    for node_id in members.members:
        core = sim.cluster.nodes[node_id].core
        assert core is not None and core.membership == members


_DELAYS = [0.0, 0.4, 1.0, 2.5, 5.0, 12.0, 30.0, 80.0]


@pytest.mark.parametrize("delay_ms", _DELAYS)
@pytest.mark.parametrize("victim", ["leader", "subject", "bystander"])
def test_crash_at_every_point_of_join_and_removal(delay_ms: float, victim: str) -> None:
    """Join a node (learner, then voter) and remove another, crashing `victim` `delay_ms`
    after each proposal: before the entry is durable, replicated, committed, applied."""
    sim = _sim(int(delay_ms * 10) + len(victim), 3)
    sim.run_for(200)

    def strike_for(subject: int) -> Callable[[SimNode], None]:
        def strike(leader: SimNode) -> None:
            if victim == "leader":
                target = leader
            elif victim == "subject":
                target = sim.cluster.nodes[subject]
            else:
                others = sorted(set(sim.cluster.nodes) - {leader.id, subject})
                target = sim.cluster.nodes[others[0]]
            _crash_later(sim, target, delay_ms)

        return strike

    joiner = sim.cluster.add_node().id
    _apply(sim, ConfigChange(ChangeKind.ADD_LEARNER, joiner), strike_for(joiner))
    _apply(sim, ConfigChange(ChangeKind.PROMOTE, joiner), strike_for(joiner))
    victim_id = 1 if _leader(sim).id != 1 else 2
    _apply(sim, ConfigChange(ChangeKind.REMOVE, victim_id), strike_for(victim_id))
    _finish(sim)
    assert _membership(sim) == Membership(frozenset({1, 2, 3, joiner} - {victim_id}))


@pytest.mark.parametrize("seed", range(3))
def test_leader_removing_itself_with_crashes_around_it(seed: int) -> None:
    """No transfer first: the leader proposes its own removal, takes no more entries,
    steps down once it applied it and hands over; crashes hit each side. No disk stalls:
    one that costs the leader its leadership loses the uncommitted removal (as Raft may),
    and there is nothing left to hand over."""
    sim = _sim(seed, 3, fsync_stall_probability=0.0)
    sim.run_for(200)
    leader = _leader(sim)
    assert leader.core is not None
    sim.await_condition(
        "self-removal proposed",
        lambda: _self_remove(leader),
        2000,
    )
    others = sorted(set(sim.cluster.nodes) - {leader.id})
    _crash_later(sim, sim.cluster.nodes[others[seed % 2]], 0.5 * seed)
    sim.await_condition("removal applied", lambda: leader.removed, 3000)
    assert leader.core is not None and leader.core.role is not Role.LEADER
    _finish(sim)
    assert _membership(sim).voters == set(others)


def _self_remove(leader: SimNode) -> bool:
    core = leader.core
    if core is None or core.role is not Role.LEADER:
        return False
    try:
        core.change_membership(ConfigChange(ChangeKind.REMOVE, leader.id))
    except ConfigChangeRejected:
        return False
    leader.pump()
    return True


@pytest.mark.parametrize("seed", range(3))
def test_joiner_killed_mid_snapshot_catches_up_after_restart(seed: int) -> None:
    sim = _sim(seed, 3, compact_every=4, snapshot_chunk_bytes=8)
    sim.run_for(400)  # enough writes that the log is compacted: the joiner needs a snapshot
    joiner = sim.cluster.add_node()
    _apply(sim, ConfigChange(ChangeKind.ADD_LEARNER, joiner.id))
    sim.await_condition(
        "a snapshot streams to the joiner",
        lambda: any(joiner.id in node.streams for node in sim.cluster.up_nodes()),
        2000,
    )
    joiner.crash()
    sim.run_for(100)
    joiner.start()
    _apply(sim, ConfigChange(ChangeKind.PROMOTE, joiner.id))
    _finish(sim)
    assert joiner.id in _membership(sim).voters


@pytest.mark.parametrize("seed", range(3))
def test_grow_one_to_five_and_back_with_the_leader_crashed_in_every_step(seed: int) -> None:
    sim = _sim(seed, 1)
    sim.run_for(100)
    delays = iter([0.0, 1.5, 4.0, 9.0, 20.0, 45.0] * 4)

    def crash_leader(leader: SimNode) -> None:
        _crash_later(sim, leader, next(delays) + seed)

    joined = []
    for _ in range(4):  # 1 -> 3 -> 5
        node = sim.cluster.add_node().id
        joined.append(node)
        _apply(sim, ConfigChange(ChangeKind.ADD_LEARNER, node), crash_leader)
        _apply(sim, ConfigChange(ChangeKind.PROMOTE, node), crash_leader)
    assert _membership(sim).voters == {1, *joined}
    for node in [1, *joined[:3]]:  # 5 -> 3 -> 1
        _apply(sim, ConfigChange(ChangeKind.REMOVE, node), crash_leader)
    _finish(sim)
    assert _membership(sim) == Membership(frozenset({joined[3]}))


@pytest.mark.parametrize("seed", range(3))
def test_replace_a_killed_voter_then_survive_one_more_failure(seed: int) -> None:
    sim = _sim(seed, 3)
    sim.run_for(200)
    dead = sim.cluster.nodes[1 + seed % 3]
    dead.crash()  # for good: its disk is gone
    fresh = sim.cluster.add_node().id
    _apply(sim, ConfigChange(ChangeKind.ADD_LEARNER, fresh))
    _apply(sim, ConfigChange(ChangeKind.PROMOTE, fresh))
    _apply(sim, ConfigChange(ChangeKind.REMOVE, dead.id))
    voters = _membership(sim).voters
    assert voters == {1, 2, 3, fresh} - {dead.id}
    # One more failure: the leader. The two others elect and commit on their own.
    _leader(sim).crash()
    sim.run_for(300)
    leader = _leader(sim)
    assert leader.id in voters
    _finish(sim)
