"""Restart from storage: hard state, log, snapshot and membership come back."""

from __future__ import annotations

import random

import pytest

from seshat_trio.raft import (
    Append,
    ChangeKind,
    ConfigChange,
    Entry,
    EntryKind,
    HardState,
    Membership,
    MemoryLogStorage,
    RaftConfig,
    RaftCore,
    Role,
)


def test_full_cluster_restart_keeps_committed_entries(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.propose(1, b"a", b"b")
    c.replicate_commit()
    before = {n: (c.core(n).term, c.core(n).commit) for n in (1, 2, 3)}
    for n in (1, 2, 3):
        c.crash(n)
    for n in (1, 2, 3):
        c.restart(n)
        core = c.core(n)
        assert (core.term, core.commit) == before[n]
        assert core.role is Role.FOLLOWER and core.leader_id is None
        assert core.last_index == 3
    c.stabilize()  # committed entries are re-delivered to the rebuilt state machines
    assert all(c.nodes[n].state == [b"a", b"b"] for n in (1, 2, 3))
    c.elect(2)
    c.propose(2, b"c")
    c.replicate_commit()
    assert all(c.nodes[n].state == [b"a", b"b", b"c"] for n in (1, 2, 3))


def test_restart_preserves_vote(make_cluster):
    c = make_cluster([1, 2, 3], check_quorum=False)
    c.elect(1)
    for n in (2, 3):
        c.crash(n)
        c.restart(n)
    assert c.nodes[2].storage.hard_state().vote == 1
    assert c.core(2).term == 1


def test_restart_with_applied_skips_redelivery(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.propose(1, b"a", b"b")
    c.replicate_commit()
    node = c.nodes[2]
    c.crash(2)
    c.restart(2, applied=3)
    node.state, node.applied_index = [b"a", b"b"], 3  # the application kept its state
    seen = len(node.readies)
    c.stabilize()
    c.propose(1, b"c")
    c.replicate_commit()
    redelivered = [e.index for rd in node.readies[seen:] for e in rd.committed_entries]
    assert redelivered == [4]
    assert node.state == [b"a", b"b", b"c"]
    assert c.core(2).applied == 4


def test_restart_after_compaction_and_membership_change(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.add_node(4)
    c.core(1).change_membership(ConfigChange(ChangeKind.ADD_LEARNER, 4))
    c.stabilize()
    c.propose(1, b"x")
    c.replicate_commit()
    c.nodes[2].snapshot_now()
    c.stabilize()
    c.propose(1, b"y")
    c.crash(2)
    c.restart(2)
    core = c.core(2)
    assert core.membership == Membership(frozenset({1, 2, 3}), frozenset({4}))
    assert core.applied == c.nodes[2].storage.snapshot_meta().index
    c.stabilize()
    c.replicate_commit()
    assert c.nodes[2].state == [b"x", b"y"]


def test_membership_replayed_from_log_on_restart():
    storage = MemoryLogStorage(Membership(frozenset({1})))
    core = RaftCore(RaftConfig(group=7, node_id=1), storage, random.Random(0))
    for _ in range(20):
        core.tick()
    for _ in range(5):
        if not core.has_ready():
            break
        rd = core.ready()
        storage.append(rd.entries)
        if rd.hard_state is not None:
            storage.set_hard_state(rd.hard_state)
        core.advance(rd)
    core.change_membership(ConfigChange(ChangeKind.ADD_LEARNER, 9))
    while core.has_ready():
        rd = core.ready()
        storage.append(rd.entries)
        if rd.hard_state is not None:
            storage.set_hard_state(rd.hard_state)
        core.advance(rd)
    assert core.membership.learners == {9}
    again = RaftCore(
        RaftConfig(group=7, node_id=1, applied=core.applied), storage, random.Random(0)
    )
    assert again.membership.learners == {9}
    assert again.applied == core.applied


def test_restart_with_applied_beyond_durable_commit():
    """BUG-1: commit-only hard states are written lazily, so the application may have
    applied past the durable commit; the core must accept that on restart."""
    storage = MemoryLogStorage(Membership(frozenset({1, 2, 3})))
    storage.append([Entry(1, i, EntryKind.NORMAL, b"") for i in range(1, 5)])
    storage.set_hard_state(HardState(term=1, vote=1, commit=2))
    core = RaftCore(RaftConfig(group=7, node_id=1, applied=4), storage, random.Random(0))
    assert core.commit == 4 and core.applied == 4
    with pytest.raises(ValueError):
        RaftCore(RaftConfig(group=7, node_id=1, applied=5), storage, random.Random(0))


def test_entries_written_while_a_conflicting_append_replaced_their_tail_stay_stable() -> None:
    """A follower writes entries 1..3 (term 1); before it advances, a new leader's Append
    replaces entry 3. Entries 1..2 are durable: the next Ready must not hand them out again
    (the application may have compacted them meanwhile)."""
    storage = MemoryLogStorage(initial_membership=Membership(frozenset({1, 2, 3})))
    core = RaftCore(RaftConfig(group=1, node_id=2), storage, random.Random(1))
    old = tuple(Entry(1, i, EntryKind.NORMAL, b"x%d" % i) for i in (1, 2, 3))
    core.step(
        Append(group=1, src=1, dst=2, term=1, prev_index=0, prev_term=0, entries=old, commit=0)
    )
    ready = core.ready()
    assert [e.index for e in ready.entries] == [1, 2, 3]
    new = (Entry(2, 3, EntryKind.NORMAL, b"y"),)
    core.step(
        Append(group=1, src=3, dst=2, term=2, prev_index=2, prev_term=1, entries=new, commit=2)
    )
    storage.append(ready.entries)
    if ready.hard_state is not None:
        storage.set_hard_state(ready.hard_state)
    core.advance(ready)
    following = core.ready()
    assert following.entries == new
