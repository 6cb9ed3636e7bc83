"""Snapshot streaming between group drivers: the leader's sender and the follower's receiver.

A snapshot is the state machine's persisted state itself, read from a point-in-time view
(never loaded whole) and sent as `SnapshotChunk` messages; the stream is:

    chunk 0: header  b"SNAP" | u8 version | u64 applied index of the view
    chunk 1..: the state machine's own self-framed chunks, in order

The view's applied index travels because it may be AHEAD of the Raft snapshot index the
offer names (the leader keeps applying after it compacted): the receiver records it as its
applied index, and the entries in between, which the core re-delivers later, are skipped by
the state machine's idempotency by index. The data is a committed prefix of the log either
way, so serving reads from it is safe.

Sender: at most `window` chunks are unacknowledged; each wait for an ack is bounded by
`ack_timeout`; a refused chunk, a timeout or a read error fails the stream and the driver
reports the outcome to its core (`report_snapshot`), which retries later with a new offer.
Receiver: chunks must arrive in order from one sender (offset 0 restarts the stream); each
is staged durably but invisibly; after the last one the stream is *parked* and its offer is
stepped into the core. The driver completes the install when its next Ready carries that
snapshot (`claim`), or aborts it when a Ready shows the core declined it (`drop_declined`).
A half-received or parked snapshot is never visible: `finish` flips to it in one atomic
write. The simulator (`seshat_trio.testing`) runs this same receiver over in-memory sinks.
"""

from __future__ import annotations

import itertools
import logging
import struct
from collections import deque
from collections.abc import Callable
from typing import Protocol, TypeVar

import attrs
import trio

from seshat_trio.raft import (
    Snapshot,
    SnapshotChunk,
    SnapshotChunkAck,
    SnapshotMeta,
    iter_snapshot_chunks,
)
from seshat_trio.replication.machine import SnapshotSink, SnapshotSource
from seshat_trio.storage import StorageError

log = logging.getLogger(__name__)

T = TypeVar("T")

_HEADER = struct.Struct(">4sBQ")
_MAGIC = b"SNAP"
STREAM_VERSION = 1


class Offload(Protocol):
    """Runs blocking storage work (fsyncs, LevelDB scans) away from the event loop."""

    async def __call__(self, fn: Callable[[], T], /) -> T: ...


class SnapshotStreamError(Exception):
    """The stream cannot go on; the message says why."""


def encode_header(applied: int) -> bytes:
    return _HEADER.pack(_MAGIC, STREAM_VERSION, applied)


def decode_header(data: bytes) -> int:
    if len(data) != _HEADER.size:
        raise SnapshotStreamError(f"snapshot header has {len(data)} bytes, not {_HEADER.size}")
    magic, version, applied = _HEADER.unpack(data)
    if magic != _MAGIC:
        raise SnapshotStreamError("snapshot stream does not start with a header")
    if version > STREAM_VERSION:
        raise SnapshotStreamError(
            f"snapshot stream version {version} is newer than supported {STREAM_VERSION}"
        )
    applied_index: int = applied
    return applied_index


class SnapshotSender:
    """Streams one offer's snapshot to `offer.dst`; `on_ack` feeds it the follower's acks."""

    def __init__(self, offer: Snapshot, *, window: int, ack_timeout: float) -> None:
        self.offer = offer
        self.cancel_scope = trio.CancelScope()
        self._window = window
        self._ack_timeout = ack_timeout
        self._acked = 0
        self._refused = False
        self._changed = trio.Event()

    @property
    def acked_bytes(self) -> int:
        """Bytes of the stream the follower has acknowledged so far."""
        return self._acked

    def on_ack(self, ack: SnapshotChunkAck) -> None:
        if ack.meta_index != self.offer.meta.index or ack.term != self.offer.term:
            return
        if ack.ok:
            self._acked = max(self._acked, ack.offset)
        else:
            self._refused = True
        self._changed.set()

    async def run(
        self,
        source: SnapshotSource,
        send: Callable[[SnapshotChunk], None],
        offload: Offload,
        chunk_bytes: int,
    ) -> int:
        """Send everything and wait for the acks; returns the bytes sent."""
        if source.applied < self.offer.meta.index:
            raise SnapshotStreamError(
                f"state at {source.applied} is behind snapshot index {self.offer.meta.index}"
            )
        pieces = itertools.chain([encode_header(source.applied)], source.chunks(chunk_bytes))
        chunks = iter_snapshot_chunks(self.offer, pieces)
        unacked: deque[int] = deque()  # end offsets of the chunks sent, oldest first
        total = 0
        while True:
            # Reading the next chunk scans LevelDB: off the event loop.
            chunk = await offload(lambda: next(chunks, None))
            if chunk is None:
                break
            while len(unacked) >= self._window:
                await self._wait_for_ack(unacked)
            send(chunk)
            total = chunk.offset + len(chunk.data)
            unacked.append(total)
        while unacked:
            await self._wait_for_ack(unacked)
        return total

    async def _wait_for_ack(self, unacked: deque[int]) -> None:
        with trio.move_on_after(self._ack_timeout):
            while not self._refused and self._acked < unacked[0]:
                await self._changed.wait()
                self._changed = trio.Event()
        if self._refused:
            raise SnapshotStreamError("the follower refused a chunk")
        if self._acked < unacked[0]:
            raise SnapshotStreamError(f"no ack within {self._ack_timeout}s")
        while unacked and unacked[0] <= self._acked:
            unacked.popleft()


