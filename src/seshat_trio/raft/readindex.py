"""ReadIndex book-keeping: leader-side rounds of leadership confirmation, follower-side
forwarded requests.

Leader rules:
- Reads queue in `waiting` until the leader has committed an entry of its term (its no-op):
  before that its commit index may lag the true one.
- Every heartbeat broadcast is a round with a fresh id, sent as the heartbeat context; the
  waiting reads join it with the current commit as read index. A response with context c
  proves the follower still accepted this leader after round c was sent, so round r is
  confirmed once a quorum of voters (the leader included) acked a context >= r. Every read
  arriving between two Readys therefore shares one heartbeat round.
- A round started for reads between ticks goes only to as many voters as complete a
  quorum with the leader, those that acknowledged most recently first (`round_targets`):
  the rule above is unchanged, the other voters' answers were never needed. The tick's
  heartbeats still go to every peer, so a silent target delays a read by at most one
  heartbeat period, and the next read round goes to a voter that answered.
- Lease (optional): if a quorum confirmed a round sent at tick t, no other leader can be
  elected before t + election timeout (voters ignore votes for that long after hearing from
  a leader, check-quorum stickiness), so until t + `lease_ticks` (shorter than the election
  timeout by the margins for late ticks and clock drift, `RaftConfig.lease_ticks`) the
  leader may serve reads at its commit index directly.
- Ticks measure time only while they keep coming: after a gap (the process was stopped,
  the event loop stalled) the driver calls `void_lease`, and only rounds sent afterwards
  can give a lease again.
- A TimeoutNow breaks that argument: its target campaigns with forced votes, which bypass
  stickiness, whenever the message arrives, even after the transfer was given up. Sending
  one drops the lease, and rounds sent soon after never give one (see `drop_lease`).

Follower rules: a read is forwarded to the known leader once (batched per Ready) and fails
on leader change or after a deadline in ticks.
"""

from __future__ import annotations

from collections import deque

import attrs

from seshat_trio.raft.quorum import majority, quorum_value


@attrs.frozen(slots=True)
class PendingRead:
    request_id: int
    origin: int  # node id that asked: the leader itself or a follower


@attrs.frozen(slots=True)
class ConfirmedRead:
    read: PendingRead
    index: int


@attrs.define(slots=True)
class _Round:
    round_id: int
    index: int
    reads: list[PendingRead]


@attrs.define(slots=True)
class LeaderReads:
    """Leader-side rounds. `lease_ticks` > 0 turns on lease tracking (see module rules)."""

    node_id: int
    lease_ticks: int = 0
    waiting: list[PendingRead] = attrs.field(factory=list)
    _rounds: deque[_Round] = attrs.field(factory=deque)  # rounds that carry reads
    _round_id: int = 0
    _acks: dict[int, int] = attrs.field(factory=dict)  # voter -> highest context acked
    _sent_at: deque[tuple[int, int]] = attrs.field(factory=deque)  # (round id, tick sent)
    _no_lease_before: int = 0  # rounds sent before this tick never give a lease

    def add(self, read: PendingRead) -> None:
        self.waiting.append(read)

    def start_round(self, now: int, commit: int | None) -> int:
        """A new round id for the heartbeats about to be sent at tick `now`.

        `commit` is given when reads may be served (the leader committed in its term):
        every waiting read then joins this round with `commit` as its read index."""
        self._round_id += 1
        self._acks[self.node_id] = self._round_id
        if commit is not None and self.waiting:
            self._rounds.append(_Round(self._round_id, commit, self.waiting))
            self.waiting = []
        if self.lease_ticks and now >= self._no_lease_before:
            self._sent_at.append((self._round_id, now))
            # Rounds sent this long ago can no longer give a valid lease.
            while self._sent_at[0][1] + self.lease_ticks <= now:
                self._sent_at.popleft()
        return self._round_id

    def round_targets(self, voters: frozenset[int], peers: list[int]) -> list[int]:
        """The peers a read round between ticks goes to: just enough voters to complete a
        quorum with the leader (all of them if it is no voter), most recent ack first, then
        in the order of `peers`."""
        needed = majority(len(voters)) - (self.node_id in voters)
        candidates = [peer for peer in peers if peer in voters]
        candidates.sort(key=lambda peer: -self._acks.get(peer, 0))
        return candidates[:needed]

    def drop_lease(self, until: int) -> None:
        """A TimeoutNow was sent: forget the lease, and let only rounds sent at tick `until`
        or later give a new one.

        Its target may win with forced votes from voters that acked our rounds a moment
        earlier, so no round sent before that election is over proves anything. The
        TimeoutNow and the forced election it starts are assumed to be over by `until` (or
        never to happen); a round sent later and acked by a quorum then proves that no such
        election was won (a voter that voted in it rejects our term)."""
        self._sent_at.clear()
        self._no_lease_before = max(self._no_lease_before, until)

    def void_lease(self) -> None:
        """Ticks stopped keeping time: no round sent so far proves anything about now."""
        self._sent_at.clear()

    def ack(self, voter: int, context: int) -> None:
        if context > self._acks.get(voter, 0):
            self._acks[voter] = context

    def release(self, voters: frozenset[int]) -> list[ConfirmedRead]:
        confirmed = quorum_value(voters, self._acks)
        out: list[ConfirmedRead] = []
        while self._rounds and self._rounds[0].round_id <= confirmed:
            done = self._rounds.popleft()
            out.extend(ConfirmedRead(read, done.index) for read in done.reads)
        return out

    def lease_valid(self, voters: frozenset[int], now: int) -> bool:
        """Did a quorum acknowledge a heartbeat sent less than `lease_ticks` ticks ago?"""
        confirmed = quorum_value(voters, self._acks)
        while len(self._sent_at) > 1 and self._sent_at[1][0] <= confirmed:
            self._sent_at.popleft()
        if not self._sent_at or self._sent_at[0][0] > confirmed:
            return False
        return now < self._sent_at[0][1] + self.lease_ticks

    def drain(self) -> list[PendingRead]:
        """Every read not yet confirmed (leadership is being lost)."""
        out = list(self.waiting)
        for pending in self._rounds:
            out.extend(pending.reads)
        self.waiting = []
        self._rounds.clear()
        return out


@attrs.define(slots=True)
class ForwardedReads:
    unsent: list[int] = attrs.field(factory=list)
    deadlines: dict[int, int] = attrs.field(factory=dict)  # request id -> tick deadline

    def add(self, request_id: int, deadline: int) -> None:
        self.unsent.append(request_id)
        self.deadlines[request_id] = deadline

    def take_unsent(self) -> tuple[int, ...]:
        out = tuple(self.unsent)
        self.unsent = []
        return out

    def resolve(self, request_id: int) -> bool:
        return self.deadlines.pop(request_id, None) is not None

    def expire(self, now: int) -> list[int]:
        expired = [rid for rid, deadline in self.deadlines.items() if deadline <= now]
        for rid in expired:
            del self.deadlines[rid]
        self.unsent = [rid for rid in self.unsent if rid in self.deadlines]
        return expired

    def drain(self) -> list[int]:
        out = list(self.deadlines)
        self.deadlines.clear()
        self.unsent = []
        return out
