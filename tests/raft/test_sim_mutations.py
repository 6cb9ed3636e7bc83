"""The simulator earns trust by catching bugs planted on purpose.

Each test plants one classic bug (in the driver or in the core, via monkeypatch)
and asserts that a handful of seeds expose it through the expected check.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import pytest

from seshat_trio.raft import ConfigChange, Entry, RaftCore
from seshat_trio.raft.log import RaftLog
from seshat_trio.testing.driver import ReadDone, SimNode
from seshat_trio.testing.history import OpStatus
from seshat_trio.testing.nemesis import NemesisParams
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


def test_an_exception_in_the_core_is_reported_with_its_seed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = RaftCore.tick
    calls = 0

    def flaky_tick(self: RaftCore) -> None:
        nonlocal calls
        calls += 1
        if calls == 100:  # early: any schedule of this length ticks far more
            raise RuntimeError("planted")
        original(self)

    monkeypatch.setattr(RaftCore, "tick", flaky_tick)
    result = run_simulation(SimConfig.for_seed(3, 1500))
    assert not result.ok
    assert result.failure.startswith("exception RuntimeError: planted")
    report = result.report(1500)
    assert "--start 3 --seeds 1 --steps 1500" in report and "ms  n" in report


def _lease_campaign() -> list[SimResult]:
    """Lease reads under leader pauses and partitions, clients on random nodes or (every
    other seed) mostly on the node they think leads, so that reads queue up in a paused
    leader and meet its resume."""
    failed = []
    for seed in range(30):
        base = SimConfig.for_seed(seed, 2000)
        config = attrs.evolve(
            base,
            node=attrs.evolve(base.node, lease_reads=True, clock_skew=0.02),
            workload=attrs.evolve(
                base.workload, leader_affinity=0.9 * (seed % 2), read_fraction=0.6
            ),
            nemesis=NemesisParams(weights=_PAUSES_AND_PARTITIONS),
        )
        result = run_simulation(config)
        if not result.ok:
            failed.append(result)
    return failed


_PAUSES_AND_PARTITIONS = (
    ("pause", 8.0),
    ("isolate", 4.0),
    ("split", 4.0),
    ("crash", 0.0),
    ("restart", 0.0),
    ("membership", 0.0),
    ("lossy", 0.0),
)


def test_lease_reads_survive_pauses_with_a_driver_that_voids_the_lease_after_a_gap() -> None:
    failed = _lease_campaign()
    assert not failed, failed[0].report(2000)


def test_lease_reads_after_a_pause_without_voiding_the_lease_are_stale(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Lesson 3: a driver that ticks once after SIGSTOP lets the lease outlive real time
    unless it voids the lease on a gap in its ticks."""
    monkeypatch.setattr(SimNode, "_check_clock", lambda self: None)
    failed = _lease_campaign()
    assert failed, "stale lease reads after a pause went unnoticed"
    assert all(
        "read index freshness" in r.failure or r.failure.startswith("linearizability")
        for r in failed
    ), [r.failure for r in failed]


def _membership_failures(seeds: range) -> list[SimResult]:
    results = [run_simulation(SimConfig.for_membership_seed(seed, 1000)) for seed in seeds]
    return [r for r in results if not r.ok]


def test_unmodified_system_passes_membership_campaigns() -> None:
    failures = _membership_failures(range(30))
    assert not failures, failures[0].report(1000)


def test_a_second_change_while_one_is_pending_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    original = RaftCore.change_membership

    def no_pending_check(self: RaftCore, change: ConfigChange, *, force: bool = False) -> int:
        self._pending_conf_index = 0  # planted: forget the unapplied change
        return original(self, change, force=force)

    monkeypatch.setattr(RaftCore, "change_membership", no_pending_check)
    failures = _membership_failures(range(30))
    assert failures, "concurrent membership changes went unnoticed"
    assert all("membership change" in r.failure for r in failures), [r.failure for r in failures]


def test_a_change_before_the_leader_committed_in_its_term_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = RaftCore.change_membership

    def no_term_check(self: RaftCore, change: ConfigChange, *, force: bool = False) -> int:
        self._committed_in_term = lambda: True  # type: ignore[method-assign]  # planted
        try:
            return original(self, change, force=force)
        finally:
            del self._committed_in_term

    monkeypatch.setattr(RaftCore, "change_membership", no_term_check)
    failures = _membership_failures(range(30))
    assert failures, "a change before the leader's own-term commit went unnoticed"
    assert all("before any entry of its term committed" in r.failure for r in failures), [
        r.failure for r in failures
    ]


def test_a_config_entry_held_without_its_predecessors_commit_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Followers that take the commit index only from heartbeats can hold a configuration
    without knowing the previous one committed (etcd#7625's "(Append)" invariant)."""
    original = RaftLog.maybe_append

    def ignore_commit(
        self: RaftLog, prev_index: int, prev_term: int, commit: int, entries: Sequence[Entry]
    ) -> int | None:
        return original(self, prev_index, prev_term, self.committed, entries)  # planted

    monkeypatch.setattr(RaftLog, "maybe_append", ignore_commit)
    failures = _membership_failures(range(30))
    assert failures, "a configuration held without its predecessor's commit went unnoticed"
    assert all("membership change" in r.failure for r in failures), [r.failure for r in failures]


def test_a_follower_request_taken_as_a_quorum_when_it_is_none_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The leader answers every follower's ReadIndexReq at once (docs/raft.md, "A follower's
    # request as confirmation"), also with 5 voters and before its no-op committed.
    monkeypatch.setattr(RaftCore, "_request_confirms_leadership", lambda self, follower: True)
    results = [run_simulation(SimConfig.for_seed(seed, 1500)) for seed in (77, 220, 230)]
    assert all(not r.ok and "read index freshness" in r.failure for r in results)
