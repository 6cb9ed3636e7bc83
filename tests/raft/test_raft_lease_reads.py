"""Lease-based reads (RaftConfig.lease_reads): served without a heartbeat round while a
quorum acknowledged a heartbeat sent less than `lease_ticks` ticks ago, and no gap in the
driver's ticks voided the lease since."""

from __future__ import annotations

import random

import attrs
import pytest

from seshat_trio.raft import (
    Heartbeat,
    HeartbeatResp,
    Membership,
    MemoryLogStorage,
    PreVote,
    RaftConfig,
    RaftCore,
    ReadFailure,
    ReadIndexReq,
    Role,
    TimeoutNow,
)


def first_leader(c) -> int:
    """Tick everyone (fresh nodes refuse votes for one election timeout) until one leads."""
    for _ in range(100):
        c.tick()
        leaders = [n for n in c.nodes if c.core(n).role is Role.LEADER]
        if leaders:
            return leaders[0]
    raise AssertionError("no leader")


def leased_cluster(make_cluster):
    c = make_cluster([1, 2, 3], lease_reads=True)
    lead = first_leader(c)
    c.tick([lead])  # one acknowledged heartbeat round: the lease is fresh
    return c, lead


def test_lease_read_needs_no_messages(make_cluster):
    c, lead = leased_cluster(make_cluster)
    leader = c.core(lead)
    leader.read_index(1)
    rd = leader.ready()
    assert [(r.request_id, r.index) for r in rd.read_states] == [(1, 1)]
    assert rd.messages == () and rd.persisted_messages == ()
    leader.advance(rd)


def test_follower_read_answered_from_lease(make_cluster):
    c, lead = leased_cluster(make_cluster)
    follower = next(n for n in c.nodes if n != lead)
    start = len(c.sent)
    c.core(follower).read_index(4)
    c.stabilize()
    kinds = [type(m).__name__ for m in c.sent[start:]]
    assert kinds == ["ReadIndexReq", "ReadIndexResp"]  # no heartbeat round in between
    assert [(r.request_id, r.index) for r in c.nodes[follower].read_states] == [(4, 1)]


def test_expired_lease_falls_back_to_heartbeat_round(make_cluster):
    c, lead = leased_cluster(make_cluster)
    c.transform = lambda m: None if isinstance(m, HeartbeatResp) else m
    lease = c.core(lead)._cfg.lease_ticks
    c.tick([lead], times=lease)
    leader = c.core(lead)
    assert leader.role is Role.LEADER
    leader.read_index(2)
    rd = leader.ready()
    assert rd.read_states == ()
    assert any(isinstance(m, Heartbeat) for m in rd.messages)  # a confirmation round
    leader.advance(rd)
    c.queue.extend(rd.messages)
    c.transform = None
    c.stabilize()
    assert [r.request_id for r in c.nodes[lead].read_states] == [2]


def test_partitioned_old_leader_cannot_serve_after_lease(make_cluster):
    c, lead = leased_cluster(make_cluster)
    c.isolate(lead)
    lease = c.core(lead)._cfg.lease_ticks
    c.tick([lead], times=lease)
    assert c.core(lead).role is Role.LEADER
    c.core(lead).read_index(3)
    c.tick([lead], times=2 * c.core(lead)._cfg.election_ticks_min)  # check-quorum deposes it
    assert c.core(lead).role is Role.FOLLOWER
    assert c.nodes[lead].read_states == []
    assert [(f.request_id, f.reason) for f in c.nodes[lead].failed_reads] == [
        (3, ReadFailure.LEADERSHIP_LOST)
    ]


