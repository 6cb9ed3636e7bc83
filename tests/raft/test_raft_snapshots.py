"""Compaction and snapshots: chunked send, install, fast-forward, limits."""

from __future__ import annotations

import random

import pytest

from seshat_trio.raft import (
    Append,
    Entry,
    EntryKind,
    HardState,
    Membership,
    MemoryLogStorage,
    ProgressState,
    RaftConfig,
    RaftCore,
    Snapshot,
    SnapshotChunk,
    SnapshotDelivered,
    SnapshotMeta,
    encode_membership,
    iter_snapshot_chunks,
)


def test_compaction_drops_log_and_lagging_follower_gets_snapshot(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.isolate(3)
    c.propose(1, *[b"v%d" % i for i in range(10)])
    c.tick([1])
    meta = c.nodes[1].snapshot_now()
    c.stabilize()
    assert meta.index == 11
    assert c.nodes[1].storage.first_index() == 12
    c.heal()
    c.tick([1], times=3)
    offers = [m for m in c.sent if isinstance(m, Snapshot)]
    assert len(offers) == 1 and offers[0].dst == 3 and offers[0].meta == meta
    node3 = c.nodes[3]
    assert node3.storage.snapshot_meta() == meta
    assert node3.state == [b"v%d" % i for i in range(10)]
    assert c.core(1).progress(3).state is ProgressState.REPLICATE
    delivered = [d for rd in c.nodes[1].readies for d in rd.snapshots_delivered]
    assert delivered == [SnapshotDelivered(3, meta.index)]
    c.propose(1, b"after")
    c.replicate_commit()
    assert node3.state[-1] == b"after"
    assert c.core(3).commit == 12


def test_follower_holding_the_entry_fast_forwards_without_install(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.propose(1, b"a", b"b")
    core2 = c.core(2)
    offer = Snapshot(group=7, src=1, dst=2, term=1, meta=SnapshotMeta(3, 1, c.membership))
    core2.step(offer)
    rd = core2.ready()
    assert rd.snapshot is None
    core2.advance(rd)
    assert core2.commit == 3


def test_stale_snapshot_is_acknowledged_not_installed(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.propose(1, b"a")
    c.replicate_commit()
    core2 = c.core(2)
    core2.step(Snapshot(group=7, src=1, dst=2, term=1, meta=SnapshotMeta(1, 1, c.membership)))
    rd = core2.ready()
    assert rd.snapshot is None and rd.persisted_messages[0].index == 2
    core2.advance(rd)


def test_compact_refuses_beyond_applied_or_backwards(make_cluster):
    c = make_cluster([1])
    c.elect(1)
    c.propose(1, b"a", b"b")
    core = c.core(1)
    with pytest.raises(ValueError):
        core.compact(SnapshotMeta(core.applied + 1, 1, c.membership))
    with pytest.raises(ValueError):
        core.compact(SnapshotMeta(2, 7, c.membership))  # wrong term
    c.nodes[1].snapshot_now()
    with pytest.raises(ValueError):
        core.compact(SnapshotMeta(2, 1, c.membership))  # not past the snapshot


def test_failed_stream_goes_back_to_probe(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.isolate(3)
    c.propose(1, b"a", b"b")
    c.tick([1])
    c.nodes[1].snapshot_now()
    c.stabilize()
    c.heal()
    c.transform = lambda m: None if isinstance(m, Snapshot) else m
    c.tick([1])
    pr = c.core(1).progress(3)
    assert pr.state is ProgressState.SNAPSHOT
    c.core(1).report_snapshot(3, success=False)
    assert pr.state is ProgressState.PROBE
    assert pr.snapshot_offered == 0  # a failed stream delivers nothing
    c.transform = None
    c.tick([1], times=3)
    assert c.core(3).commit == c.core(1).commit


def test_leader_never_sends_appends_below_first_index(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.isolate(3)
    c.propose(1, b"a", b"b")
    c.tick([1])
    c.nodes[1].snapshot_now()
    c.stabilize()
    start = len(c.sent)
    c.heal()
    c.tick([1], times=2)
    first = c.nodes[1].storage.first_index()
    assert all(
        m.prev_index >= first - 1 for m in c.sent[start:] if isinstance(m, Append) and m.dst == 3
    )


def _offer() -> Snapshot:
    return Snapshot(
        group=1, src=1, dst=2, term=3, meta=SnapshotMeta(5, 2, Membership(frozenset({1, 2})))
    )


def test_chunks_number_the_pieces_in_order():
    chunks = list(iter_snapshot_chunks(_offer(), [b"abc", b"", b"defg"]))
    assert [(ch.offset, ch.data, ch.last) for ch in chunks] == [
        (0, b"abc", False),
        (3, b"", False),
        (3, b"defg", True),
    ]


def test_empty_snapshot_is_one_last_chunk():
    (chunk,) = iter_snapshot_chunks(_offer(), [])
    assert chunk.last and chunk.offset == 0 and chunk.data == b""


def test_chunks_are_not_core_input(make_cluster):
    c = make_cluster([1, 2])
    chunk = SnapshotChunk(
        group=7,
        src=1,
        dst=2,
        term=1,
        meta=SnapshotMeta(1, 1, c.membership),
        offset=0,
        data=b"",
        last=True,
    )
    with pytest.raises(TypeError):
        c.core(2).step(chunk)  # type: ignore[arg-type]


def test_fast_forward_acks_only_the_snapshot_index(make_cluster):
    """Entries after the snapshot's last entry may conflict: acking them would let the
    leader count (and heartbeat-commit) entries the follower does not really share."""
    c = make_cluster([1, 2, 3])
    c.preload(2, [1, 1, 1, 2, 2], term=2, commit=1)
    core2 = c.core(2)
    core2.step(Snapshot(group=7, src=1, dst=2, term=3, meta=SnapshotMeta(3, 1, c.membership)))
    rd = core2.ready()
    assert rd.snapshot is None
    (ack,) = rd.persisted_messages
    assert ack.success and ack.index == 3
    assert core2.commit == 3
    core2.advance(rd)


def test_no_applied_snapshot_meta_while_install_pending(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    core2 = c.core(2)
    assert core2.applied_snapshot_meta() == SnapshotMeta(1, 1, c.membership)
    offer = Snapshot(group=7, src=1, dst=2, term=1, meta=SnapshotMeta(9, 1, c.membership))
    core2.step(offer)  # the log is replaced; applied (1) now lies below the snapshot
    assert core2.applied_snapshot_meta() is None
    with pytest.raises(ValueError):
        core2.compact(SnapshotMeta(1, 1, c.membership))


def test_snapshot_restored_mid_ready_keeps_its_newer_membership():
    base = Membership(frozenset({1, 2, 3}))
    with_4 = Membership(frozenset({1, 2, 3}), frozenset({4}))
    with_5 = Membership(frozenset({1, 2, 3}), frozenset({4, 5}))
    storage = MemoryLogStorage(base)
    storage.append(
        [Entry(1, 1, EntryKind.NOOP), Entry(1, 2, EntryKind.CONFIG, encode_membership(with_4))]
    )
    storage.set_hard_state(HardState(term=1, vote=0, commit=2))
    core = RaftCore(RaftConfig(group=7, node_id=2), storage, random.Random(0))
    rd = core.ready()
    assert [e.index for e in rd.committed_entries] == [1, 2]
    # While the driver persists/applies, a snapshot with a later membership arrives.
    core.step(Snapshot(group=7, src=1, dst=2, term=1, meta=SnapshotMeta(9, 1, with_5)))
    core.advance(rd)
    assert core.membership == with_5  # the older CONFIG entry does not win
    rd = core.ready()
    assert rd.snapshot is not None and rd.snapshot.index == 9
    storage.apply_snapshot(rd.snapshot)
    core.advance(rd)
    assert core.applied == 9 and core.membership == with_5
