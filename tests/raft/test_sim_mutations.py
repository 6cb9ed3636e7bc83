"""The simulator earns trust by catching bugs planted on purpose.

Each test plants one classic bug (in the driver or in the core, via monkeypatch)
and asserts that a handful of seeds expose it through the expected check.
"""

from __future__ import annotations

import pytest

from seshat_trio.raft.log import RaftLog
from seshat_trio.testing.driver import ReadDone, SimNode
from seshat_trio.testing.history import OpStatus
from seshat_trio.testing.raftsim import SimConfig, SimResult, run_simulation

SEEDS = range(12)


def _failures(steps: int = 1500) -> list[SimResult]:
    results = [run_simulation(SimConfig.for_seed(seed, steps)) for seed in SEEDS]
    return [r for r in results if not r.ok]


def test_unmodified_system_passes_the_same_seeds() -> None:
    failures = _failures()
    assert not failures, failures[0].report(1500)


def test_fsync_that_does_nothing_breaks_the_persistence_contract(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def lying_fsync(self: SimNode, life: int) -> None:
        if life == self.incarnation and self.inflight is not None:
            self.unsynced.clear()  # "synced", but nothing reached the disk
            self._finish(*self.inflight)

    monkeypatch.setattr(SimNode, "_fsynced", lying_fsync)
    failures = _failures()
    assert len(failures) == len(SEEDS)
    assert all("persistence contract" in r.failure for r in failures)


def test_reads_served_from_local_state_are_not_linearizable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def local_read(self: SimNode, key: bytes, done: ReadDone) -> None:
        if self.core is None:
            done(OpStatus.FAIL, None)
        else:
            done(OpStatus.OK, self.app.data.get(key))  # no ReadIndex round

    monkeypatch.setattr(SimNode, "client_read", local_read)
    failures = _failures()
    assert len(failures) >= len(SEEDS) // 2
    assert all(r.failure.startswith("linearizability") for r in failures)
    assert "x #" in failures[0].failure  # the window marks the impossible read


def test_votes_for_candidates_with_stale_logs_lose_committed_entries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(RaftLog, "is_up_to_date", lambda self, index, term: True)
    failures = _failures(3000)
    assert failures, "a core that ignores log freshness in elections went unnoticed"
    expected = ("leader completeness", "committed entry lost", "state machine safety", "lineariz")
    assert all(any(word in r.failure for word in expected) for r in failures), [
        r.failure for r in failures
    ]
