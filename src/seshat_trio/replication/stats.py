"""Counters of one Raft group on this node, updated inline where things happen.

Plain integers and histograms (see `seshat_trio.histogram`); INFO and `/metrics` read them.
"""

from __future__ import annotations

import attrs

from seshat_trio.histogram import Histogram

# Seconds per snapshot transfer/install.
SNAPSHOT_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0)


@attrs.define(slots=True)
class RaftCounters:
    """Events of one Raft group on this node since the process started."""

    pre_votes: int = 0  # pre-vote campaigns started
    elections: int = 0  # elections this node ran (it campaigned for a new term)
    leader_changes: int = 0  # a leader became known that differs from the previous one
    proposals: int = 0  # commands handed to the core (appended to the leader's log)
    proposals_failed: int = 0  # queued commands refused before reaching the log
    snapshot_send_failures: int = 0
    compactions: int = 0
    follower_regressions: int = 0  # followers found to have lost acknowledged entries
    lease_voids: int = 0  # lease reads only: gaps in ticks (a stopped process) voided the lease
    snapshot_send_seconds: Histogram = attrs.Factory(lambda: Histogram(SNAPSHOT_BUCKETS))
    snapshot_install_seconds: Histogram = attrs.Factory(lambda: Histogram(SNAPSHOT_BUCKETS))
