"""ProposalTracker: every tracked write ends committed, failed (provably) or unknown."""

from __future__ import annotations

import pytest

from seshat_trio.errors import OutcomeUnknownError, ServiceError
from seshat_trio.replication.pending import PendingReply
from seshat_trio.replication.proposals import ProposalTracker


async def outcome(pending: PendingReply) -> str:
    assert pending.done
    try:
        await pending
    except OutcomeUnknownError:
        return "unknown"
    except ServiceError:
        return "failed"
    return "ok"


async def test_same_term_commits_other_term_fails() -> None:
    tracker = ProposalTracker()
    ok, overwritten = PendingReply(), PendingReply()
    tracker.track(2, 5, ok)
    tracker.track(2, 6, overwritten)
    tracker.applied(5, 2, (1,))
    tracker.applied(6, 3, ())
    assert await ok == (1,)
    assert await outcome(overwritten) == "failed"
    assert len(tracker) == 0


async def test_newer_term_applied_dooms_older_proposals_above_it() -> None:
    tracker = ProposalTracker()
    stale, later = PendingReply(), PendingReply()
    tracker.track(2, 9, stale)
    tracker.track(4, 12, later)
    tracker.applied(7, 3, ())  # a term-3 entry at 7: no term-2 entry can follow it
    assert await outcome(stale) == "failed"
    assert not later.done


async def test_snapshot_jump_and_skipped_entries() -> None:
    tracker = ProposalTracker()
    newer, maybe, skipped = PendingReply(), PendingReply(), PendingReply()
    tracker.track(5, 8, newer)  # term 5 cannot sit below a term-4 snapshot point
    tracker.track(3, 9, maybe)
    tracker.track(4, 12, skipped)
    tracker.snapshot_installed(10, 4)
    assert await outcome(newer) == "failed"
    assert await outcome(maybe) == "unknown"
    tracker.applied(12, 4, None)  # committed, but its effects came with the snapshot
    assert await outcome(skipped) == "unknown"


async def test_snapshot_of_a_newer_term_dooms_older_proposals_beyond_it() -> None:
    """A deposed leader's write past the snapshot point, of an older term than the
    snapshot's, can never commit; with no later entry to apply it would wait forever."""
    tracker = ProposalTracker()
    stale, current = PendingReply(), PendingReply()
    tracker.track(1, 12, stale)
    tracker.track(5, 13, current)
    tracker.snapshot_installed(10, 5)
    assert await outcome(stale) == "failed"
    assert not current.done


async def test_stop_reports_unknown() -> None:
    tracker = ProposalTracker()
    pending = PendingReply()
    tracker.track(1, 1, pending)
    tracker.stop("stopping")
    with pytest.raises(OutcomeUnknownError):
        await pending


async def test_batch_entry_splits_replies_and_shares_its_fate() -> None:
    tracker = ProposalTracker()
    first, exec_, last = PendingReply(), PendingReply(), PendingReply()
    tracker.track(2, 5, first, exec_, last)
    tracker.applied(5, 2, ("OK", [1, 2], 3, 4), (1, 1, 2))
    assert await first == ("OK",)
    assert await exec_ == ([1, 2],)
    assert await last == (3, 4)
    doomed = [PendingReply(), PendingReply()]
    tracker.track(2, 6, *doomed)
    tracker.applied(6, 3, ())
    assert [await outcome(p) for p in doomed] == ["failed", "failed"]


async def test_batch_replies_that_do_not_match_are_unknown_never_wrong() -> None:
    tracker = ProposalTracker()
    pendings = [PendingReply(), PendingReply()]
    tracker.track(2, 5, *pendings)
    tracker.applied(5, 2, ("OK",))  # one operation's replies for a two-write entry
    assert [await outcome(p) for p in pendings] == ["unknown", "unknown"]
