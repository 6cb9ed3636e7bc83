"""Proposal tracking: which client write waits on which (term, log index), and its fate.

A proposal appended by this node as leader at (term, index) committed iff the entry applied
at `index` has that same term. The tracker never guesses beyond what the log proves:

- applied at `index` with the proposal's term: committed; resolve with the replies;
- applied at `index` with another term: overwritten, definitely not committed;
- an entry of term t applied at index i also dooms every proposal of a term < t at an
  index > i: terms never decrease along a log, so no committed entry there has that term;
- an installed snapshot (index S, term T) jumps over indexes <= S: a proposal there with a
  term > T cannot be in the log (terms before S are <= T), otherwise its outcome is unknown
  (it may have committed; the reply is lost with the log); one after S of a term < T is
  doomed like after applying an entry of term T;
- an index the state machine skipped because a snapshot's data already covered it is
  committed when the terms match, but its reply is lost: outcome unknown, never "failed".
Leadership loss alone proves nothing (a later leader may still commit the entry), so
nothing is failed on a role change; a stopping driver reports everything as unknown.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from seshat_trio.errors import OutcomeUnknownError, ServiceError
from seshat_trio.protocol import Reply
from seshat_trio.replication.pending import PendingReply

MISMATCH = (
    "TIMEOUT the write applied, but its entry's replies do not match its writes; "
    "its outcome is unknown"
)
OVERWRITTEN = (
    "ERR the write was not committed: a new leader replaced it in the log; it was not applied"
)


@attrs.frozen(slots=True)
class _Proposal:
    """The writes in one log entry: one, or a batch merged by the driver (in entry order)."""

    term: int
    pendings: tuple[PendingReply, ...]

    def fail(self, error: ServiceError) -> None:
        for pending in self.pendings:
            pending.fail(error)

    def resolve(self, replies: tuple[Reply, ...], split: tuple[int, ...] | None) -> None:
        counts = (len(replies),) if split is None else split
        if len(counts) != len(self.pendings) or sum(counts) != len(replies):
            self.fail(OutcomeUnknownError(MISMATCH))
            return
        start = 0
        for pending, count in zip(self.pendings, counts, strict=True):
            pending.resolve(replies[start : start + count])
            start += count


class ProposalTracker:
    def __init__(self) -> None:
        self._by_index: dict[int, _Proposal] = {}
        # Highest term of an applied entry: proposals of older terms above it are doomed.
        self._applied_term = 0

    def __len__(self) -> int:
        return len(self._by_index)

    def track(self, term: int, index: int, *pendings: PendingReply) -> None:
        """The writes of the entry proposed at (term, index), in the order they apply."""
        self._by_index[index] = _Proposal(term, pendings)

    def applied(
        self,
        index: int,
        term: int,
        replies: tuple[Reply, ...] | None,
        split: tuple[int, ...] | None = None,
    ) -> None:
        """The entry (term, index) applied; `replies` is None if the state machine skipped it
        (its effects came with a snapshot); `split` is `Applied.split`."""
        proposal = self._by_index.pop(index, None)
        if proposal is not None:
            if proposal.term != term:
                proposal.fail(ServiceError(OVERWRITTEN))
            elif replies is None:
                proposal.fail(
                    OutcomeUnknownError(
                        "TIMEOUT the write committed but its reply was lost to a snapshot "
                        "install; its outcome is unknown"
                    )
                )
            else:
                proposal.resolve(replies, split)
        if term > self._applied_term:
            self._applied_term = term
            self._fail_where(lambda p_index, p_term: p_index > index and p_term < term)

    def snapshot_installed(self, index: int, term: int) -> None:
        for p_index, proposal in list(self._by_index.items()):
            if p_index > index:
                continue
            del self._by_index[p_index]
            if proposal.term > term:
                proposal.fail(ServiceError(OVERWRITTEN))
            else:
                proposal.fail(
                    OutcomeUnknownError(
                        "TIMEOUT a snapshot replaced the log before the write's outcome was "
                        "known; its outcome is unknown"
                    )
                )
        if term > self._applied_term:
            self._applied_term = term
            self._fail_where(lambda p_index, p_term: p_index > index and p_term < term)

    def _fail_where(self, doomed: Callable[[int, int], bool]) -> None:
        for p_index, proposal in list(self._by_index.items()):
            if doomed(p_index, proposal.term):
                del self._by_index[p_index]
                proposal.fail(ServiceError(OVERWRITTEN))

    def stop(self, reason: str) -> None:
        """The driver stops: every write still waiting may or may not commit."""
        for proposal in self._by_index.values():
            proposal.fail(OutcomeUnknownError(f"TIMEOUT {reason}; its outcome is unknown"))
        self._by_index.clear()
