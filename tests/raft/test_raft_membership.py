"""Membership: learners, promotion, add/remove, leader self-removal, one change at a time."""

from __future__ import annotations

import pytest

from seshat_trio.raft import (
    AppendResp,
    ChangeKind,
    ConfigChange,
    ConfigChangeRejected,
    EntryKind,
    Membership,
    NotLeader,
    Role,
    TimeoutNow,
    Vote,
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