@attrs.define(slots=True, eq=False)
class _Inbound:
    meta: SnapshotMeta
    src: int
    term: int
    applied: int
    sink: SnapshotSink
    received: int


@attrs.define(slots=True, eq=False)
class ParkedSnapshot:
    """A completely received snapshot waiting for the core's Ready to install it."""

    meta: SnapshotMeta
    applied: int
    sink: SnapshotSink
    # Readys taken from the core before its offer was stepped (None: not stepped yet): a
    # later Ready without the snapshot means the core declined the offer.
    stepped_after_ready: int | None = None


class SnapshotReceiver:
    """The follower side for one group (see the module docstring); production drivers and
    the simulator share it.

    Sans-IO apart from the sink's own storage work, which `feed` does inline: a driver
    runs `feed` off its event loop. Only `feed` touches the stream being received, and it
    only parks a snapshot; the other methods run between feeds or while one is parked."""

    def __init__(self, begin_install: Callable[[], SnapshotSink]) -> None:
        self._begin_install = begin_install
        self._inbound: _Inbound | None = None
        self.parked: ParkedSnapshot | None = None

    def feed(self, chunk: SnapshotChunk) -> tuple[SnapshotChunkAck, Snapshot | None]:
        """Stage `chunk`; returns the ack to send and, after the last chunk, the offer to
        step into the core (then call `stepped`)."""
        if self.parked is not None:
            # One install at a time: the sender fails and its core offers again later.
            return _ack(chunk, 0, ok=False), None
        try:
            inbound = self._take(chunk)
        except (SnapshotStreamError, StorageError, ValueError) as exc:
            log.warning(
                "snapshot_chunk_refused group=%d src=%d index=%d offset=%d reason=%r",
                chunk.group,
                chunk.src,
                chunk.meta.index,
                chunk.offset,
                str(exc),
            )
            self.abort()
            return _ack(chunk, 0, ok=False), None
        ack = _ack(chunk, inbound.received, ok=True)
        if not chunk.last:
            return ack, None
        self._inbound = None
        self.parked = ParkedSnapshot(inbound.meta, inbound.applied, inbound.sink)
        offer = Snapshot(
            group=chunk.group, src=chunk.src, dst=chunk.dst, term=chunk.term, meta=chunk.meta
        )
        return ack, offer

    def stepped(self, readys: int) -> ParkedSnapshot:
        """The parked snapshot's offer reached the core after it handed out `readys` Readys."""
        assert self.parked is not None
        self.parked.stepped_after_ready = readys
        return self.parked

    def claim(self, meta: SnapshotMeta) -> ParkedSnapshot:
        """The core's Ready installs `meta`: hand over the parked snapshot (the caller
        finishes or aborts its sink). RuntimeError when this is not what was received."""
        parked = self.parked
        if parked is None or parked.meta != meta:
            raise RuntimeError(
                f"the core installs snapshot {meta.index} that this driver did not receive"
            )
        self.parked = None
        return parked

    def drop_declined(self, readys: int) -> SnapshotMeta | None:
        """Ready number `readys` installs no snapshot: a parked one whose offer the core had
        before that Ready was declined. It is dropped; its meta is returned."""
        parked = self.parked
        if parked is None or parked.stepped_after_ready is None:
            return None
        if parked.stepped_after_ready >= readys:
            return None
        self.abort_all()
        return parked.meta

    def _take(self, chunk: SnapshotChunk) -> _Inbound:
        """Start (offset 0: the header) or continue the stream with `chunk`."""
        if chunk.offset == 0:
            self.abort()
            applied = decode_header(chunk.data)
            if applied < chunk.meta.index:
                raise SnapshotStreamError(
                    f"snapshot data at {applied} is behind its index {chunk.meta.index}"
                )
            sink = self._begin_install()
            # The header is not state-machine data: it is counted, not staged.
            self._inbound = _Inbound(
                chunk.meta, chunk.src, chunk.term, applied, sink, len(chunk.data)
            )
            return self._inbound
        inbound = self._inbound
        if (
            inbound is None
            or inbound.meta != chunk.meta
            or inbound.src != chunk.src
            or inbound.term != chunk.term
            or inbound.received != chunk.offset
        ):
            raise SnapshotStreamError("chunk out of order: one was lost or the sender restarted")
        inbound.sink.add_chunk(chunk.data)
        inbound.received += len(chunk.data)
        return inbound

    def abort(self) -> None:
        """Drop the stream being received (not a parked one)."""
        if self._inbound is not None:
            inbound, self._inbound = self._inbound, None
            inbound.sink.abort()

    def abort_all(self) -> None:
        self.abort()
        if self.parked is not None:
            parked, self.parked = self.parked, None
            parked.sink.abort()


def _ack(chunk: SnapshotChunk, offset: int, *, ok: bool) -> SnapshotChunkAck:
    return SnapshotChunkAck(
        group=chunk.group,
        src=chunk.dst,
        dst=chunk.src,
        term=chunk.term,
        meta_index=chunk.meta.index,
        offset=offset,
        ok=ok,
    )
