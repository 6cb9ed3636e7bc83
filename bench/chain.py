"""The c=1 write chain cell: one client, one SET at a time, on a fresh 3-node cluster.

What it prints, from one run: the SET p50 latency redis-benchmark saw at the leader, and
the CPU (`utime + stime` from /proc/PID/stat) that each node spent per SET during the
measured requests, leader first, then the total over the three nodes. The figures of one
run are noisy on a shared machine: compare two trees run for run, interleaved (the base
tree with `PYTHONPATH=<base>/src`), and quote ratios (docs/performance.md, round 6).

Standalone: `python -m bench.chain [--requests 3000] [--warmup 300] [--clients 1]`; with
`--clients 50` it checks that a change to the single-write chain costs the busy case
nothing, and `--pipeline 16` measures the pipelined shape (`redis-benchmark -P 16`).
`--command get` measures GETs instead, after `FILL` SETs so that most of them hit;
`--profile DIR` leaves a cProfile of each node's event loop during the measured requests
in DIR (`servers.profiled`), one `<pid>.prof` per node, the leader's named in
the output.
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import trio

from bench import redis_benchmark, servers
from bench.machine import cpu_seconds

REQUESTS = 3000
WARMUP = 300
FILL = 20_000  # SETs before a GET cell (50 clients): about a fifth of the keyspace


async def run_sets(
    port: int, requests: int, clients: int, pipeline: int = 1, command: str = "set"
) -> redis_benchmark.Row:
    argv = redis_benchmark.command_line(
        port,
        command,
        clients=clients,
        pipeline=pipeline,
        value_size=100,
        requests=requests,
        keyspace=100_000,
    )
    outcome = await redis_benchmark.run(argv, timeout_s=300)
    return redis_benchmark.row_for(redis_benchmark.parse_csv(outcome.stdout), command)


async def measure(
    requests: int,
    warmup: int,
    clients: int,
    pipeline: int = 1,
    *,
    command: str = "set",
    profile_dir: Path | None = None,
) -> list[str]:
    wrap = servers.hooked(profile_dir)
    with tempfile.TemporaryDirectory(prefix="seshat-chain-") as temp:
        async with servers.seshat_cluster(3, Path(temp), wrap=wrap) as cluster:
            port = cluster.leader_port
            if command != "set":
                await run_sets(port, FILL, 50)
            await run_sets(port, warmup, clients, pipeline, command)
            order = [cluster.leader_id, *(n for n in (1, 2, 3) if n != cluster.leader_id)]
            pids = [cluster.pids[node - 1] for node in order]
            servers.toggle_profiles(pids, profile_dir)
            before = [cpu_seconds(pid) for pid in pids]
            row = await run_sets(port, requests, clients, pipeline, command)
            per_op = [
                (cpu_seconds(pid) - start) / requests * 1e6
                for pid, start in zip(pids, before, strict=True)
            ]
            servers.toggle_profiles(pids, profile_dir)
            if profile_dir is not None:
                await trio.sleep(2)  # the dumps
    nodes = " ".join(f"{us:.0f}" for us in per_op)
    name = command.upper()
    lines = [
        f"{name} c={clients} P={pipeline} p50_ms={row.latency_ms['p50']:.3f} ops_s={row.rps:.0f}",
        f"cpu_us_per_{command} leader+followers={nodes} all={sum(per_op):.0f}",
    ]
    if profile_dir is not None:
        lines.append(f"profiles in {profile_dir}, the leader's {pids[0]}.prof")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.chain", description=__doc__)
    ap.add_argument("--requests", type=int, default=REQUESTS)
    ap.add_argument("--warmup", type=int, default=WARMUP)
    ap.add_argument("--clients", type=int, default=1)
    ap.add_argument("--pipeline", type=int, default=1)
    ap.add_argument("--command", choices=("set", "get"), default="set")
    ap.add_argument("--profile", type=Path, default=None, metavar="DIR")
    args = ap.parse_args(argv)
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    cell = functools.partial(measure, command=args.command, profile_dir=args.profile)
    lines = trio.run(cell, args.requests, args.warmup, args.clients, args.pipeline)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
