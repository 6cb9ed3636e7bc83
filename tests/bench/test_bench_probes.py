"""The probe runs that size a redis-benchmark cell (bench/runner.py, bench/peers.py)."""

from __future__ import annotations

import math

import pytest
from bench.runner import probed_requests

from bench import redis_benchmark


@pytest.mark.parametrize(
    ("rps", "clients", "pipeline", "probes"),
    [
        (10_000.0, 50, 1, [200, 2000, 6000]),  # 20 ms grows tenfold, 0.2 s threefold: 0.6 s
        (0.0, 100, 16, [6400]),  # no rate: nothing to grow from
        (math.inf, 1, 1, [200, 2000, 20_000, 200_000]),  # never timed: MAX_PROBE_ROUNDS
    ],
)
async def test_probes_grow_until_one_lasts_then_size_the_run_from_its_rate(
    rps: float, clients: int, pipeline: int, probes: list[int]
) -> None:
    asked: list[int] = []

    async def measure(requests: int) -> tuple[redis_benchmark.Outcome, redis_benchmark.Row]:
        asked.append(requests)
        outcome = redis_benchmark.Outcome(("redis-benchmark",), 0, "", "")
        return outcome, redis_benchmark.Row("SET", rps, {})

    total = await probed_requests(measure, clients, pipeline, duration_s=5.0)
    assert asked == probes
    assert total == redis_benchmark.requests_for(rps, 5.0, clients, pipeline)
