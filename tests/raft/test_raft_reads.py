"""ReadIndex: batching per heartbeat round, no-op wait, follower forwarding, failover."""

from __future__ import annotations

from seshat_trio.raft import (
    AppendResp,
    Heartbeat,
    HeartbeatResp,
    ReadFailure,
    ReadIndexReq,
    ReadIndexResp,
    Role,
)


def test_single_node_read_served_at_commit(make_cluster):
    c = make_cluster([1])
    c.elect(1)
    c.propose(1, b"a")
    c.core(1).read_index(42)
    c.stabilize()
    assert [(r.request_id, r.index) for r in c.nodes[1].read_states] == [(42, 2)]


def test_reads_between_readys_share_one_heartbeat_round(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.propose(1, b"x")
    leader = c.core(1)
    for rid in (1, 2, 3):
        leader.read_index(rid)
    rd = leader.ready()
    beats = [m for m in rd.messages if isinstance(m, Heartbeat)]
    assert len(beats) == 1  # one follower completes the quorum
    assert rd.read_states == ()  # not before a quorum confirmed leadership
    c.nodes[1].readies.append(rd)
    leader.advance(rd)
    c.queue.extend(rd.messages)
    c.stabilize()
    states = c.nodes[1].read_states
    assert sorted(r.request_id for r in states) == [1, 2, 3]
    assert {r.index for r in states} == {2}


def test_read_confirmed_by_one_follower_of_three(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.isolate(3)
    c.core(1).read_index(9)
    c.stabilize()
    assert [r.request_id for r in c.nodes[1].read_states] == [9]


def test_read_round_skips_a_silent_follower_after_one_heartbeat(make_cluster):
    # Between ticks a round goes only to the voter that completes the quorum, the latest
    # to answer (ties by id); the tick's heartbeats reach every peer, so a silent target
    # delays reads by one heartbeat period and the next round goes to a voter that answered.
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.propose(1, b"x")
    c.cut |= {(1, 2), (2, 1)}
    c.sent.clear()
    c.core(1).read_index(1)
    c.stabilize()
    assert [m.dst for m in c.sent if isinstance(m, Heartbeat)] == [2]
    assert c.nodes[1].read_states == []
    c.tick([1], times=c.core(1)._cfg.heartbeat_ticks)
    assert [r.request_id for r in c.nodes[1].read_states] == [1]
    c.sent.clear()
    c.core(1).read_index(2)
    c.stabilize()
    assert [m.dst for m in c.sent if isinstance(m, Heartbeat)] == [3]
    assert [r.request_id for r in c.nodes[1].read_states] == [1, 2]


def test_read_not_confirmed_without_quorum(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.transform = lambda m: None if isinstance(m, HeartbeatResp) else m
    c.core(1).read_index(9)
    c.tick([1], times=3)
    assert c.nodes[1].read_states == []


def test_read_waits_for_current_term_noop(make_cluster):
    c = make_cluster([1, 2, 3])
    c.transform = lambda m: None if isinstance(m, AppendResp) else m
    c.elect(1)
    assert c.core(1).commit == 0
    c.core(1).read_index(5)
    c.tick([1], times=2)
    assert c.nodes[1].read_states == []
    c.transform = None
    c.tick([1], times=2)
    assert [(r.request_id, r.index) for r in c.nodes[1].read_states] == [(5, 1)]


def test_follower_read_forwarded_to_leader(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.propose(1, b"x", b"y")
    c.core(2).read_index(11)
    c.core(2).read_index(12)
    c.stabilize()
    reqs = [m for m in c.sent if isinstance(m, ReadIndexReq)]
    assert len(reqs) == 1 and reqs[0].request_ids == (11, 12)
    states = c.nodes[2].read_states
    assert [(r.request_id, r.index) for r in states] == [(11, 3), (12, 3)]
    assert any(isinstance(m, ReadIndexResp) and m.ok for m in c.sent)


def test_follower_read_without_leader_fails_at_once(make_cluster):
    c = make_cluster([1, 2, 3])
    c.core(2).read_index(1)
    c.stabilize()
    assert [(f.request_id, f.reason) for f in c.nodes[2].failed_reads] == [
        (1, ReadFailure.NO_LEADER)
    ]


def test_follower_read_times_out_when_leader_silent(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.transform = lambda m: None if isinstance(m, ReadIndexReq) else m
    c.core(2).read_index(7)
    c.tick([2], times=c.core(2)._cfg.election_ticks_min)
    assert [(f.request_id, f.reason) for f in c.nodes[2].failed_reads] == [
        (7, ReadFailure.TIMED_OUT)
    ]


def test_pending_reads_fail_over_on_leadership_loss(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.isolate(1)
    c.core(1).read_index(3)
    c.core(1).read_index(4)
    c.tick([1], times=c.core(1)._cfg.election_ticks_min * 2)
    assert c.core(1).role is Role.FOLLOWER
    assert sorted((f.request_id, f.reason) for f in c.nodes[1].failed_reads) == [
        (3, ReadFailure.LEADERSHIP_LOST),
        (4, ReadFailure.LEADERSHIP_LOST),
    ]
    assert c.nodes[1].read_states == []


def test_forwarded_read_fails_when_leader_changes(make_cluster):
    c = make_cluster([1, 2, 3], check_quorum=False)
    c.elect(1)
    c.transform = lambda m: None if isinstance(m, ReadIndexReq) else m
    c.core(2).read_index(8)
    c.crash(1)
    c.elect(3)
    assert c.core(2).leader_id == 3
    assert [(f.request_id, f.reason) for f in c.nodes[2].failed_reads] == [
        (8, ReadFailure.LEADERSHIP_LOST)
    ]


def test_leader_refuses_reads_during_transfer(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.isolate(3)
    c.propose(1, b"lag")
    c.core(1).transfer_leadership(3)
    c.core(1).read_index(1)
    c.stabilize()
    assert [f.reason for f in c.nodes[1].failed_reads] == [ReadFailure.TRANSFERRING]


def _leader_answer(c, leader: int, req: ReadIndexReq) -> tuple[list[object], list[object]]:
    """Step `req` into `leader`; the ReadIndexResps and Heartbeats it sends at once."""
    c.core(leader).step(req)
    rd = c.core(leader).ready()
    c.core(leader).advance(rd)
    resps = [m for m in rd.messages if isinstance(m, ReadIndexResp)]
    beats = [m for m in rd.messages if isinstance(m, Heartbeat)]
    return resps, beats


def _request(c, follower: int, leader: int, *ids: int) -> ReadIndexReq:
    term = c.core(leader).term
    group = c.core(leader).group
    return ReadIndexReq(group=group, src=follower, dst=leader, term=term, request_ids=ids)


def test_follower_request_with_three_voters_is_answered_without_a_round(make_cluster):
    # The follower's request (sent after its reads began, in the leader's term) and the
    # leader itself are a quorum of 3: no heartbeat round (docs/raft.md).
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.propose(1, b"x")
    c.stabilize()
    resps, beats = _leader_answer(c, 1, _request(c, 2, 1, 4, 5))
    assert beats == []
    assert [(m.dst, m.request_ids, m.index, m.ok) for m in resps] == [(2, (4, 5), 2, True)]


def test_follower_request_with_five_voters_still_needs_a_round(make_cluster):
    c = make_cluster([1, 2, 3, 4, 5])
    c.elect(1)
    c.stabilize()
    resps, beats = _leader_answer(c, 1, _request(c, 2, 1, 6))
    assert resps == [] and len(beats) == 2  # two followers complete the quorum of 5
    c.queue.extend(beats)
    c.stabilize()
    answered = [m for m in c.sent if isinstance(m, ReadIndexResp) and m.request_ids == (6,)]
    assert [(m.ok, m.index) for m in answered] == [(True, c.core(1).commit)]


def test_follower_request_waits_for_the_leaders_noop(make_cluster):
    c = make_cluster([1, 2, 3])
    c.transform = lambda m: None if isinstance(m, AppendResp) else m
    c.elect(1)
    assert c.core(1).commit == 0
    resps, _ = _leader_answer(c, 1, _request(c, 2, 1, 3))
    assert resps == []  # queued: the leader's commit index may still lag


def test_request_from_a_non_voter_is_not_a_confirmation(make_cluster):
    # Node 4 is not a member at all: its request is refused, never answered at commit.
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.stabilize()
    resps, _ = _leader_answer(c, 1, _request(c, 4, 1, 9))
    assert [m.ok for m in resps] == [False]
