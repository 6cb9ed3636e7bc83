"""Histogram: bucket counts and a running sum, cheap enough to update on every event.

Plain integers and a list: an observation is one `bisect` and two increments, far cheaper
than prometheus_client's locked metric objects; `node/metrics.py` turns histograms into
Prometheus families only when scraped.
"""

from __future__ import annotations

from bisect import bisect_left


class Histogram:
    """Bucket counts for `value <= bound` (plus +Inf) and a running sum, not cumulative:
    one `bisect` and two increments per observation."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound, observations <= bound) pairs, ending with (inf, count)."""
        out: list[tuple[float, int]] = []
        total = 0
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            total += count
            out.append((bound, total))
        return out
