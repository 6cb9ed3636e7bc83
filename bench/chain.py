"""The c=1 write chain cell: one client, one SET at a time, on a fresh 3-node cluster.

What it prints, from one run: the SET p50 latency redis-benchmark saw at the leader, and
the CPU (`utime + stime` from /proc/PID/stat) that each node spent per SET during the
measured requests, leader first, then the total over the three nodes. The figures of one
run are noisy on a shared machine: compare two trees run for run, interleaved (the base
tree with `PYTHONPATH=<base>/src`), and quote ratios (docs/performance.md, round 6).

Standalone: `python -m bench.chain [--requests 3000] [--warmup 300] [--clients 1]`; with
`--clients 50` it checks that a change to the single-write chain costs the busy case
nothing, and `--pipeline 16` measures the pipelined shape (`redis-benchmark -P 16`).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import trio

from bench import redis_benchmark, servers

REQUESTS = 3000
WARMUP = 300


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """utime + stime of process `pid` so far (of its thread `thread` alone, if given)."""
    stat = f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat"
    fields = Path(stat).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_sets(
    port: int, requests: int, clients: int, pipeline: int = 1
) -> redis_benchmark.Row:
    argv = redis_benchmark.command_line(
        port,
        "set",
        clients=clients,
        pipeline=pipeline,
        value_size=100,
        requests=requests,
        keyspace=100_000,
    )
    outcome = await redis_benchmark.run(argv, timeout_s=300)
    return redis_benchmark.row_for(redis_benchmark.parse_csv(outcome.stdout), "set")


async def measure(requests: int, warmup: int, clients: int, pipeline: int = 1) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="seshat-chain-") as temp:
        async with servers.seshat_cluster(3, Path(temp)) as cluster:
            port = cluster.leader_port
            await run_sets(port, warmup, clients, pipeline)
            order = [cluster.leader_id, *(n for n in (1, 2, 3) if n != cluster.leader_id)]
            pids = [cluster.pids[node - 1] for node in order]
            before = [cpu_seconds(pid) for pid in pids]
            row = await run_sets(port, requests, clients, pipeline)
            per_set = [
                (cpu_seconds(pid) - start) / requests * 1e6
                for pid, start in zip(pids, before, strict=True)
            ]
    nodes = " ".join(f"{us:.0f}" for us in per_set)
    return [
        f"SET c={clients} P={pipeline} p50_ms={row.latency_ms['p50']:.3f} ops_s={row.rps:.0f}",
        f"cpu_us_per_set leader+followers={nodes} all={sum(per_set):.0f}",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.chain", description=__doc__)
    ap.add_argument("--requests", type=int, default=REQUESTS)
    ap.add_argument("--warmup", type=int, default=WARMUP)
    ap.add_argument("--clients", type=int, default=1)
    ap.add_argument("--pipeline", type=int, default=1)
    args = ap.parse_args(argv)
    print("\n".join(trio.run(measure, args.requests, args.warmup, args.clients, args.pipeline)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
