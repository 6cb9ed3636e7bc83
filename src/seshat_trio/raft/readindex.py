"""ReadIndex book-keeping: leader-side rounds of leadership confirmation, follower-side
forwarded requests.

Leader rules:
- Reads queue in `waiting` until the leader has committed an entry of its term (its no-op):
  before that its commit index may lag the true one.
- `start_round(commit)` gives every waiting read the current commit as read index and one
  new round id; all heartbeats carry the newest round id as context. A heartbeat response
  with context c proves the follower still accepted this leader after round c started, so
  round r is confirmed once a quorum of voters (the leader included) acked a context >= r.
  Every read arriving between two Readys therefore shares one heartbeat round.

Follower rules: a read is forwarded to the known leader once (batched per Ready) and fails
on leader change or after a deadline in ticks.
"""

from __future__ import annotations

from collections import deque

import attrs

from seshat_trio.raft.quorum import quorum_value


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
    node_id: int
    waiting: list[PendingRead] = attrs.field(factory=list)
    _rounds: deque[_Round] = attrs.field(factory=deque)
    _round_id: int = 0
    _acks: dict[int, int] = attrs.field(factory=dict)

    @property
    def context(self) -> int:
        """Context for outgoing heartbeats: the newest round id."""
        return self._round_id

    def add(self, read: PendingRead) -> None:
        self.waiting.append(read)

    def start_round(self, commit: int) -> int:
        self._round_id += 1
        self._rounds.append(_Round(self._round_id, commit, self.waiting))
        self.waiting = []
        self._acks[self.node_id] = self._round_id
        return self._round_id

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
