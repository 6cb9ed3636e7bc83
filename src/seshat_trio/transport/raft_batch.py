"""Raft message coalescing, sans-IO: every group's Raft messages to one peer as one frame.

With G data groups a node leads about G/N of them and follows the rest, and the groups'
rounds line up: one shared fsync round (storage/group_commit.py) ends for all of them at
once, and a frame carrying several groups' messages is stepped into all of them in one
pass. So in one scheduler pass each group sends its own Append or AppendResp to the same
peers: G-ish frames per peer where one would do, each paying a frame header, a MAC tag, a
socket write and, on the receiver, a read, a frame split and a receive-loop turn. A
transport that coalesces adds here the Raft messages (not heartbeats, which coalesce.py
packs tighter, nor snapshot chunks, which stream under their own flow control) for a peer
that understands `RaftBatch`, and flushes once per scheduler pass with the heartbeats.

Rules: messages keep their order per peer; a batch holds at most `max_bytes` of encoded
messages, and a lone message (or one bigger than that) travels as its own plain frame, so
a batch always saves frames. `unpack` takes only Raft messages whose src and dst are the
batch's own (never a batch in a batch): anything else is a ProtocolViolation, which closes
the connection like any bad frame.
"""

from __future__ import annotations

import typing

from seshat_trio.raft.messages import Message
from seshat_trio.transport import codec
from seshat_trio.transport.blobs import pack_frames, unpack_frames
from seshat_trio.transport.errors import ProtocolViolation
from seshat_trio.transport.framing import encode_frame
from seshat_trio.transport.messages import RaftBatch

RAFT_MESSAGE_TYPES: tuple[type, ...] = typing.get_args(Message)

# Encoded messages per batch at most: a frame stays far below the frame limit (16 MiB) and
# the connection's write batch (1 MiB); a bigger Append goes alone.
MAX_BATCH_BYTES = 512 << 10


class RaftCoalescer:
    def __init__(self, node_id: int, max_bytes: int = MAX_BATCH_BYTES) -> None:
        self._node_id = node_id
        self._max_bytes = max_bytes
        self._pending: dict[int, list[Message]] = {}

    def __len__(self) -> int:
        return sum(map(len, self._pending.values()))

    def add(self, msg: Message) -> None:
        self._pending.setdefault(msg.dst, []).append(msg)

    def drain(self) -> list[tuple[int, bytes]]:
        """(dst, frame) for everything added, in order per peer; empties the buffers."""
        pending, self._pending = self._pending, {}
        frames: list[tuple[int, bytes]] = []
        for dst, messages in pending.items():
            run: list[bytes] = []
            size = 0
            for msg in messages:
                payload = codec.encode(msg)
                if run and size + len(payload) > self._max_bytes:
                    frames.append((dst, self._frame(dst, run)))
                    run, size = [], 0
                run.append(payload)
                size += len(payload)
            if run:
                frames.append((dst, self._frame(dst, run)))
        return frames

    def _frame(self, dst: int, payloads: list[bytes]) -> bytes:
        if len(payloads) == 1:
            return encode_frame(payloads[0])
        return encode_frame(codec.encode(RaftBatch(self._node_id, dst, pack_frames(payloads))))


def unpack(batch: RaftBatch) -> list[Message]:
    """The messages `batch` carries, each checked; CodecError/ProtocolViolation if bad."""
    messages: list[Message] = []
    for payload in unpack_frames(batch.frames):
        msg = codec.decode(payload)
        if not isinstance(msg, RAFT_MESSAGE_TYPES):
            raise ProtocolViolation(f"{type(msg).__name__} inside a RaftBatch")
        raft = typing.cast(Message, msg)
        if raft.src != batch.src or raft.dst != batch.dst:
            raise ProtocolViolation(
                f"{type(raft).__name__} src={raft.src} dst={raft.dst} inside a RaftBatch "
                f"from node {batch.src} to node {batch.dst}"
            )
        messages.append(raft)
    return messages
