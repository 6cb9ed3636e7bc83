"""A voter whose apply lags behind committed CONFIG entries must not campaign.

Membership takes effect at apply. Node 3 below holds (and knows committed) two membership
changes it has not applied, so it would campaign in {1,2,3} while the cluster already runs
{1,2,4}: with 2's vote it would win while 1 still leads with 4, and the two leaders would
commit different entries at the same index. Found in review; etcd's hup() has the same guard.
"""

from __future__ import annotations

import random

from seshat_trio.raft import (
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
    TimeoutNow,
    Vote,
    encode_membership,
)


def rounds(c, k):
    for _ in range(k):
        c.round()


def test_a_node_behind_on_applying_a_config_change_does_not_campaign(make_cluster):
    # One committed entry per Ready: a stand-in for a follower whose apply lags
    # (4 MiB per Ready by default, vs. Appends that bring far more).
    c = make_cluster([1, 2, 3], max_committed_bytes_per_ready=1)
    c.elect(1)
    c.add_node(4)
    # 3 is away while a backlog builds and 4 joins as a voter: C2 = {1,2,3,4}.
    c.isolate(3)
    c.propose(1, *[b"f%d" % i for i in range(60)])
    i2 = c.core(1).change_membership(ConfigChange(ChangeKind.ADD_VOTER, 4))
    c.stabilize()
    c.tick([1], times=2)
    assert c.core(1).membership.voters == {1, 2, 3, 4} and c.core(1).applied >= i2
    # 2 goes away, 3 comes back: it receives the whole log (and commit >= i2) at once but
    # applies one entry per Ready.
    c.heal()
    c.isolate(2)
    for _ in range(4):
        c.core(1).tick()
        rounds(c, 1)
        if c.core(3).last_index >= i2:
            break
    rounds(c, 2)
    assert c.core(3).last_index >= i2 and c.core(3).commit >= i2
    assert c.core(3).applied < i2
    # Leader removes 3: C3 = {1,2,4}; committed by 1, 3, 4 (a majority of C2).
    i3 = c.core(1).change_membership(ConfigChange(ChangeKind.REMOVE, 3))
    rounds(c, 4)
    assert c.core(1).commit >= i3 and c.core(3).last_index >= i3
    rounds(c, 2)
    assert c.core(1).membership.voters == {1, 2, 4}
    assert c.core(3).membership.voters == {1, 2, 3}, c.core(3).membership  # still C1
    # Partition {1,4} | {2,3}. 1 keeps leading C3 with 4 (check-quorum is satisfied);
    # 3 campaigns in C1 with 2's vote (2 has not heard from a leader for a while).
    c.heal()
    for a in (1, 4):
        for b in (2, 3):
            c.cut |= {(a, b), (b, a)}
    for _ in range(40):
        for n in (1, 2, 3, 4):
            c.core(n).tick()
        rounds(c, 1)
        assert c.core(3).role is not Role.LEADER
    assert c.core(1).role is Role.LEADER
    # Writes on the majority side commit; nothing else was committed at their indexes.
    c.core(1).propose([b"left"])
    for _ in range(30):
        for n in (1, 2, 3, 4):
            c.core(n).tick()
        rounds(c, 1)
        assert c.core(3).role is not Role.LEADER
    c.heal()
    c.stabilize()
    c1, c3 = c.core(1), c.core(3)
    index = min(c1.commit, c3.commit)
    assert c1.log_term(index) == c3.log_term(index)


def test_timeout_now_waits_for_committed_config_changes_to_apply():
    # Node 2 knows {1,2,3} was replaced by {1,2,4} (committed at 2) but has not applied it:
    # a transfer's TimeoutNow must not make it campaign in {1,2,3} (etcd refuses it too).
    storage = MemoryLogStorage(Membership(frozenset({1, 2, 3})))
    new = Membership(frozenset({1, 2, 4}))
    storage.append(
        [Entry(1, 1, EntryKind.NOOP), Entry(1, 2, EntryKind.CONFIG, encode_membership(new))]
    )
    storage.set_hard_state(HardState(term=1, vote=1, commit=2))
    core = RaftCore(RaftConfig(group=7, node_id=2), storage, random.Random(0))
    timeout_now = TimeoutNow(group=7, src=1, dst=2, term=1)
    core.step(timeout_now)
    assert core.role is Role.FOLLOWER and core.term == 1
    rd = core.ready()
    assert [e.index for e in rd.committed_entries] == [1, 2]
    assert not any(isinstance(m, Vote) for m in rd.messages + rd.persisted_messages)
    core.advance(rd)
    assert core.membership == new
    # Applied: now it campaigns, in the current membership.
    core.step(timeout_now)
    rd = core.ready()
    assert core.role is Role.CANDIDATE
    votes = [m for m in rd.persisted_messages if isinstance(m, Vote)]
    assert sorted(m.dst for m in votes) == [1, 4] and all(m.forced for m in votes)
