"""Log replication: figure 7 and 8 scenarios, backtracking, pipelining, batching."""

from __future__ import annotations

from collections.abc import Callable

import attrs

from seshat_trio.raft import (
    Append,
    AppendResp,
    HeartbeatResp,
    MemoryLogStorage,
    Message,
    ProgressState,
    Role,
)


def drop_entries_from(index: int) -> Callable[[Message], Message | None]:
    """Wire rewrite: Appends lose every entry at or after `index`."""

    def rewrite(m: Message) -> Message | None:
        if isinstance(m, Append):
            return attrs.evolve(m, entries=tuple(e for e in m.entries if e.index < index))
        return m

    return rewrite


# Raft paper figure 7: the leader's log and followers (a)-(f), entries given by term.
FIG7_LEADER = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6]
FIG7_FOLLOWERS = {
    2: [1, 1, 1, 4, 4, 5, 5, 6, 6],  # (a) missing one entry
    3: [1, 1, 1, 4],  # (b) missing many
    4: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],  # (c) one extra uncommitted entry
    5: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],  # (d) two extra entries of term 7
    6: [1, 1, 1, 4, 4, 4, 4],  # (e) extra term-4 entries
    7: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],  # (f) a whole divergent suffix
}


def test_figure7_all_followers_converge_to_leader_log(make_cluster):
    c = make_cluster(range(1, 8), check_quorum=False)
    c.preload(1, FIG7_LEADER, term=7, commit=3)
    for node_id, terms in FIG7_FOLLOWERS.items():
        c.preload(node_id, terms, term=7, commit=3)
    c.elect(1)
    assert c.core(1).term == 8
    c.replicate_commit()
    leader_terms = [c.core(1).log_term(i) for i in range(1, 12)]
    assert leader_terms == [*FIG7_LEADER, 8]
    for node_id in FIG7_FOLLOWERS:
        core = c.core(node_id)
        assert core.last_index == 11, node_id
        assert [core.log_term(i) for i in range(1, 12)] == leader_terms, node_id
        assert core.commit == 11
    # Every node applied the same 11 entries (the harness checks agreement per index).
    assert sorted(c.committed) == list(range(1, 12))


def test_figure7_leader_never_elected_over_more_up_to_date_logs(make_cluster):
    c = make_cluster(range(1, 8), check_quorum=False)
    for node_id, terms in FIG7_FOLLOWERS.items():
        c.preload(node_id, terms, term=7)
    c.preload(1, FIG7_LEADER, term=7)
    c.elect(5)  # (d) holds the most up-to-date log and can win
    assert c.core(5).term == 8
    c.replicate_commit()
    assert [c.core(1).log_term(i) for i in range(10, 14)] == [6, 7, 7, 8]


def test_figure8_old_term_entry_not_committed_by_counting(make_cluster):
    c = make_cluster(range(1, 6), check_quorum=False)
    # S1 led term 2 and got (2,2) to S2; S5 led term 3 and wrote (3,2) locally only.
    c.preload(1, [1, 2], term=3, commit=1)
    c.preload(2, [1, 2], term=3, commit=1)
    c.preload(3, [1], term=3, commit=1)
    c.preload(4, [1], term=3, commit=1)
    c.preload(5, [1, 3], term=3, commit=1)
    # S1 wins term 4 (S2, S3, S4) but its term-4 no-op (index 3) reaches nobody.
    c.transform = drop_entries_from(3)
    c.crash(5)
    c.elect(1)
    assert c.core(1).term == 4
    c.tick([1], times=3)
    assert c.core(3).log_term(2) == 2  # (2,2) is on S1, S2, S3: a majority...
    assert c.core(1).commit == 1  # ...but it is not from term 4, so it is not committed
    # Which is right: S5 can still win with (3,2) and overwrite it.
    c.crash(1)
    c.restart(5)
    c.transform = None
    c.elect(5)
    c.tick([5], times=2)
    assert c.committed[2][0] == 3
    assert c.core(3).log_term(2) == 3


