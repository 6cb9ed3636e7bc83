"""What a CPU-second of Python buys when several busy interpreters share this machine's
cores: `python -m bench.timeslice`.

Runs 1, 2, ... K worker processes at once. Each builds a working set of a few MB (dicts,
tuples and strings, like a node's caches and log tail) and looks up random entries for
a fixed amount of its own CPU time, counting them. Prints, for each K, the lookups per
CPU-second of the workers against one worker alone. Up to the core count the ratio stays
near 1 (each worker has a core); above it the kernel time-slices the workers, and each
slice starts on caches another worker filled. That loss per CPU-second is what three busy
nodes (and their clients) on two cores pay and one busy leader beside two light
followers mostly does not (docs/performance.md, "Session 19").
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import sys
import time
from collections.abc import Mapping, Sequence
from multiprocessing.queues import Queue

SAMPLE = 2000  # lookups between two reads of the CPU clock


def lookups_per_cpu_second(cpu_seconds: float, entries: int, seed: int = 1) -> float:
    """Random lookups into a dict of `entries` items for `cpu_seconds` of this process's
    CPU time, per CPU-second."""
    data = {i: (str(i) * 3, i) for i in range(entries)}
    keys = list(data)
    rng = random.Random(seed)
    started = time.process_time()
    done = 0
    while (spent := time.process_time() - started) < cpu_seconds:
        total = 0
        for key in rng.sample(keys, min(SAMPLE, entries)):
            total += data[key][1]
        done += min(SAMPLE, entries)
    return done / spent


def _worker(cpu_seconds: float, entries: int, seed: int, out: Queue[float]) -> None:
    out.put(lookups_per_cpu_second(cpu_seconds, entries, seed))


def run_together(workers: int, cpu_seconds: float, entries: int) -> list[float]:
    """Each worker's lookups per CPU-second, `workers` of them started at once."""
    context = multiprocessing.get_context("spawn")
    out: Queue[float] = context.Queue()
    processes = [
        context.Process(target=_worker, args=(cpu_seconds, entries, seed, out))
        for seed in range(workers)
    ]
    for process in processes:
        process.start()
    rates = [out.get() for _ in processes]
    for process in processes:
        process.join()
    return rates


def relative(rates: Mapping[int, Sequence[float]]) -> dict[int, float]:
    """Each worker count's mean rate over the mean rate of one worker alone."""
    alone = sum(rates[1]) / len(rates[1])
    return {count: sum(r) / len(r) / alone for count, r in sorted(rates.items())}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.timeslice", description=__doc__)
    ap.add_argument("--max-workers", type=int, default=(os.cpu_count() or 1) + 2)
    ap.add_argument("--seconds", type=float, default=4.0, help="CPU seconds per worker")
    ap.add_argument("--entries", type=int, default=200_000, help="items in each working set")
    ap.add_argument("--rounds", type=int, default=4, help="times each count is run")
    args = ap.parse_args(argv)
    counts = range(1, args.max_workers + 1)
    rates: dict[int, list[float]] = {count: [] for count in counts}
    for round_ in range(args.rounds):
        # Every other round in reverse, so a drift of the machine's speed over the run
        # does not favour the counts run first.
        for count in counts if round_ % 2 == 0 else reversed(counts):
            rates[count] += run_together(count, args.seconds, args.entries)
    print(f"{os.cpu_count()} cores; lookups per CPU-second against one worker alone:")
    for count, ratio in relative(rates).items():
        print(f"  {count} workers at once: {ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
