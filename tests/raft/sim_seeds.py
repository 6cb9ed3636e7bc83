"""Seed batches of the slow simulator tests: a run of seeds from SESHAT_SIM_SEED (default 0)
cut into chunks, one test case a chunk, so a failing case names the seeds to replay."""

from __future__ import annotations

import os

import pytest

FIRST_SEED = int(os.environ.get("SESHAT_SIM_SEED", "0"))


def over_seed_chunks(schedules: int, chunk: int) -> pytest.MarkDecorator:
    """Parametrize a test's `first` and `count` over `schedules` seeds, `chunk` a case."""
    chunks = [
        (FIRST_SEED + offset, min(chunk, schedules - offset))
        for offset in range(0, schedules, chunk)
    ]
    return pytest.mark.parametrize(
        ("first", "count"), chunks, ids=[f"seeds{f}+{n}" for f, n in chunks]
    )
