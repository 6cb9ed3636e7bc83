"""The snapshot receiver that production drivers and the simulator share: staging, order,
one parked install at a time, and the core's take-or-decline of the offer."""

from __future__ import annotations

import pytest

from seshat_trio.raft import Membership, Snapshot, SnapshotMeta, iter_snapshot_chunks
from seshat_trio.replication.snapshot import SnapshotReceiver, encode_header
from seshat_trio.storage import WriteBatch

META = SnapshotMeta(5, 2, Membership(frozenset({1, 2})))


class Sink:
    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.finished = False
        self.aborted = False

    def add_chunk(self, chunk: bytes) -> None:
        self.parts.append(chunk)

    def finish(self, batch: WriteBatch | None = None) -> None:
        self.finished = True

    def abort(self) -> None:
        self.aborted = True


class Sinks:
    def __init__(self) -> None:
        self.opened: list[Sink] = []

    def __call__(self) -> Sink:
        self.opened.append(Sink())
        return self.opened[-1]


def offer(meta: SnapshotMeta = META, src: int = 1) -> Snapshot:
    return Snapshot(group=1, src=src, dst=2, term=3, meta=meta)


def stream(pieces: list[bytes], applied: int = 5, meta: SnapshotMeta = META, src: int = 1):
    return list(iter_snapshot_chunks(offer(meta, src), [encode_header(applied), *pieces]))


def test_chunks_are_staged_in_order_then_parked_with_the_offer() -> None:
    sinks = Sinks()
    receiver = SnapshotReceiver(sinks)
    results = [receiver.feed(chunk) for chunk in stream([b"abc", b"", b"defg"], applied=9)]
    assert [ack.ok for ack, _ in results] == [True] * 4
    assert [ack.offset for ack, _ in results] == [13, 16, 16, 20]  # the header is counted
    assert [o for _, o in results[:-1]] == [None, None, None]
    assert results[-1][1] == offer()
    (sink,) = sinks.opened
    assert sink.parts == [b"abc", b"", b"defg"] and not sink.finished
    assert receiver.parked is not None and receiver.parked.applied == 9


def test_a_gap_is_refused_and_a_restart_recovers() -> None:
    sinks = Sinks()
    receiver = SnapshotReceiver(sinks)
    chunks = stream([b"ab", b"cd"])
    receiver.feed(chunks[0])
    ack, done = receiver.feed(chunks[2])  # chunk 1 was lost
    assert not ack.ok and ack.offset == 0 and done is None
    assert sinks.opened[0].aborted
    results = [receiver.feed(chunk) for chunk in chunks]
    assert results[-1][1] == offer() and sinks.opened[1].parts == [b"ab", b"cd"]


def test_data_behind_the_snapshot_index_is_refused() -> None:
    sinks = Sinks()
    receiver = SnapshotReceiver(sinks)
    ack, done = receiver.feed(stream([b"x"], applied=4)[0])
    assert not ack.ok and done is None and sinks.opened == []


def test_one_install_at_a_time_then_claimed_by_the_ready_that_installs_it() -> None:
    sinks = Sinks()
    receiver = SnapshotReceiver(sinks)
    for chunk in stream([b"a"]):
        receiver.feed(chunk)
    parked = receiver.stepped(readys=7)
    other = stream([b"b"], src=3)[0]
    ack, done = receiver.feed(other)
    assert not ack.ok and done is None and len(sinks.opened) == 1
    assert receiver.drop_declined(readys=7) is None  # that Ready was taken before the offer
    with pytest.raises(RuntimeError):
        receiver.claim(SnapshotMeta(6, 2, META.membership))
    assert receiver.claim(META) is parked and receiver.parked is None
    assert not parked.sink.aborted  # type: ignore[attr-defined]


def test_a_parked_snapshot_the_core_did_not_take_is_declined() -> None:
    sinks = Sinks()
    receiver = SnapshotReceiver(sinks)
    for chunk in stream([b"a"]):
        receiver.feed(chunk)
    assert receiver.drop_declined(readys=3) is None  # not stepped into the core yet
    receiver.stepped(readys=3)
    assert receiver.drop_declined(readys=4) == META
    assert receiver.parked is None and sinks.opened[0].aborted
    ack, _ = receiver.feed(stream([b"b"])[0])
    assert ack.ok  # a new stream may start
