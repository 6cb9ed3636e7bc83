"""`RaftCore.take_messages`: a Ready of messages only handed out without building it (the
production driver's path for a follower's answer to a heartbeat) is exactly `ready()` and
`advance()` of that Ready: the same messages, and the same core afterwards."""

from __future__ import annotations

import random

import attrs
import pytest
from tests.raft.conftest import Cluster

from seshat_trio.raft import (
    AppendResp,
    Heartbeat,
    HeartbeatResp,
    Message,
    RaftCore,
    ReadIndexReq,
    ReadState,
    Role,
)
from seshat_trio.testing.raftsim import SimConfig, run_simulation


def _beat(c, leader: int, dst: int, *, term: int | None = None, commit: int = 0, context: int = 0):
    core = c.core(leader)
    return Heartbeat(
        group=core.group,
        src=leader,
        dst=dst,
        term=core.term if term is None else term,
        commit=commit,
        context=context,
    )


def test_a_heartbeat_that_moves_nothing_is_answered_by_messages_alone(make_cluster) -> None:
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.propose(1, b"x")
    c.replicate_commit()
    follower = c.core(2)
    commit = follower.commit
    follower.step(_beat(c, 1, 2, commit=commit, context=41))
    assert follower.take_messages() == (
        HeartbeatResp(group=follower.group, src=2, dst=1, term=follower.term, context=41),
    )
    assert not follower.has_ready()
    assert follower.take_messages() == ()


def test_a_heartbeat_that_moves_more_takes_the_ready_path(make_cluster) -> None:
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.core(1).propose([b"x"])
    c.round()  # the leader's Append reaches the followers ...
    c.process(2)  # ... and one of them writes it, knowing the commit only up to the no-op
    follower = c.core(2)
    assert follower.commit < follower.last_index
    follower.step(_beat(c, 1, 2, commit=follower.last_index, context=5))
    assert follower.take_messages() is None  # the commit moved: a hard state to write
    ready = follower.ready()
    assert ready.hard_state is not None and ready.committed_entries
    assert [m.context for m in ready.messages if isinstance(m, HeartbeatResp)] == [5]
    assert follower.take_messages() is None  # a Ready awaits advance()
    follower.advance(ready)
    # A heartbeat of a newer term moves the term.
    term = follower.term
    follower.step(_beat(c, 1, 2, term=term + 1, commit=follower.commit))
    assert follower.take_messages() is None
    ready = follower.ready()
    assert ready.hard_state is not None and ready.hard_state.term == term + 1
    follower.advance(ready)
    # A stale one is refused after persistence, not among the messages sent at once.
    follower.step(_beat(c, 1, 2, term=term))
    assert follower.take_messages() is None
    ready = follower.ready()
    (refusal,) = ready.persisted_messages
    assert isinstance(refusal, AppendResp) and not refusal.success


def test_heartbeats_taken_as_messages_keep_the_election_timer_reset(make_cluster) -> None:
    c = make_cluster([1, 2, 3], take_messages=True)
    c.elect(1)
    taken = c.taken
    for _ in range(30):  # three election timeouts and more
        c.tick()
    assert c.taken > taken  # the followers' answers went through take_messages
    assert c.leader() == 1
    assert [c.core(n).role for n in (2, 3)] == [Role.FOLLOWER, Role.FOLLOWER]


def test_a_leader_read_round_is_confirmed_through_taken_answers(make_cluster) -> None:
    c = make_cluster([1, 2, 3], take_messages=True)
    c.elect(1)
    c.propose(1, b"x")
    c.core(1).read_index(9)
    c.stabilize()
    assert c.nodes[1].read_states == [ReadState(9, c.core(1).commit)]