def test_figure8_old_entry_commits_with_current_term_noop(make_cluster):
    c = make_cluster(range(1, 6), check_quorum=False)
    for node_id, terms in {1: [1, 2], 2: [1, 2], 3: [1], 4: [1], 5: [1, 3]}.items():
        c.preload(node_id, terms, term=3, commit=1)
    c.crash(5)
    c.elect(1)
    c.replicate_commit()
    assert c.core(1).commit == 3
    assert c.committed[2][0] == 2
    assert c.core(3).commit == 3


def test_conflict_hints_skip_a_whole_term(make_cluster):
    c = make_cluster([1, 2, 3], check_quorum=False)
    c.preload(1, [1, 3, 3, 3], term=3, commit=1)
    c.preload(2, [1, 3, 3, 3], term=3, commit=1)
    c.preload(3, [1] + [2] * 50, term=3, commit=1)
    c.elect(1)
    c.replicate_commit()
    rejections = [m for m in c.sent if isinstance(m, AppendResp) and m.src == 3 and not m.success]
    assert 1 <= len(rejections) <= 2  # not ~50 one-by-one decrements
    assert [c.core(3).log_term(i) for i in range(1, 6)] == [1, 3, 3, 3, 4]
    assert c.core(3).last_index == 5


def test_pipelining_respects_inflight_window(make_cluster):
    c = make_cluster([1, 2, 3], max_inflight_msgs=2)
    c.elect(1)
    assert c.core(1).progress(3).state is ProgressState.REPLICATE
    c.transform = lambda m: None if isinstance(m, AppendResp) and m.src == 3 else m
    start = len(c.sent)
    for i in range(10):
        c.propose(1, b"cmd%d" % i)
    to3 = [m for m in c.sent[start:] if isinstance(m, Append) and m.dst == 3 and m.entries]
    assert len(to3) == 2  # the window: two unacknowledged Appends, then paused
    assert c.core(1).progress(3).inflights.full()
    assert c.core(1).commit == 11  # node 2 alone makes the quorum
    c.transform = None
    c.tick([1], times=3)
    assert c.core(3).last_index == 11
    assert c.core(3).commit == 11


def test_pipelining_sends_several_appends_before_any_ack(make_cluster):
    c = make_cluster([1, 2], max_inflight_msgs=4)
    c.elect(1)
    leader = c.core(1)
    start = len(c.sent)
    for i in range(3):
        leader.propose([b"p%d" % i])
    rd = leader.ready()
    appends = [m for m in rd.messages if isinstance(m, Append) and m.entries]
    assert [m.entries[0].index for m in appends] == [2, 3, 4]  # optimistic next
    assert leader.progress(2).inflights.count() == 3
    leader.advance(rd)
    assert len(c.sent) == start


def test_append_batches_by_bytes(make_cluster):
    c = make_cluster([1, 2, 3], max_msg_bytes=100)
    c.elect(1)
    c.isolate(3)
    c.core(1).propose([b"0123456789"] * 9 + [b"x" * 200])
    c.stabilize()
    start = len(c.sent)
    c.heal()
    c.tick([1], times=4)
    to3 = [m for m in c.sent[start:] if isinstance(m, Append) and m.dst == 3 and m.entries]
    sizes = [sum(e.size() for e in m.entries) for m in to3]
    assert all(size <= 100 or len(m.entries) == 1 for size, m in zip(sizes, to3, strict=True))
    assert max(len(m.entries) for m in to3) == 2  # 34-byte entries: two fit in 100
    assert any(len(m.entries) == 1 and m.entries[0].size() > 100 for m in to3)
    assert c.core(3).last_index == 11


