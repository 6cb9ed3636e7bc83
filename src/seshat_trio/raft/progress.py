"""Leader-side replication progress of one peer: match/next, flow state and in-flight window.

States (Raft thesis 10.2 / etcd):
- PROBE: the leader does not know where the logs agree; at most one Append in flight, the
  next one waits for its answer or for a heartbeat response.
- REPLICATE: logs agree up to `match`; Appends are pipelined optimistically (next advances as
  they are sent) up to `max_inflight` unacknowledged messages.
- SNAPSHOT: a snapshot at `pending_snapshot` is being streamed; nothing else is sent until the
  follower reports it installed (AppendResp) or the driver reports a failure.
"""

from __future__ import annotations

import enum
from collections import deque

import attrs

# A heartbeat answer needs no Append for a peer that acknowledged new entries within this
# many heartbeats before it (see `Replicator.on_heartbeat_resp`).
RECENT_ACK_BEATS = 1


class ProgressState(enum.Enum):
    PROBE = "probe"
    REPLICATE = "replicate"
    SNAPSHOT = "snapshot"


@attrs.define(slots=True)
class Inflights:
    """Last indexes of the Appends sent and not yet acknowledged, oldest first."""

    capacity: int
    _last_indexes: deque[int] = attrs.field(factory=deque)

    def add(self, last_index: int) -> None:
        if self.full():
            raise AssertionError("in-flight window is full")
        self._last_indexes.append(last_index)

    def free_le(self, index: int) -> None:
        while self._last_indexes and self._last_indexes[0] <= index:
            self._last_indexes.popleft()

    def free_first(self) -> None:
        if self._last_indexes:
            self._last_indexes.popleft()

    def full(self) -> bool:
        return len(self._last_indexes) >= self.capacity

    def count(self) -> int:
        return len(self._last_indexes)

    def reset(self) -> None:
        self._last_indexes.clear()


@attrs.define(slots=True)
class Progress:
    next: int
    inflights: Inflights
    match: int = 0
    state: ProgressState = ProgressState.PROBE
    probe_sent: bool = False
    pending_snapshot: int = 0
    # Last snapshot offered and not yet known to be held by the peer (survives the return
    # to PROBE after the stream ends, so the leader can report when the peer caught up).
    snapshot_offered: int = 0
    # Heard from since the last check-quorum round; the leader itself always counts.
    recent_active: bool = True
    # The leader's tick count when this peer last answered (None: not in this term).
    last_heard: int | None = None
    # The highest commit index a message sent to this peer let it learn (an Append's
    # commit up to the last index it carried; a heartbeat's): `Replicator.owes_commit`.
    commit_sent: int = 0
    # Heartbeats sent to this peer since an ack last moved `match` (none yet: "long ago").
    beats_since_ack: int = RECENT_ACK_BEATS + 1

    def become_probe(self) -> None:
        if self.state is ProgressState.SNAPSHOT:
            self.next = max(self.match + 1, self.pending_snapshot + 1)
        else:
            self.next = self.match + 1
        self._reset(ProgressState.PROBE)

    def become_replicate(self) -> None:
        self.next = self.match + 1
        self._reset(ProgressState.REPLICATE)

    def become_snapshot(self, snapshot_index: int) -> None:
        self._reset(ProgressState.SNAPSHOT)
        self.pending_snapshot = snapshot_index
        self.snapshot_offered = snapshot_index

    def _reset(self, state: ProgressState) -> None:
        self.state = state
        self.probe_sent = False
        self.pending_snapshot = 0
        self.inflights.reset()

    def regress_to(self, last_index: int) -> None:
        """The peer's log now ends at or below `last_index`, under entries it acknowledged:
        its storage lost them. Nothing it holds is proven to match any more, so `match`
        drops to 0 and probing restarts after `last_index`; the next ack restores it."""
        self._reset(ProgressState.PROBE)
        self.match = 0
        self.snapshot_offered = 0
        self.next = last_index + 1

    def maybe_update(self, index: int) -> bool:
        """An ack for `index` arrived; False if it tells nothing new."""
        updated = index > self.match
        if updated:
            self.match = index
            self.probe_sent = False
            self.beats_since_ack = 0
        self.next = max(self.next, index + 1)
        return updated

    def maybe_decr_to(self, rejected: int, next_probe: int) -> bool:
        """The follower rejected prev_index `rejected`; back off to probe `next_probe` + 1.

        False if the rejection is stale (answers an Append we no longer care about)."""
        if self.state is ProgressState.REPLICATE:
            if rejected <= self.match:
                return False
            self.next = self.match + 1
            return True
        if self.next - 1 != rejected:
            return False
        self.next = max(min(rejected, next_probe + 1), self.match + 1)
        self.probe_sent = False
        return True

    def sent_entries(self, last_index: int, count: int) -> None:
        """Book-keeping after an Append carrying `count` entries ending at `last_index`."""
        if self.state is ProgressState.REPLICATE:
            if count:
                self.next = last_index + 1
                self.inflights.add(last_index)
        elif self.state is ProgressState.PROBE:
            self.probe_sent = True

    def is_paused(self) -> bool:
        if self.state is ProgressState.PROBE:
            return self.probe_sent
        if self.state is ProgressState.REPLICATE:
            return self.inflights.full()
        return True
