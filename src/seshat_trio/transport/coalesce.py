"""Heartbeat coalescing, sans-IO: many groups' heartbeats to one peer become one frame.

With G data groups every node leads about G/N of them, and each leader sends a Heartbeat to
every follower every tick and gets a HeartbeatResp back: without coalescing an idle node
encodes, frames, decodes and queues ~2*G*(N-1)/N of these per tick. The transport adds here
every Heartbeat and HeartbeatResp sent inside a `coalescing()` block for a peer that
understands `HeartbeatBatch`, and flushes once per scheduler pass (the ticker ticks every
group in one block, and a received batch is stepped into every group in one, so one tick
costs one frame per peer pair each way). A read round's heartbeat and its answer, sent
outside one, leave at once.

Rules: messages keep their order per peer within a batch (beats, then acks, each in the order
added); a batch never holds more than `max_rows` rows (a frame stays far below the frame
limit whatever the group count); `drain` empties everything.
"""

from __future__ import annotations

from seshat_trio.raft.messages import Heartbeat, HeartbeatResp
from seshat_trio.transport.messages import Ack, Beat, HeartbeatBatch

# 4096 rows of 32 bytes: 128 KiB per frame at most.
MAX_ROWS = 4096


class HeartbeatCoalescer:
    def __init__(self, node_id: int, max_rows: int = MAX_ROWS) -> None:
        self._node_id = node_id
        self._max_rows = max_rows
        self._beats: dict[int, list[Beat]] = {}
        self._acks: dict[int, list[Ack]] = {}

    def __len__(self) -> int:
        return sum(map(len, self._beats.values())) + sum(map(len, self._acks.values()))

    def add(self, msg: Heartbeat | HeartbeatResp) -> None:
        if isinstance(msg, Heartbeat):
            beat = (msg.group, msg.term, msg.commit, msg.context)
            self._beats.setdefault(msg.dst, []).append(beat)
        else:
            self._acks.setdefault(msg.dst, []).append((msg.group, msg.term, msg.context))

    def drain(self) -> list[HeartbeatBatch]:
        """One batch per peer (more if it has over `max_rows` rows); empties the buffers."""
        beats, acks = self._beats, self._acks
        if not (beats or acks):
            return []  # the flush task drains both coalescers, most passes only one
        self._beats, self._acks = {}, {}
        out = []
        limit = self._max_rows
        for dst in sorted(beats.keys() | acks.keys()):
            rows_b, rows_a = beats.get(dst, []), acks.get(dst, [])
            while rows_b or rows_a:
                take_b = rows_b[:limit]
                take_a = rows_a[: limit - len(take_b)]
                rows_b, rows_a = rows_b[len(take_b) :], rows_a[len(take_a) :]
                out.append(HeartbeatBatch(self._node_id, dst, tuple(take_b), tuple(take_a)))
        return out
