"""Scripted Raft scenarios on the deterministic simulator (classic failure schedules).

Every scenario runs with the invariant checks on (they raise on a violation),
ends with heal + settle (liveness) and a linearizability check of the clients'
history.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
import pytest

from seshat_trio.raft import (
    ChangeKind,
    ConfigChange,
    ConfigChangeRejected,
    Membership,
    NotLeader,
    Role,
)
from seshat_trio.testing.driver import SimNode
from seshat_trio.testing.kvapp import Command
from seshat_trio.testing.nemesis import NemesisParams
from seshat_trio.testing.raftsim import SimConfig, Simulation


def _sim(seed: int, nodes: int, **overrides: object) -> Simulation:
    config = attrs.evolve(SimConfig.for_seed(seed), nodes=nodes, **overrides)
    return Simulation(config)


def _leader(sim: Simulation) -> SimNode:
    sim.await_condition("a leader", lambda: sim.cluster.leader() is not None, 2000)
    leader = sim.cluster.leader()
    assert leader is not None and leader.core is not None
    return leader


def _term(node: SimNode) -> int:
    assert node.core is not None
    return node.core.term


def _finish(sim: Simulation) -> None:
    sim.heal_and_settle()
    sim.check_history()


@pytest.mark.parametrize("seed", range(6))
def test_leader_partitioned_away_and_healing(seed: int) -> None:
    sim = _sim(seed, 5)
    sim.start(faults=False)
    sim.run_for(300)
    old = _leader(sim)
    old_term = _term(old)
    sim.cluster.network.isolate(old.id, sim.cluster.nodes)
    # The majority elects a new leader; check-quorum makes the old one step down.
    sim.await_condition(
        "new leader in the majority",
        lambda: (new := sim.cluster.leader()) is not None and new.id != old.id,
        2000,
    )
    sim.await_condition(
        "old leader steps down",
        lambda: old.core is not None and old.core.role is not Role.LEADER,
        2000,
    )
    new = _leader(sim)
    assert _term(new) > old_term
    sim.run_for(300)
    sim.cluster.network.heal()
    sim.await_condition(
        "old leader follows the new one",
        lambda: old.core is not None and old.core.leader_id is not None,
        2000,
    )
    assert old.core is not None and old.core.role is not Role.LEADER
    _finish(sim)
    assert sim.workload.counts  # the clients ran throughout


@pytest.mark.parametrize("seed", range(6))
def test_candidate_with_stale_log_cannot_win(seed: int) -> None:
    sim = _sim(seed, 3)
    sim.start(faults=False)
    sim.run_for(200)
    leader = _leader(sim)
    stale = next(n for n in sim.cluster.nodes.values() if n is not leader)
    sim.cluster.network.isolate(stale.id, sim.cluster.nodes)
    # Commit more entries without the stale node.
    sim.run_for(500)
    assert stale.core is not None and leader.core is not None
    assert stale.core.last_index < leader.core.commit
    # Heal and crash the leader: the stale node now competes with the one
    # up-to-date survivor and must lose every election.
    sim.cluster.network.heal()
    leader.crash()
    survivor = next(n for n in sim.cluster.nodes.values() if n not in (leader, stale))
    sim.await_condition(
        "the up-to-date node leads",
        lambda: sim.cluster.leader() is survivor,
        3000,
    )
    assert sim.cluster.invariants.leaders[_term(survivor)] == survivor.id
    stale_terms = [t for t, n in sim.cluster.invariants.leaders.items() if n == stale.id]
    assert all(t < _term(survivor) for t in stale_terms)
    _finish(sim)


def _converged(sim: Simulation, want: Callable[[Membership], bool], change: ConfigChange) -> bool:
    """True once the leader's membership satisfies `want`; else (re)propose `change`.

    An uncommitted CONFIG entry dies with its leader, so a change is retried
    until it sticks.
    """
    leader = sim.cluster.leader()
    if leader is None or leader.core is None:
        return False
    if want(leader.core.membership):
        return True
    try:
        leader.core.change_membership(change)
    except (NotLeader, ConfigChangeRejected):
        return False
    leader.pump()
    return False


@pytest.mark.parametrize("seed", range(4))
def test_repeated_elections_during_membership_change(seed: int) -> None:
    sim = _sim(seed, 3, nemesis=NemesisParams(membership_changes=False))
    sim.start(faults=False)
    sim.run_for(300)
    joiner = sim.cluster.add_node()
    add = ConfigChange(ChangeKind.ADD_LEARNER, joiner.id)
    promote = ConfigChange(ChangeKind.PROMOTE, joiner.id)
    sim.await_condition(
        "learner added",
        lambda: _converged(sim, lambda m: joiner.id in m.members, add),
        3000,
    )
    for round_ in range(6):
        # Crash or depose the leader while the change is in flight, then go on.
        leader = _leader(sim)
        if round_ % 2:
            leader.crash()
            sim.run_for(150)
            leader.start()
        else:
            sim.cluster.network.isolate(leader.id, sim.cluster.nodes)
            sim.run_for(150)
            sim.cluster.network.heal()
        if round_ == 2:
            sim.await_condition(
                "learner (re-)added",
                lambda: _converged(sim, lambda m: joiner.id in m.members, add),
                3000,
            )
            sim.await_condition(
                "promotion",
                lambda: _converged(sim, lambda m: joiner.id in m.voters, promote),
                3000,
            )
    _finish(sim)
    leader = _leader(sim)
    assert leader.core is not None
    members = leader.core.membership
    assert joiner.id in members.voters
    # Every member agrees on the membership once settled.
    for node_id in members.members:
        core = sim.cluster.nodes[node_id].core
        assert core is not None and core.membership == members


@pytest.mark.parametrize("seed", range(8))
def test_figure_8_schedule(seed: int) -> None:
    """Raft paper figure 8: an old-term entry replicated to a majority by a later
    leader must not count as committed until an entry of the leader's own term is."""
    sim = _sim(seed, 5)
    sim.start(clients=False, faults=False)
    s1 = _leader(sim)
    sim.run_for(100)
    ids = sorted(sim.cluster.nodes)
    s2 = next(i for i in ids if i != s1.id)
    rest = [i for i in ids if i not in (s1.id, s2)]
    # (a) S1 replicates an entry of its term to S2 only, then crashes.
    sim.cluster.network.split([[s1.id, s2], rest])
    assert s1.core is not None
    (index,) = s1.core.propose([Command(1, b"k", b"from-s1").encode()])
    s1.pump()
    sim.await_condition(
        "S2 holds S1's entry",
        lambda: (
            sim.cluster.nodes[s2].core is not None
            and sim.cluster.nodes[s2].core.log_term(index) == _term(s1)
        ),
        1000,
    )
    s1.crash()
    # (b) the other side elects S5, which appends at the same index and crashes
    # before replicating.
    sim.await_condition(
        "S5 elected",
        lambda: (lead := sim.cluster.leader()) is not None and lead.id in rest,
        3000,
    )
    s5 = _leader(sim)
    sim.cluster.network.isolate(s5.id, ids)
    assert s5.core is not None
    s5.core.propose([Command(2, b"k", b"from-s5").encode()])
    s5.pump()
    sim.run_for(20)
    s5.crash()
    # (c) S1 comes back; the survivors elect someone and replicate; then (d)
    # that leader crashes and S5 returns.  At every step the invariants
    # (committed entries never lost, state machine safety) are checked.
    sim.cluster.network.heal()
    sim.cluster.network.isolate(s5.id, ids)
    s1.start()
    sim.await_condition("a leader after S1 returns", lambda: sim.cluster.leader() is not None, 3000)
    sim.run_for(50)
    third = _leader(sim)
    third.crash()
    sim.cluster.network.heal()
    s5.start()
    _finish(sim)
    final = _leader(sim)
    assert final.core is not None
    values = {n.app.data.get(b"k") for n in sim.cluster.up_nodes()}
    assert len(values) == 1  # every node converged on the same value
