"""Membership: learners, promotion, add/remove, leader self-removal, one change at a time,
the live-quorum guard, who may vote, what a removed node still does, member progress."""

from __future__ import annotations

import attrs
import pytest

from seshat_trio.raft import (
    Append,
    AppendResp,
    ChangeKind,
    ConfigChange,
    ConfigChangeRejected,
    EntryKind,
    Heartbeat,
    LeavingGroup,
    Membership,
    NotLeader,
    PreVote,
    PreVoteResp,
    ProgressState,
    RaftCore,
    ReadIndexReq,
    ReadIndexResp,
    Role,
    TimeoutNow,
    Vote,
    VoteResp,
    decode_membership,
)


def change(c, kind: ChangeKind, node: int) -> int:
    index = c.core(c.leader()).change_membership(ConfigChange(kind, node))
    c.stabilize()
    c.replicate_commit()
    return index


def test_learner_joins_replicates_and_does_not_count(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.propose(1, b"a")
    c.add_node(4)
    index = change(c, ChangeKind.ADD_LEARNER, 4)
    node4 = c.nodes[4]
    assert node4.state == [b"a"] and node4.applied_index == index
    assert c.core(1).membership == Membership(frozenset({1, 2, 3}), frozenset({4}))
    # Learners are not in the quorum: with 2 and 3 down nothing commits.
    c.crash(2)
    c.crash(3)
    c.propose(1, b"b")
    c.tick([1, 4], times=2)
    assert c.core(4).last_index == c.core(1).last_index
    assert c.core(1).commit == index
    assert not any(isinstance(m, Vote) and m.dst == 4 for m in c.sent)


def test_learner_never_campaigns(make_cluster):
    c = make_cluster([1, 2, 3], learners=[4])
    c.tick([4], times=50)
    assert c.core(4).role is Role.FOLLOWER and c.core(4).term == 0


def test_promote_caught_up_learner(make_cluster):
    c = make_cluster([1, 2, 3], learners=[4])
    c.elect(1)
    c.propose(1, b"a")
    change(c, ChangeKind.PROMOTE, 4)
    assert c.core(1).membership.voters == {1, 2, 3, 4}
    assert c.core(4).membership.voters == {1, 2, 3, 4}
    c.crash(2)
    c.propose(1, b"b")
    assert c.core(1).commit == c.core(1).last_index  # 1, 3, 4 make the new quorum of 3


def test_promote_lagging_learner_rejected(make_cluster):
    c = make_cluster([1, 2, 3], learners=[4], max_promote_lag=2)
    c.elect(1)
    c.crash(4)
    c.propose(1, b"a", b"b", b"c")
    with pytest.raises(ConfigChangeRejected, match="not caught up"):
        c.core(1).change_membership(ConfigChange(ChangeKind.PROMOTE, 4))


def test_add_voter_and_remove_follower(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.add_node(4)
    change(c, ChangeKind.ADD_VOTER, 4)
    assert c.core(4).membership.voters == {1, 2, 3, 4}
    change(c, ChangeKind.REMOVE, 3)
    assert c.core(1).membership.voters == {1, 2, 4}
    assert c.core(3).removed
    c.tick([3], times=30)
    assert c.core(3).term == 1  # a removed node stops participating
    assert c.core(1).progress(3) is None


def test_only_one_pending_change(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.isolate(2)
    c.isolate(3)
    c.core(1).change_membership(ConfigChange(ChangeKind.ADD_LEARNER, 4))
    with pytest.raises(ConfigChangeRejected, match="pending"):
        c.core(1).change_membership(ConfigChange(ChangeKind.ADD_LEARNER, 5))


def test_change_before_noop_commit_rejected(make_cluster):
    c = make_cluster([1, 2, 3])
    c.transform = lambda m: None if isinstance(m, AppendResp) else m
    c.elect(1)
    with pytest.raises(ConfigChangeRejected, match="committed"):
        c.core(1).change_membership(ConfigChange(ChangeKind.ADD_LEARNER, 4))


def test_follower_cannot_change_membership(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    with pytest.raises(NotLeader):
        c.core(2).change_membership(ConfigChange(ChangeKind.REMOVE, 3))


def test_invalid_changes_rejected(make_cluster):
    c = make_cluster([1, 2, 3], learners=[4])
    c.elect(1)
    leader = c.core(1)
    for bad in (
        ConfigChange(ChangeKind.ADD_VOTER, 2),
        ConfigChange(ChangeKind.PROMOTE, 3),
        ConfigChange(ChangeKind.REMOVE, 9),
        ConfigChange(ChangeKind.ADD_LEARNER, 4),
    ):
        with pytest.raises(ConfigChangeRejected):
            leader.change_membership(bad)
    assert leader.last_index == 1  # nothing appended


def test_leader_removing_itself_steps_down_after_commit(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.propose(1, b"a")
    index = c.core(1).change_membership(ConfigChange(ChangeKind.REMOVE, 1))
    c.stabilize()
    assert c.core(1).role is not Role.LEADER
    assert c.core(1).removed
    assert c.committed[index][0] == 1  # the removal committed in term 1
    # The old leader nudged its most caught-up peer with TimeoutNow: no timeout needed.
    assert any(isinstance(m, TimeoutNow) and m.src == 1 for m in c.sent)
    new_leader = c.leader()
    assert new_leader in (2, 3)
    assert c.core(new_leader).membership.voters == {2, 3}
    c.propose(new_leader, b"b")
    c.replicate_commit()
    assert c.nodes[2].state == c.nodes[3].state == [b"a", b"b"]


def test_config_entry_carries_full_membership(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.add_node(4)
    index = change(c, ChangeKind.ADD_LEARNER, 4)
    entry = next(e for rd in c.nodes[2].readies for e in rd.committed_entries if e.index == index)
    assert entry.kind is EntryKind.CONFIG
    assert decode_membership(entry.data) == Membership(frozenset({1, 2, 3}), frozenset({4}))


def _vote_answers(c, voter: int) -> list[bool]:
    return [m.granted for m in c.sent if isinstance(m, (VoteResp, PreVoteResp)) and m.src == voter]


def _ask_vote(c, voter: int, candidate: int, term: int, *, pre: bool) -> None:
    last = c.core(candidate).last_index
    kind = PreVote if pre else Vote
    c.core(voter).step(
        kind(
            group=c.core(voter).group,
            src=candidate,
            dst=voter,
            term=term,
            last_log_index=last,
            last_log_term=c.core(candidate).log_term(last) or 0,
        )
    )
    c.stabilize()


def test_new_node_never_votes_before_it_holds_a_configuration_with_itself(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.propose(1, b"a")
    c.add_node(4)  # blank: empty membership, empty log
    term = c.core(2).term  # a real vote in the current term disturbs no one else
    _ask_vote(c, 4, 2, term + 1, pre=True)
    _ask_vote(c, 4, 2, term, pre=False)
    assert _vote_answers(c, 4) == [False, False]
    change(c, ChangeKind.ADD_LEARNER, 4)
    assert 4 in c.core(4).membership.learners
    c.crash(1)
    c.tick([2, 3, 4], times=12)  # 4 no longer hears from a leader: no stickiness
    c.sent.clear()
    _ask_vote(c, 4, 2, c.core(4).term + 1, pre=True)
    assert _vote_answers(c, 4) == [True]


def test_learner_holding_its_configuration_unapplied_may_vote(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.add_node(4)
    # 4 receives the entry adding it but never the commit index that would apply it.
    c.transform = lambda m: (
        attrs.evolve(m, commit=0) if m.dst == 4 and isinstance(m, (Append, Heartbeat)) else m
    )
    index = change(c, ChangeKind.ADD_LEARNER, 4)
    assert c.core(4).last_index >= index and c.core(4).applied < index
    assert 4 not in c.core(4).membership.members
    c.crash(1)
    c.tick([4], times=12)
    _ask_vote(c, 4, 2, c.core(4).term + 1, pre=True)
    assert _vote_answers(c, 4) == [True]


def test_promote_requires_the_learner_to_hold_the_configuration_in_force(make_cluster):
    c = make_cluster([1, 2, 3], learners=[4])
    c.elect(1)
    c.propose(1, b"a")
    assert c.core(1).progress(4).state is ProgressState.REPLICATE
    c.cut |= {(1, 4)}
    c.add_node(5)
    index = change(c, ChangeKind.ADD_LEARNER, 5)
    assert c.core(1).progress(4).match < index  # replicating, within the lag bound...
    with pytest.raises(ConfigChangeRejected, match="not caught up"):
        c.core(1).change_membership(ConfigChange(ChangeKind.PROMOTE, 4))
    c.heal()
    c.replicate_commit()
    change(c, ChangeKind.PROMOTE, 4)  # ... and accepted once it holds the entry
    assert c.core(1).membership.voters == {1, 2, 3, 4}


def test_changes_that_would_leave_no_live_quorum_are_refused_unless_forced(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.crash(3)
    c.tick([1], times=6)  # an election timeout without an answer from 3
    with pytest.raises(ConfigChangeRejected, match=r"only \[1\] live"):
        c.core(1).change_membership(ConfigChange(ChangeKind.REMOVE, 2))
    c.core(1).change_membership(ConfigChange(ChangeKind.REMOVE, 2), force=True)
    c.stabilize()
    assert c.core(1).membership.voters == {1, 3}  # committed by 1 and 2, the old quorum


def test_adding_a_voter_that_never_answered_to_one_node_is_refused(make_cluster):
    """PD #11236: growing 1 -> 2 voters with a dead newcomer stops the group for good."""
    c = make_cluster([1])
    c.elect(1)
    c.add_node(2)
    c.crash(2)
    with pytest.raises(ConfigChangeRejected, match="could not commit"):
        c.core(1).change_membership(ConfigChange(ChangeKind.ADD_VOTER, 2))
    c.core(1).change_membership(ConfigChange(ChangeKind.ADD_LEARNER, 2))  # always fine


def test_removing_the_dead_voter_is_accepted(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.crash(3)
    c.tick([1], times=6)
    change(c, ChangeKind.REMOVE, 3)
    assert c.core(1).membership.voters == {1, 2}


def test_leader_whose_log_holds_its_removal_takes_no_more_entries(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.core(1).change_membership(ConfigChange(ChangeKind.REMOVE, 1))
    with pytest.raises(LeavingGroup):
        c.core(1).propose([b"late"])
    c.stabilize()
    assert c.core(1).removed and c.core(1).role is Role.FOLLOWER


def test_new_leader_inheriting_its_own_pending_removal_takes_no_entries(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    # The removal of 2 reaches 2 (and 3) but commits nowhere: 1 never hears the acks.
    c.transform = lambda m: None if isinstance(m, AppendResp) and m.dst == 1 else m
    c.core(1).change_membership(ConfigChange(ChangeKind.REMOVE, 2))
    c.stabilize()
    c.crash(1)
    # 2 (whose log holds its removal) wins the next election; its NOOP is not acked yet.
    c.transform = lambda m: (
        None if (isinstance(m, (PreVote, Vote)) and m.src == 3) or isinstance(m, AppendResp) else m
    )
    for _ in range(30):
        c.tick([2, 3])
        if c.core(2).role is Role.LEADER:
            break
    assert c.core(2).role is Role.LEADER
    with pytest.raises(LeavingGroup):
        c.core(2).propose([b"x"])
    c.transform = None
    c.restart(1)
    c.tick([2], times=2)  # the NOOP commits the removal; 2 hands over at once
    assert c.core(2).removed
    c.tick([1, 3], times=12)
    leader = c.leader()
    assert leader in (1, 3) and c.core(leader).membership.voters == {1, 3}


def _removal_commit_unseen_by_the_follower(c) -> int:
    """Voters 1 and 2; leader 1 removes itself; the removal commits (2 acks it) but 2
    never learns the commit index. Returns the removal's index."""
    c.elect(1)
    c.propose(1, b"a")
    index = c.core(1).change_membership(ConfigChange(ChangeKind.REMOVE, 1))
    c.transform = lambda m: (
        attrs.evolve(m, commit=min(m.commit, index - 1))
        if isinstance(m, (Append, Heartbeat))
        else (None if isinstance(m, TimeoutNow) else m)
    )
    c.stabilize()
    assert c.core(1).removed and c.core(1).role is Role.FOLLOWER
    assert c.core(2).commit < index and c.core(2).membership.voters == {1, 2}
    c.transform = None
    return index


def test_removed_leader_still_votes_so_a_follower_that_missed_the_commit_can_win(make_cluster):
    """Membership applies when committed: a follower that holds the removal but never
    heard it committed still counts the old voters and needs the removed node's vote."""
    c = make_cluster([1, 2])
    _removal_commit_unseen_by_the_follower(c)
    c.tick([1, 2], times=30)
    assert c.leader() == 2
    assert c.core(2).membership.voters == {2}
    c.propose(2, b"b")
    assert c.nodes[2].state == [b"a", b"b"]


def test_planted_bug_a_removed_node_that_stops_answering_blocks_its_group(
    make_cluster, monkeypatch
):
    original = RaftCore.step

    def deaf_once_removed(self: RaftCore, msg) -> None:
        if not self.removed:
            original(self, msg)

    monkeypatch.setattr(RaftCore, "step", deaf_once_removed)
    c = make_cluster([1, 2])
    _removal_commit_unseen_by_the_follower(c)
    c.tick([1, 2], times=60)
    assert all(c.core(n).role is not Role.LEADER for n in (1, 2))


def test_removed_node_never_campaigns_and_remembers_after_restart(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    change(c, ChangeKind.REMOVE, 3)
    assert c.core(3).removed
    c.restart(3, applied=c.nodes[3].applied_index)
    assert c.core(3).removed
    term = c.core(1).term
    c.crash(1)
    c.crash(2)
    c.tick([3], times=40)
    assert c.core(3).role is Role.FOLLOWER and c.core(3).term == term
    assert not any(isinstance(m, (PreVote, Vote)) and m.src == 3 for m in c.sent)


def test_leader_refuses_reads_forwarded_by_a_non_member(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    change(c, ChangeKind.REMOVE, 3)
    c.core(1).step(
        ReadIndexReq(group=c.core(1).group, src=3, dst=1, term=c.core(1).term, request_ids=(7,))
    )
    c.stabilize()
    answers = [m for m in c.sent if isinstance(m, ReadIndexResp) and m.dst == 3]
    assert answers and not answers[-1].ok


def test_member_progress_reports_match_lag_and_promotability(make_cluster):
    c = make_cluster([1, 2, 3], learners=[4], max_promote_lag=2)
    c.elect(1)
    c.propose(1, b"a")
    c.crash(3)
    c.propose(1, b"b", b"c", b"d")
    c.tick([1], times=1)
    by_id = {p.node_id: p for p in c.core(1).member_progress()}
    commit = c.core(1).commit
    assert sorted(by_id) == [1, 2, 3, 4]
    assert by_id[1].voter and by_id[1].match == commit and by_id[1].heard_ticks_ago == 0
    assert by_id[2].lag == 0 and by_id[2].heard_ticks_ago is not None
    assert by_id[3].lag == commit - by_id[3].match == 3
    assert not by_id[4].voter and by_id[4].promotable and by_id[4].lag == 0
    assert c.core(2).member_progress() == ()
    c.crash(4)
    c.propose(1, b"e", b"f", b"g")
    assert not {p.node_id: p for p in c.core(1).member_progress()}[4].promotable


def test_planted_bug_a_removed_leader_with_a_longer_log_blocks_its_group(make_cluster, monkeypatch):
    """Why a leader stops taking entries once its log holds its own removal: without that
    rule, its log can end beyond every other voter's, so it refuses them all its vote --
    and, removed, it never campaigns itself. The group never elects again."""

    def check_leader_without_the_rule(self: RaftCore):
        if self._repl is None:
            raise NotLeader(self._leader)
        return self._repl

    monkeypatch.setattr(RaftCore, "_check_leader", check_leader_without_the_rule)
    c = make_cluster([1, 2])
    c.elect(1)
    c.propose(1, b"a")
    index = c.core(1).change_membership(ConfigChange(ChangeKind.REMOVE, 1))
    c.core(1).propose([b"late"])  # accepted by the planted bug; 2 never receives it
    c.transform = lambda m: (
        attrs.evolve(
            m,
            entries=tuple(e for e in m.entries if e.index <= index),
            commit=min(m.commit, index - 1),
        )
        if isinstance(m, Append)
        else attrs.evolve(m, commit=min(m.commit, index - 1))
        if isinstance(m, Heartbeat)
        else None
        if isinstance(m, TimeoutNow)
        else m
    )
    c.stabilize()
    assert c.core(1).removed and c.core(1).last_index == index + 1
    assert c.core(2).last_index == index and c.core(2).membership.voters == {1, 2}
    c.transform = None
    c.tick([1, 2], times=60)
    assert all(c.core(n).role is not Role.LEADER for n in (1, 2))


def test_a_node_added_again_is_no_longer_removed(make_cluster):
    """Ids are never reused for a new node, but the same node (same log) may come back."""
    c = make_cluster([1, 2, 3])
    c.elect(1)
    change(c, ChangeKind.REMOVE, 3)
    assert c.core(3).removed
    change(c, ChangeKind.ADD_LEARNER, 3)
    change(c, ChangeKind.PROMOTE, 3)
    assert not c.core(3).removed and c.core(3).membership.voters == {1, 2, 3}
    c.crash(1)
    c.tick([2, 3], times=30)
    assert c.leader() in (2, 3)