def test_a_read_round_and_a_forwarded_read_leave_as_messages_alone(make_cluster) -> None:
    """A leader's read round (its heartbeat to the one voter a quorum needs) and a
    follower's forwarded reads are all a Ready would hold: taken, no Ready is built."""
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.propose(1, b"x")
    c.replicate_commit()
    leader = c.core(1)
    leader.read_index(9)
    (beat,) = leader.take_messages() or ()
    assert isinstance(beat, Heartbeat) and beat.dst in (2, 3) and beat.context > 0
    assert not leader.has_ready()
    follower = c.core(2)
    follower.read_index(10)
    assert follower.take_messages() == (
        ReadIndexReq(group=follower.group, src=2, dst=1, term=follower.term, request_ids=(10,)),
    )
    assert not follower.has_ready()


def _run(seed: int, *, take_messages: bool, lease_reads: bool) -> tuple[object, int]:
    """A random workload on 3 nodes: ticks, proposals, reads on any node, lost and
    reordered messages, a partition now and then; everything the cluster shows, and how
    many Readys were taken as messages."""
    c = Cluster([1, 2, 3], seed=seed, take_messages=take_messages, lease_reads=lease_reads)
    rng = random.Random(seed)
    request = 0
    for _ in range(400):
        action = rng.random()
        if action < 0.35:
            c.nodes[rng.choice([1, 2, 3])].core.tick()
        elif action < 0.5:
            leaders = [n for n in (1, 2, 3) if c.core(n).role is Role.LEADER]
            if leaders:
                c.core(leaders[0]).propose([b"%d" % rng.randrange(1000)])
        elif action < 0.7:
            request += 1
            c.core(rng.choice([1, 2, 3])).read_index(request)
        elif action < 0.73:
            c.isolate(rng.choice([1, 2, 3]))
        elif action < 0.76:
            c.heal()
        for node_id in (1, 2, 3):
            c.process(node_id)
        queue, c.queue = c.queue, []
        rng.shuffle(queue)
        for msg in queue:
            if rng.random() < 0.1:
                continue  # lost
            if rng.random() < 0.2:
                c.queue.append(msg)  # late
            else:
                c._deliver(msg)
    c.heal()
    c.stabilize()
    nodes = [c.nodes[n] for n in (1, 2, 3)]
    shown = (
        c.sent,
        c.committed,
        [(n.core.term, n.core.role, n.core.leader_id, n.core.commit) for n in nodes],
        [(n.read_states, n.failed_reads, n.applied_index) for n in nodes],
    )
    return shown, c.taken


@pytest.mark.parametrize("lease_reads", [False, True], ids=["readindex", "lease"])
@pytest.mark.parametrize("seed", range(12))
def test_taking_messages_changes_nothing_the_cluster_does(seed: int, lease_reads: bool) -> None:
    """The same seeded run with every messages-only Ready handed out by `take_messages` and
    with every Ready built: the same messages on the wire in the same order, the same
    applies, read answers, terms, roles and commits."""
    taken, count = _run(seed, take_messages=True, lease_reads=lease_reads)
    built, none = _run(seed, take_messages=False, lease_reads=lease_reads)
    assert taken == built
    assert count > 0 and none == 0


def test_the_simulator_runs_the_same_schedules_either_way(monkeypatch) -> None:
    """The simulated nodes (whose invariants check every message against what is durable)
    behave identically, event for event, whether their messages-only Readys are taken or
    built, and they take many."""
    taken = 0
    take = RaftCore.take_messages

    def counting(core: RaftCore) -> tuple[Message, ...] | None:
        nonlocal taken
        messages = take(core)
        taken += bool(messages)
        return messages

    monkeypatch.setattr(RaftCore, "take_messages", counting)
    for seed in range(6):
        config = SimConfig.for_seed(seed, 600)
        results = [
            attrs.asdict(
                run_simulation(
                    attrs.evolve(config, node=attrs.evolve(config.node, take_messages=t))
                )
            )
            for t in (False, True)
        ]
        assert results[0]["ok"] and results[0] == results[1]
    assert taken > 100