def test_no_lease_reads_when_flag_off(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.tick([1])
    c.core(1).read_index(1)
    rd = c.core(1).ready()
    assert rd.read_states == () and any(isinstance(m, Heartbeat) for m in rd.messages)
    c.core(1).advance(rd)


def test_lease_needs_check_quorum():
    with pytest.raises(ValueError, match="check_quorum"):
        RaftConfig(group=1, node_id=1, lease_reads=True, check_quorum=False)


def test_restarted_node_waits_an_election_timeout_before_voting():
    storage = MemoryLogStorage(Membership(frozenset({1, 2, 3})))
    cfg = RaftConfig(group=7, node_id=2, lease_reads=True)
    core = RaftCore(cfg, storage, random.Random(0))
    vote = PreVote(group=7, src=3, dst=2, term=1, last_log_index=0, last_log_term=0)
    core.step(vote)
    assert not core.has_ready()  # ignored: it may have acked a leader just before a crash
    for _ in range(cfg.election_ticks_min):
        core.tick()
    while core.has_ready():  # drop its own campaign traffic, if its timer fired
        core.advance(core.ready())
    core.step(attrs.evolve(vote, term=core.term + 1))
    assert core.has_ready()  # after one election timeout it answers again
    plain = RaftCore(RaftConfig(group=7, node_id=2), MemoryLogStorage(), random.Random(0))
    plain.step(vote)
    assert plain.has_ready()  # without leases it answers at once


def test_lease_read_waits_for_noop_commit(make_cluster):
    c = make_cluster([1, 2, 3], lease_reads=True)
    c.transform = lambda m: None if type(m).__name__ == "AppendResp" else m
    lead = first_leader(c)
    c.tick([lead])
    c.core(lead).read_index(8)
    c.stabilize()
    assert c.nodes[lead].read_states == []
    assert not any(isinstance(m, ReadIndexReq) for m in c.sent)


def test_delayed_timeout_now_cannot_outlive_the_lease(make_cluster):
    # Found in review: the TimeoutNow of an aborted transfer arrives late; its target wins
    # with forced votes (which bypass stickiness) and commits a write while the old leader,
    # partitioned away, still served reads from a lease at the old commit index.
    c, lead = leased_cluster(make_cluster)
    target = min(n for n in c.nodes if n != lead)
    held = []
    c.transform = lambda m: (held.append(m), None)[1] if isinstance(m, TimeoutNow) else m
    c.core(lead).transfer_leadership(target)
    c.stabilize()
    assert held
    # The transfer times out while every heartbeat is acknowledged.
    c.tick([lead], times=c.core(lead)._cfg.election_ticks_min)
    assert c.core(lead).transferee is None and c.core(lead).role is Role.LEADER
    c.transform = None
    c.isolate(lead)
    c.core(target).step(held[0])
    c.stabilize()
    assert c.core(target).role is Role.LEADER
    [index] = c.propose(target, b"x")
    assert c.core(target).commit >= index
    old = c.core(lead)
    assert old.role is Role.LEADER
    old.read_index(99)
    rd = old.ready()
    old.advance(rd)
    assert rd.read_states == ()  # no lease: it asks a quorum, which it cannot reach
    assert any(isinstance(m, Heartbeat) for m in rd.messages)


def test_lease_comes_back_two_election_timeouts_after_timeout_now(make_cluster):
    c, lead = leased_cluster(make_cluster)
    target = min(n for n in c.nodes if n != lead)
    c.transform = lambda m: None if isinstance(m, TimeoutNow) else m
    c.core(lead).transfer_leadership(target)
    c.stabilize()
    window = 2 * c.core(lead)._cfg.election_ticks_min
    leader = c.core(lead)

    def served_from_lease(request_id: int) -> bool:
        leader.read_index(request_id)
        rd = leader.ready()
        leader.advance(rd)
        c.queue.extend(rd.messages)
        c.stabilize()  # a heartbeat round answers it if the lease did not
        return bool(rd.read_states)

    c.tick([lead], times=window - 1)
    assert leader.role is Role.LEADER and leader.transferee is None
    # Heartbeats sent within the window are acknowledged but give no lease.
    assert not served_from_lease(1)
    c.tick([lead])  # this round, sent once the window is over, does
    assert served_from_lease(2)
    assert [r.request_id for r in c.nodes[lead].read_states] == [1]


def test_a_gap_in_ticks_voids_the_lease_until_a_fresh_round(make_cluster):
    c, lead = leased_cluster(make_cluster)
    leader = c.core(lead)
    leader.void_lease()  # the driver saw its ticks stop (SIGSTOP, a stalled loop)
    leader.read_index(1)
    rd = leader.ready()
    leader.advance(rd)
    assert rd.read_states == ()  # rounds sent before the gap prove nothing about now
    assert any(isinstance(m, Heartbeat) for m in rd.messages)
    c.queue.extend(rd.messages)
    c.stabilize()  # that round, sent after the gap and acknowledged, answers the read...
    assert [r.request_id for r in c.nodes[lead].read_states] == [1]
    leader.read_index(2)
    rd = leader.ready()
    leader.advance(rd)
    assert [r.request_id for r in rd.read_states] == [2]  # ... and gives a new lease
    assert rd.messages == ()


@pytest.mark.parametrize(
    ("election_ticks_min", "gap", "drift", "lease"),
    [
        (5, 1.5, 0.01, 2),
        (10, 1.5, 0.01, 5),
        (10, 1.0, 0.0, 8),
        (20, 2.0, 0.05, 8),
        (3, 1.5, 0.0, 1),
    ],
)
def test_lease_length_allows_for_late_ticks_and_clock_drift(election_ticks_min, gap, drift, lease):
    cfg = RaftConfig(
        group=1,
        node_id=1,
        election_ticks_min=election_ticks_min,
        election_ticks_max=2 * election_ticks_min,
        lease_tick_gap=gap,
        lease_clock_drift=drift,
    )
    assert cfg.lease_ticks == lease
    # Strictly inside the voters' stickiness window, whatever the margins.
    assert lease * gap * (1 + drift) ** 2 < election_ticks_min - 1


def test_lease_reads_refuse_an_election_timeout_that_leaves_no_lease():
    with pytest.raises(ValueError, match="too short for lease reads"):
        RaftConfig(group=1, node_id=1, election_ticks_min=2, lease_reads=True)
    with pytest.raises(ValueError, match="lease_tick_gap"):
        RaftConfig(group=1, node_id=1, lease_tick_gap=0.5)
