"""The issues' performance targets and how a run measures up to them.

Every target is read from redis-benchmark cells with `-d 100`: throughput and latency on
the 3-node cluster's leader, follower throughput as a share of the leader's, collection
writes as a share of SET's, and HSET into a big hash as a share of HSET into an empty one.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from bench.model import CellResult, Run

TOOL = "redis-benchmark"


@attrs.frozen
class Outcome:
    goal: str
    measured: str  # the measured value(s), or why there is none
    met: bool | None  # None: not measured


def _cell(run: Run, target: str, command: str, clients: int, pipeline: int) -> CellResult | None:
    result = run.find(target, TOOL, command, clients, pipeline)
    return result if result is not None and result.ok else None


def _missing(goal: str) -> Outcome:
    return Outcome(goal, "not measured in this run", None)


def _share(
    goal: str, part: CellResult | None, whole: CellResult | None, at_least: float
) -> Outcome:
    """Met when `part`'s rate is at least `at_least` of `whole`'s."""
    if part is None or whole is None or whole.rps <= 0:
        return _missing(goal)
    share = part.rps / whole.rps
    measured = f"{part.rps:,.0f} vs {whole.rps:,.0f} ops/s ({share:.0%})"
    return Outcome(goal, measured, share >= at_least)


def _throughput_and_p99(
    goal: str,
    *,
    command: str,
    clients: int,
    pipeline: int,
    min_rps: float,
    max_p99_ms: float | None,
) -> Callable[[Run], Outcome]:
    def evaluate(run: Run) -> Outcome:
        result = _cell(run, "leader", command, clients, pipeline)
        if result is None:
            return _missing(goal)
        p99 = result.latency_ms.get("p99")
        measured = f"{result.rps:,.0f} ops/s"
        met = result.rps >= min_rps
        if max_p99_ms is not None:
            measured += f", p99 {p99:.2f} ms" if p99 is not None else ", p99 unknown"
            met = met and p99 is not None and p99 <= max_p99_ms
        return Outcome(goal, measured, met)

    return evaluate


def _set_c1_p50(run: Run) -> Outcome:
    goal = "SET -c 1 -P 1: p50 <= 1 ms"
    result = _cell(run, "leader", "set", 1, 1)
    p50 = result.latency_ms.get("p50") if result is not None else None
    if p50 is None:
        return _missing(goal)
    return Outcome(goal, f"p50 {p50:.2f} ms", p50 <= 1.0)


FOLLOWER_SHARE = 0.6


def _follower_writes(run: Run) -> Outcome:
    goal = f"SET -c 50 -P 1 through a follower >= {FOLLOWER_SHARE:.0%} of the leader's ops/s"
    leader = _cell(run, "leader", "set", 50, 1)
    follower = _cell(run, "follower", "set", 50, 1)
    return _share(goal, follower, leader, FOLLOWER_SHARE)


COLLECTION_SHARE = 0.8
COLLECTION_WRITES = ("hset", "lpush", "lpop", "sadd", "zadd")


def _collection_writes(run: Run) -> Outcome:
    goal = (
        f"HSET, LPUSH, LPOP, SADD, ZADD -c 50 -P 1 each >= {COLLECTION_SHARE:.0%} of SET's "
        "ops/s in the same run"
    )
    base = _cell(run, "leader", "set", 50, 1)
    if base is None or base.rps <= 0:
        return _missing(goal)
    shares, missing = [], []
    for command in COLLECTION_WRITES:
        result = _cell(run, "leader", command, 50, 1)
        if result is None:
            missing.append(command.upper())
        else:
            shares.append((command.upper(), result.rps / base.rps))
    if not shares:
        return _missing(goal)
    measured = ", ".join(f"{name} {share:.0%}" for name, share in shares)
    if missing:
        measured += f" ({', '.join(missing)} not measured)"
    met = all(share >= COLLECTION_SHARE for _, share in shares)
    return Outcome(goal, measured, met if met is False or not missing else None)


BIG_HASH_SHARE = 0.9


def _big_hash(run: Run) -> Outcome:
    goal = (
        f"HSET into a hash of {run.options.big_hash_fields:,} fields -c 50 -P 1 at "
        f">= {BIG_HASH_SHARE:.0%} of the rate into an empty one"
    )
    big = _cell(run, "leader", "hset-big", 50, 1)
    empty = _cell(run, "leader", "hset-empty", 50, 1)
    return _share(goal, big, empty, BIG_HASH_SHARE)


GOALS: tuple[Callable[[Run], Outcome], ...] = (
    _throughput_and_p99(
        "SET -c 50 -P 1: >= 12,000 ops/s, p99 <= 10 ms",
        command="set",
        clients=50,
        pipeline=1,
        min_rps=12_000,
        max_p99_ms=10,
    ),
    _throughput_and_p99(
        "GET (linearizable) -c 50 -P 1: >= 25,000 ops/s, p99 <= 5 ms",
        command="get",
        clients=50,
        pipeline=1,
        min_rps=25_000,
        max_p99_ms=5,
    ),
    _throughput_and_p99(
        "SET -c 50 -P 16: >= 80,000 ops/s",
        command="set",
        clients=50,
        pipeline=16,
        min_rps=80_000,
        max_p99_ms=None,
    ),
    _set_c1_p50,
    _follower_writes,
    _collection_writes,
    _big_hash,
)


def evaluate(run: Run) -> list[Outcome]:
    return [goal(run) for goal in GOALS]
