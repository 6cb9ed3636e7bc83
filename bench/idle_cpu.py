"""What an idle cluster costs: `python -m bench.idle_cpu --groups 64` (docs/performance.md).

Starts a fresh N-node cluster with G data groups (the product's launcher, in a temp dir),
waits until every node agrees on a leader for every group and the leader balancer had
`--settle` seconds, then reads each node's CPU time (`utime + stime` of /proc/PID/stat)
before and after `--seconds` of idleness and prints the share of one core per node, with
the leaders each node holds. Bounded: at most `LEADERS_TIMEOUT_S` to elect, then the
settle and measure times; the nodes are always stopped (by PID, by the launcher).

To compare two builds (A/B), run it twice back to back with each build's `src/` first on
PYTHONPATH: the nodes are started with the same interpreter and environment.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import trio

from bench import servers
from bench.machine import cpu_seconds

LEADERS_TIMEOUT_S = 90.0
POLL_S = 0.5


async def leaders_per_node(cluster: servers.Cluster, groups: int) -> list[int] | None:
    """How many groups each node leads, once every node names the same leader for every
    group (None until then)."""
    agreed: dict[int, str] | None = None
    for node_id in range(1, cluster.plan.nodes + 1):
        info = await servers.raft_info(cluster.client_port(node_id))
        if info is None:
            return None
        seen = {g: info.get(f"group{g}_leader_id", "") for g in range(1, groups + 1)}
        if not all(leader.isdigit() and int(leader) > 0 for leader in seen.values()):
            return None
        if agreed is not None and seen != agreed:
            return None
        agreed = seen
    assert agreed is not None
    return [
        sum(1 for leader in agreed.values() if int(leader) == node_id)
        for node_id in range(1, cluster.plan.nodes + 1)
    ]


async def wait_all_leaders(cluster: servers.Cluster, groups: int, on: int | None = None) -> None:
    """Until every node names the same leader for every group, and with `on`, that node
    leads them all (TooSlowError after `LEADERS_TIMEOUT_S`)."""
    with trio.fail_after(LEADERS_TIMEOUT_S):
        while True:
            spread = await leaders_per_node(cluster, groups)
            if spread is not None and (on is None or spread[on - 1] == groups):
                return
            await trio.sleep(POLL_S)


async def measure(nodes: int, groups: int, settle_s: float, seconds: float, workdir: Path) -> str:
    async with servers.seshat_cluster(nodes, workdir, groups=groups) as cluster:
        await wait_all_leaders(cluster, groups)
        await trio.sleep(settle_s)
        before = [cpu_seconds(pid) for pid in cluster.pids]
        started = trio.current_time()
        await trio.sleep(seconds)
        after = [cpu_seconds(pid) for pid in cluster.pids]
        elapsed = trio.current_time() - started
        spread = await leaders_per_node(cluster, groups)
    shares = [100.0 * (b - a) / elapsed for a, b in zip(before, after, strict=True)]
    per_node = " / ".join(f"{share:.1f}" for share in shares)
    leaders = "?" if spread is None else " / ".join(map(str, spread))
    return (
        f"{nodes} nodes, {groups} groups, idle {elapsed:.1f} s: CPU per node (% of a core) "
        f"{per_node}, mean {sum(shares) / len(shares):.1f}; leaders per node {leaders}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.idle_cpu", description=__doc__)
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--groups", type=int, default=64)
    ap.add_argument("--settle", type=float, default=10.0, help="seconds after election")
    ap.add_argument("--seconds", type=float, default=30.0, help="idle seconds measured")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="seshat-idle-") as temp:
        line = trio.run(measure, args.nodes, args.groups, args.settle, args.seconds, Path(temp))
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
