"""Chunked snapshot streaming between drivers (sans-IO helper; the core sees only offers).

Sender: for a `Snapshot` offer in Ready.messages the leader's driver reads the application's
snapshot for `offer.meta` as byte pieces and sends `iter_snapshot_chunks(offer, pieces)`;
when the stream ends (or a chunk is refused) it calls `core.report_snapshot(dst, ok)`.
Receiver: the follower's driver stages the chunks and steps the offer into its core after the
last one (`seshat_trio.replication.snapshot.SnapshotReceiver`, which the simulator runs too).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from seshat_trio.raft.messages import Snapshot, SnapshotChunk


def iter_snapshot_chunks(offer: Snapshot, pieces: Iterable[bytes]) -> Iterator[SnapshotChunk]:
    """One chunk per piece (empty data yields one empty last chunk)."""
    offset = 0
    pending: bytes | None = None
    for piece in pieces:
        if pending is not None:
            yield _chunk(offer, offset, pending, last=False)
            offset += len(pending)
        pending = piece
    yield _chunk(offer, offset, pending or b"", last=True)


def _chunk(offer: Snapshot, offset: int, data: bytes, *, last: bool) -> SnapshotChunk:
    return SnapshotChunk(
        group=offer.group,
        src=offer.src,
        dst=offer.dst,
        term=offer.term,
        meta=offer.meta,
        offset=offset,
        data=data,
        last=last,
    )
