"""Fixtures of the replication tests (the harness is raft_cluster.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio.testing
from tests.replication.raft_cluster import FAST, Cluster


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


@pytest.fixture
def cluster(tmp_path: Path) -> Cluster:
    """Three voters of one data group with FAST settings (not started: see `running`)."""
    return Cluster(tmp_path, FAST)
