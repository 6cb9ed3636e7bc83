"""What a SET (or GET) costs with G data groups on 3 nodes, counted:
`python -m bench.group_counts`.

The SET cell of `bench/groups.py` (50 clients spread over the 3 nodes, random keys), or its
GET cell with `--command get` (after the same SET warm-up), sized by request count instead
of time, for comparing two trees on a busy machine, where only
counts and CPU time mean anything (docs/performance.md, "Writes with many data groups").
With `--aware` the 50 clients know the cluster instead, so nothing is forwarded: they
are shared out over the slot ranges of CLUSTER SLOTS, one redis-benchmark per range at its
primary with keys tagged into it (`groups.aware_targets`); with 1 group all 50 are at the
leader.
Prints the CPU per request of each node (utime + stime from /proc around the measured
requests), how much of it the event-loop threads took (the rest is the group-commit
writer thread's fsync rounds), the wall-clock rate, and the context switches per request
over the nodes (waits, and preemptions by other processes). With `--leaders-on N` every
group prefers node N as its leader (a hook in each node replaces placement's choice), and
the run starts once N leads them all: the same groups and requests with the leaders
together instead of spread, which separates what many groups cost from what spreading
their leaders over processes that share the cores costs (docs/performance.md).
With `--profile`, every node's event loop also runs under cProfile on a CPU clock during
those requests only (started by SIGUSR1, dumped when it comes again), and the calls per
request of the functions that count rounds, messages and frames are printed, summed over
the nodes. Interleave the trees' runs:
`PYTHONPATH=<tree>/src python -m bench.group_counts`.
"""

from __future__ import annotations

import argparse
import functools
import pstats
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import trio

from bench import groups, idle_cpu, servers
from bench.machine import context_switches, cpu_seconds
from bench.model import RunOptions

WARMUP = 500  # requests per node before the measured ones
# (label, file suffix, function): calls per request. Coroutines are left out: cProfile counts
# each resumption of one as a call.
COUNTED = (
    ("log entries proposed", "raft/core.py", "propose"),
    ("Ready passes", "replication/driver.py", "_start_ready"),
    ("Raft messages sent (with heartbeats)", "transport/transport.py", "send"),
    ("frames encoded (every kind)", "transport/framing.py", "encode_frame"),
    ("state-machine applies", "kv/state_machine.py", "apply"),
    ("LevelDB writes", "storage/store.py", "_commit"),
    ("Appends received (followers)", "raft/core.py", "_handle_append"),
    ("acknowledgements received (leaders)", "raft/core.py", "_on_ack"),
    ("fsync rounds", "storage/group_commit.py", "_finished"),
    ("tasks spawned", "trio/_core/_run.py", "spawn_impl"),
    ("Trio task switches (reschedules)", "trio/_core/_run.py", "reschedule"),
)


def calls_per_request(out: Path, requests: int) -> list[tuple[str, float]]:
    totals = dict.fromkeys(range(len(COUNTED)), 0)
    for path in out.glob("*.prof"):
        stats = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
        for (file, _line, function), (_cc, calls, *_rest) in stats.items():
            for i, (_, suffix, name) in enumerate(COUNTED):
                if function == name and file.endswith(suffix):
                    totals[i] += calls
    return [(COUNTED[i][0], total / requests) for i, total in totals.items()]


async def measure(
    group_count: int,
    requests: int,
    profile_dir: Path | None,
    aware: bool = False,
    command: str = "set",
    *,
    leaders_on: int | None = None,
) -> list[str]:
    options = RunOptions(
        quick=False, duration_s=5, value_size=100, keyspace=100_000, targets=(), tools=(),
        commands=("set",), clients=(groups.CLIENTS,), pipelines=(1,),
    )  # fmt: skip
    wrap = servers.hooked(profile_dir, leaders_on)
    with tempfile.TemporaryDirectory(prefix="seshat-counts-") as temp:
        async with servers.seshat_cluster(
            groups.NODES, Path(temp), groups=group_count, wrap=wrap, leader=leaders_on
        ) as cluster:
            await idle_cpu.wait_all_leaders(cluster, group_count, on=leaders_on)
            await trio.sleep(groups.SETTLE_S)
            ports = [cluster.client_port(i) for i in range(1, groups.NODES + 1)]
            if aware:
                ranges = await groups.slot_ranges(ports[0])
                targets = groups.aware_targets(ranges, options.keyspace)
            else:
                targets = groups.spread_targets(ports)
            warmup = [WARMUP * groups.NODES * t.clients // groups.CLIENTS for t in targets]
            await groups.run_together(targets, "set", warmup, options)
            sizes = [requests * target.clients // groups.CLIENTS for target in targets]
            servers.toggle_profiles(cluster.pids, profile_dir)
            # (process, its event-loop thread: the one whose id is the process id)
            before = [(cpu_seconds(pid), cpu_seconds(pid, pid)) for pid in cluster.pids]
            switches_before = [context_switches(pid) for pid in cluster.pids]
            started = trio.current_time()
            await groups.run_together(targets, command, sizes, options)
            seconds = trio.current_time() - started
            after = [(cpu_seconds(pid), cpu_seconds(pid, pid)) for pid in cluster.pids]
            switches_after = [context_switches(pid) for pid in cluster.pids]
            servers.toggle_profiles(cluster.pids, profile_dir)
            if profile_dir is not None:
                await trio.sleep(2)  # the dumps
    ops, name = sum(sizes), command.upper()
    per_node = [(b[0] - a[0]) * 1e6 / ops for a, b in zip(before, after, strict=True)]
    loops = sum(b[1] - a[1] for a, b in zip(before, after, strict=True)) * 1e6 / ops
    waits, preempted = (
        sum(b[i] - a[i] for a, b in zip(switches_before, switches_after, strict=True)) / ops
        for i in (0, 1)
    )
    clients = "cluster-aware clients, " if aware else ""
    led = "" if leaders_on is None else f"all led by node {leaders_on}, "
    lines = [
        f"{group_count} groups, {led}{clients}{ops} {name}s: CPU us per {name} per node "
        + " / ".join(f"{us:.0f}" for us in per_node)
        + f", 3 nodes {sum(per_node):.0f} (event loops {loops:.0f}, other threads "
        + f"{sum(per_node) - loops:.0f}); {ops / seconds:.0f} {name}s/s wall; context "
        + f"switches per {name} over the nodes {waits:.2f} waits, {preempted:.2f} preempted"
    ]
    if profile_dir is not None:
        lines += [f"  {per:7.3f} {label}" for label, per in calls_per_request(profile_dir, ops)]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.group_counts", description=__doc__)
    ap.add_argument("--groups", type=int, default=3)
    ap.add_argument("--requests", type=int, default=6000)
    ap.add_argument("--command", choices=("set", "get"), default="set")
    ap.add_argument("--profile", action="store_true", help="also count calls per request")
    ap.add_argument(
        "--aware", action="store_true", help="cluster-aware clients: nothing is forwarded"
    )
    ap.add_argument(
        "--leaders-on",
        type=int,
        choices=range(1, groups.NODES + 1),
        metavar="NODE",
        help="every group led by this node instead of spread over the nodes",
    )
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="seshat-profiles-") as profiles:
        out = Path(profiles) if args.profile else None
        run = trio.run(
            functools.partial(measure, leaders_on=args.leaders_on),
            args.groups,
            args.requests,
            out,
            args.aware,
            args.command,
        )
        for line in run:
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
