"""bench/timeslice.py: the worker's rate and the ratios against one worker alone."""

from __future__ import annotations

import pytest

from bench import timeslice


def test_a_worker_counts_lookups_per_cpu_second() -> None:
    rate = timeslice.lookups_per_cpu_second(0.05, entries=1000)
    assert rate > 1000  # at least one sample of lookups in 0.05 CPU-seconds


def test_workers_started_together_each_report_a_rate() -> None:
    rates = timeslice.run_together(2, 0.05, entries=1000)
    assert len(rates) == 2
    assert all(rate > 0 for rate in rates)


def test_ratios_are_the_mean_rate_over_one_worker_alone() -> None:
    ratios = timeslice.relative({1: [100.0, 300.0], 2: [150.0, 250.0], 3: [100.0, 80.0, 120.0]})
    assert ratios == {1: 1.0, 2: 1.0, 3: pytest.approx(0.5)}
