"""The driver-facing contract: Ready/advance discipline, input validation, config checks."""

from __future__ import annotations

import random

import pytest

from seshat_trio.raft import (
    AppendResp,
    Heartbeat,
    Membership,
    MemoryLogStorage,
    ProgressState,
    RaftConfig,
    RaftCore,
    ReadFailure,
    ReadIndexReq,
    ReadIndexResp,
    Role,
)


def lone_core(**cfg: int) -> tuple[RaftCore, MemoryLogStorage]:
    storage = MemoryLogStorage(Membership(frozenset({1, 2, 3})))
    return RaftCore(RaftConfig(group=7, node_id=1, **cfg), storage, random.Random(3)), storage


def test_one_ready_at_a_time():
    core, _ = lone_core()
    for _ in range(20):
        core.tick()
    assert core.has_ready()
    rd = core.ready()
    assert not core.has_ready()  # nothing new until advance
    with pytest.raises(RuntimeError):
        core.ready()
    core.advance(rd)
    with pytest.raises(RuntimeError):
        core.advance(rd)  # not outstanding any more


def test_step_rejects_foreign_messages():
    core, _ = lone_core()
    hb = Heartbeat(group=8, src=2, dst=1, term=1, commit=0, context=0)
    with pytest.raises(ValueError, match="group"):
        core.step(hb)
    with pytest.raises(ValueError, match="node"):
        core.step(Heartbeat(group=7, src=2, dst=3, term=1, commit=0, context=0))
    assert core.term == 0  # nothing was taken in


def test_propose_validates_commands(make_cluster):
    c = make_cluster([1])
    c.elect(1)
    with pytest.raises(ValueError):
        c.core(1).propose([])
    with pytest.raises(TypeError):
        c.core(1).propose([b"ok", "not bytes"])  # type: ignore[list-item]
    assert c.core(1).last_index == 1  # nothing appended


@pytest.mark.parametrize(
    "bad",
    [
        {"node_id": 0},
        {"election_ticks_min": 5, "election_ticks_max": 4},
        {"heartbeat_ticks": 5, "election_ticks_min": 5},
        {"max_inflight_msgs": 0},
        {"applied": -1},
    ],
)
def test_config_validation(bad):
    with pytest.raises(ValueError):
        RaftConfig(group=1, **{"node_id": 1, **bad})


def test_commit_only_hard_state_needs_no_sync(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.core(1).propose([b"x"])
    c.stabilize()
    commit_only = []
    previous = None
    for rd in c.nodes[2].readies:
        hs = rd.hard_state
        same_term_vote = (
            hs is not None
            and previous is not None
            and (hs.term, hs.vote) == (previous.term, previous.vote)
        )
        if same_term_vote and not rd.entries:
            commit_only.append(rd)
        previous = hs or previous
    assert commit_only and all(not rd.must_sync for rd in commit_only)
    assert all(rd.must_sync for rd in c.nodes[2].readies if rd.entries)


def test_report_unreachable_moves_replicating_peer_to_probe(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    pr = c.core(1).progress(2)
    assert pr.state is ProgressState.REPLICATE
    c.core(1).report_unreachable(2)
    assert pr.state is ProgressState.PROBE
    c.propose(1, b"x")  # one probe, one ack: pipelining again
    assert pr.state is ProgressState.REPLICATE
    assert pr.match == 2


def test_deposed_leader_learns_from_stale_reply(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.isolate(1)
    leaders: list[int] = []
    while not leaders:  # 2 and 3 may split votes a few times
        c.tick([2, 3])
        leaders = [n for n in (2, 3) if c.core(n).role is Role.LEADER]
    new_leader = leaders[0]
    assert new_leader in (2, 3)
    assert c.core(1).role is Role.LEADER  # has not noticed yet (it did not tick)
    c.heal()
    c.tick([1])  # its heartbeats are answered with the newer term
    assert c.core(1).role is Role.FOLLOWER
    assert c.core(1).term == c.core(new_leader).term
    assert any(isinstance(m, AppendResp) and m.dst == 1 and not m.success for m in c.sent)


def test_follower_refusal_of_forwarded_read(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.propose(1, b"x")
    c.core(1).transfer_leadership(3)
    c.isolate(3)  # keep the transfer pending
    c.core(2).read_index(5)
    c.stabilize()
    assert any(isinstance(m, ReadIndexReq) for m in c.sent)
    assert any(isinstance(m, ReadIndexResp) and not m.ok for m in c.sent)
    assert [(f.request_id, f.reason) for f in c.nodes[2].failed_reads] == [
        (5, ReadFailure.NOT_LEADER)
    ]