def test_leader_sends_appends_before_own_fsync_but_acks_wait(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    leader = c.core(1)
    leader.propose([b"v"])
    rd = leader.ready()
    assert rd.entries and rd.must_sync
    assert any(isinstance(m, Append) for m in rd.messages)  # replicate in parallel
    assert leader.commit == 1
    c.nodes[1].storage.append(rd.entries)
    leader.advance(rd)
    # The follower's ack waits for its own persistence.
    for m in rd.messages:
        c.core(m.dst).step(m)
    frd = c.core(2).ready()
    assert not [m for m in frd.messages if isinstance(m, AppendResp)]
    assert [m for m in frd.persisted_messages if isinstance(m, AppendResp)]
    c.core(2).advance(frd)


def test_single_node_commits_only_after_persisting(make_cluster):
    c = make_cluster([1])
    c.elect(1)
    core = c.core(1)
    core.propose([b"a"])
    assert core.commit == 1
    rd = core.ready()
    assert rd.committed_entries == ()
    c.nodes[1].storage.append(rd.entries)
    core.advance(rd)
    assert core.commit == 2
    assert core.role is Role.LEADER


def test_follower_that_lost_acknowledged_entries_is_re_replicated(make_cluster):
    """A follower's disk drops synced entries it had acknowledged (a torn WAL): the leader
    must notice (its conflict hint falls below `match`) and re-replicate, not probe at
    `match` forever."""
    c = make_cluster([1, 2, 3])
    c.elect(1)
    for i in range(20):
        c.propose(1, b"w%d" % i)
    c.stabilize()
    victim = c.nodes[3]
    acked = victim.storage.last_index()
    assert c.core(1).progress(3).match == acked
    c.crash(3)
    # Rebuild node 3's storage as a disk that lost its last 10 entries would leave it.
    kept = victim.storage.entries(victim.storage.first_index(), acked - 9, None)
    damaged = MemoryLogStorage(victim.storage.snapshot_meta().membership)
    damaged.append(kept)
    hard = victim.storage.hard_state()
    damaged.set_hard_state(attrs.evolve(hard, commit=min(hard.commit, kept[-1].index)))
    victim.storage = damaged
    c.restart(3)
    c.propose(1, b"after")
    c.stabilize()
    assert c.core(1).follower_regressions == 1
    assert damaged.last_index() == c.nodes[1].storage.last_index() == acked + 1
    assert c.core(1).progress(3).match == acked + 1
    assert c.nodes[3].state == c.nodes[1].state


def test_a_heartbeat_answer_sends_an_empty_append_only_when_no_ack_came_since(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.isolate(3)
    leader = c.core(1)
    held: list[AppendResp | HeartbeatResp] = []

    def hold_answers_of_2(m):
        if isinstance(m, AppendResp | HeartbeatResp) and m.src == 2:
            held.append(m)
            return None
        return m

    c.transform = hold_answers_of_2
    c.propose(1, b"a")
    c.propose(1, b"b")  # two Appends in flight to node 2, both unacknowledged
    acks = [m for m in held if isinstance(m, AppendResp)]
    assert [m.index for m in acks] == [2, 3]
    last = leader.last_index
    held.clear()

    def appends_to_2_after(answer: HeartbeatResp) -> list[Append]:
        start = len(c.sent)
        leader.step(answer)
        c.round()  # no stabilize(): its commit publication would send an Append too
        return [m for m in c.sent[start:] if isinstance(m, Append) and m.dst == 2]

    # An ack arrives between a heartbeat and its answer: the pipeline moves, nothing to
    # resend, so the answer brings no Append; nor does the next heartbeat's answer, within
    # an interval of that ack.
    c.tick([1])
    (beat_answer,) = held
    held.clear()
    leader.step(acks[0])
    assert leader.progress(2).match == 2 < last
    assert appends_to_2_after(beat_answer) == []
    c.tick([1])
    (beat_answer,) = held
    held.clear()
    assert appends_to_2_after(beat_answer) == []
    # No ack for a whole interval (the second Append may be lost): the answer brings an
    # empty Append, whose rejection or ack sets the follower's progress right.
    c.tick([1])
    (beat_answer,) = held
    held.clear()
    (append,) = appends_to_2_after(beat_answer)
    assert append.entries == () and append.prev_index == last
