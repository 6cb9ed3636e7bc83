"""Chunked snapshot streaming between drivers (sans-IO helpers; the core sees only offers).

Sender: for a `Snapshot` offer in Ready.messages the leader's driver reads the application's
snapshot for `offer.meta` as byte pieces and sends `iter_snapshot_chunks(offer, pieces)`;
when the stream ends (or a chunk is refused) it calls `core.report_snapshot(dst, ok)`.
Receiver: the follower's driver feeds every chunk to one `SnapshotAssembler` per group; each
call returns the ack to send back and, after the last chunk, the offer to `core.step()` plus
the complete data to install when the core's next Ready asks for that snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import attrs

from seshat_trio.raft.messages import Snapshot, SnapshotChunk, SnapshotChunkAck
from seshat_trio.raft.model import SnapshotMeta


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


@attrs.frozen(slots=True)
class AssembledSnapshot:
    offer: Snapshot
    data: bytes


@attrs.define(slots=True)
class SnapshotAssembler:
    """Reassembles one snapshot stream at a time; a chunk at offset 0 restarts the stream."""

    _meta: SnapshotMeta | None = None
    _src: int = 0
    _parts: list[bytes] = attrs.field(factory=list)
    _received: int = 0

    def feed(self, chunk: SnapshotChunk) -> tuple[SnapshotChunkAck, AssembledSnapshot | None]:
        if chunk.offset == 0:
            self._meta, self._src, self._parts, self._received = chunk.meta, chunk.src, [], 0
        in_order = (
            self._meta == chunk.meta and self._src == chunk.src and chunk.offset == self._received
        )
        if not in_order:
            self._meta, self._parts, self._received = None, [], 0
            return self._ack(chunk, ok=False), None
        self._parts.append(chunk.data)
        self._received += len(chunk.data)
        ack = self._ack(chunk, ok=True)
        if not chunk.last:
            return ack, None
        data = b"".join(self._parts)
        self._meta, self._parts, self._received = None, [], 0
        offer = Snapshot(
            group=chunk.group, src=chunk.src, dst=chunk.dst, term=chunk.term, meta=chunk.meta
        )
        return ack, AssembledSnapshot(offer, data)

    def _ack(self, chunk: SnapshotChunk, *, ok: bool) -> SnapshotChunkAck:
        return SnapshotChunkAck(
            group=chunk.group,
            src=chunk.dst,
            dst=chunk.src,
            term=chunk.term,
            meta_index=chunk.meta.index,
            offset=chunk.offset + len(chunk.data) if ok else self._received,
            ok=ok,
        )
