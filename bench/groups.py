"""1, 3 and 16 data groups on the same 3-node cluster: `python -m bench --groups`
(`nox -s bench -- --groups`; `--quick` for a smoke run).

For each group count G a fresh 3-node cluster starts with `--data-groups G`; once every
group has a leader and the balancer had `SETTLE_S` to spread them, SET and then GET run with
50 clients (redis-benchmark, `-d 100 -r <keyspace>`) in two client modes:
- spread: the clients spread over the three nodes (17/17/16, one redis-benchmark per node,
  all at once), as clients that do not know the cluster would be behind a load balancer.
  With any G about two thirds of the requests are forwarded to their group's leader, so the
  comparison isolates what more groups change: one leader (and one Raft log, one apply
  loop) per group instead of one for everything.
- cluster-aware: as a Redis Cluster client, each key goes to its slot's primary (its
  group's leader), so nothing is forwarded: the slot ranges of CLUSTER SLOTS share the
  clients (with one group all of them, at the leader), one redis-benchmark per range at
  its primary, whose keys carry a hash tag of that range (`SET key:{tag}:__rand_int__`,
  `-r` the keyspace shared out). Not `redis-benchmark --cluster` (7.0): being threaded it
  ends a run only at its next 250 ms timer tick and counts that idle wait in its elapsed
  time, so its ops/s came out up to 250 ms per run low (~2% of a 6 s cell) where the
  1-group run, unthreaded, stops at its last reply; and each of its clients keeps its
  node's first slot, so with 16 groups it loaded only 3 of them.

Reported per cell: ops/s (the runs' sum; they are sized to the same duration), the
worst p99 of the runs, and the CPU each node spent per operation (utime + stime from
/proc over the measured run only, divided by every request of the cell).

The group counts run in `--rounds` interleaved rounds (default 3), each on fresh clusters,
the order reversed every other round (1, 3, 16, then 16, 3, 1): on a shared machine whose
speed drifts by tens of percent within minutes, one run per count puts that drift into the
ratio. A count's ratio to 1 group is taken within each round and the table gives the
median of the rounds' ratios with each of them; ops/s, p99 and CPU are the rounds'
medians. The table goes into docs/benchmarks.md between `<!-- groups -->` markers, the raw
figures of every round into bench/results/groups-<time>.json.
"""

from __future__ import annotations

import itertools
import json
import statistics
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import attrs
import trio

from bench import idle_cpu, machine, peers, redis_benchmark, report, servers
from bench.model import RunOptions
from seshat_trio.client import RespClient
from seshat_trio.slots import SLOT_COUNT, key_slot

GROUP_COUNTS = (1, 3, 16)
ROUNDS = 3
NODES = 3
CLIENTS = 50
CELLS = (("SET c=50", "set"), ("GET c=50", "get"))
AWARE = " cluster-aware"
SETTLE_S = 3.0
RESIZES = 2  # measured runs that may be sized again after one that was too short
MARK_START, MARK_END = report.GROUPS_START, report.GROUPS_END
MORE_CORES = (
    "What more cores would give. A node is one Python process: one core runs its event "
    "loop (every group's Raft, apply and client work) and a writer thread does the fsyncs. "
    "With one group every write goes through the one leader, so the leader's core is the "
    "ceiling while the followers' cores are partly idle; with G >= 3 groups the leaders are "
    "spread and every node does a third of the leader work and two thirds of the follower "
    "work. On this 2-core machine the three nodes and the load generators already share two "
    "cores with one group, so more groups cannot add CPU, and CPU per operation rises with G "
    "here, for two reasons that `python -m bench.group_counts --leaders-on 1` measures apart "
    '(docs/performance.md, "Session 19"): each group\'s leader batches only its share of the '
    "clients into a log entry, so entries are smaller and their per-entry work (Ready pass, "
    "messages, log and apply writes) comes more often; and with the leaders spread, a "
    "node's leader and follower rounds fall at different moments, so it syncs about 1.5 "
    "times as often as a node that leads every group, while three equally busy nodes "
    "share the two cores. With a free core per node the ceiling moves from the "
    "leader's CPU per operation with 1 group (the largest of its three per-node figures) to "
    "the mean of the three nodes' figures with G groups: a gain of their ratio, modest with "
    "3 replicas on 3 nodes because every node still applies every write. Beyond that, "
    "throughput grows with nodes only when a write touches fewer nodes than there are "
    "(a replication factor below the member count, issue #17), and within a node only with "
    "more than one process or a cheaper hot path (docs/performance.md)."
)


@attrs.frozen
class Target:
    """One redis-benchmark of a cell: the port it connects to, its clients, and the hash
    tag its keys carry (so all of them go to one slot, whose primary `port` is) with the
    number of keys it spreads them over, or None for the plain `-t` test over `-r`."""

    port: int
    clients: int
    tag: str | None = None
    keyspace: int = 0


def too_short(requests: int, rps: float, duration_s: float) -> bool:
    """Whether a run of `requests` at `rps` lasted under half the cell's duration: sized
    from a probe whose rate its start-up dragged down (`--cluster` reads the slot map and
    connects to every primary first), so the run is measured again at its own rate."""
    return rps > 0 and requests / rps < duration_s / 2


def client_shares(clients: int, nodes: int) -> list[int]:
    """`clients` split over `nodes` as evenly as possible, the larger shares first."""
    return [clients // nodes + (1 if i < clients % nodes else 0) for i in range(nodes)]


def spread_targets(ports: Sequence[int]) -> list[Target]:
    """`CLIENTS` clients spread over every node, one redis-benchmark per node."""
    shares = client_shares(CLIENTS, len(ports))
    return [Target(port, share) for port, share in zip(ports, shares, strict=True)]


def slot_tag(first: int, last: int) -> str:
    """A hash tag whose slot lies in `first..last` (the first of `t0`, `t1`, ... that does)."""
    tags = (f"t{n}" for n in itertools.count())
    return next(tag for tag in tags if first <= key_slot(tag.encode()) <= last)


def aware_targets(ranges: Sequence[tuple[int, int, int]], keyspace: int) -> list[Target]:
    """`CLIENTS` cluster-aware clients over the slot ranges (first, last, primary's port) of
    CLUSTER SLOTS: a share of the clients per range, at its primary, with a tag of its slots;
    one range (one group) gets all of them over the whole keyspace, as the plain test."""
    if len(ranges) == 1:
        return [Target(ranges[0][2], CLIENTS)]
    shares = client_shares(CLIENTS, len(ranges))
    return [
        Target(port, share, slot_tag(first, last), max(1, keyspace // len(ranges)))
        for (first, last, port), share in zip(ranges, shares, strict=True)
    ]


async def slot_ranges(port: int) -> list[tuple[int, int, int]]:
    """(first slot, last slot, primary's client port) of each range CLUSTER SLOTS lists."""
    async with await RespClient.connect(servers.HOST, port) as client:
        with trio.fail_after(5.0):
            reply = await client.call("CLUSTER", "SLOTS")
    if not isinstance(reply, list):
        # A wrong answer from the server, not a wrong type in our code: the cell fails.
        raise RuntimeError(f"CLUSTER SLOTS answered {reply!r}")  # noqa: TRY004
    return covering_ranges(sorted((int(r[0]), int(r[1]), int(r[2][1])) for r in reply))


def covering_ranges(ranges: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """`ranges` (sorted) if they cover every slot once; else the cell fails.

    A node leaves out a range whose group has no reachable voter: driving only the listed
    ranges would load fewer groups than the cell's name says, without a word."""
    expected = 0
    for first, last, _ in ranges:
        if first != expected or last < first:
            break
        expected = last + 1
    if expected != SLOT_COUNT:
        raise RuntimeError(f"CLUSTER SLOTS does not cover slots 0-{SLOT_COUNT - 1} once: {ranges}")
    return ranges


async def run_together(
    targets: Sequence[Target], command: str, requests: Sequence[int], options: RunOptions
) -> list[tuple[redis_benchmark.Outcome, redis_benchmark.Row]]:
    """One redis-benchmark per target, all started at once; their outcomes in target order."""
    results: list[tuple[redis_benchmark.Outcome, redis_benchmark.Row] | None] = [None] * len(
        targets
    )

    async def one(i: int) -> None:
        target = targets[i]
        argv = redis_benchmark.command_line(
            target.port, command, clients=target.clients, pipeline=1,
            value_size=options.value_size, requests=requests[i],
            keyspace=target.keyspace or options.keyspace, tag=target.tag,
        )  # fmt: skip
        outcome = await redis_benchmark.run(argv, options.duration_s * 5 + 60)
        if outcome.returncode != 0:
            raise redis_benchmark.OutputError(outcome.stderr.strip()[-300:])
        row = redis_benchmark.row_for(redis_benchmark.parse_csv(outcome.stdout), command)
        results[i] = (outcome, row)

    async with trio.open_nursery() as nursery:
        for i in range(len(targets)):
            nursery.start_soon(one, i)
    return [result for result in results if result is not None]


async def targets_run(
    targets: Sequence[Target], command: str, options: RunOptions, meter: peers.CpuMeter
) -> peers.Outcome:
    """The cell's redis-benchmarks at once, sized from probes (as the matrix does); the
    meter counts the last run only."""
    shares = [target.clients for target in targets]
    probes: list[int | None] = [max(200, c * 4) for c in shares]
    sizes = [p or 0 for p in probes]
    rows: list[redis_benchmark.Row] = []
    try:
        for _ in range(redis_benchmark.MAX_PROBE_ROUNDS):
            if all(p is None for p in probes):
                break
            sizes = [p if p is not None else s for p, s in zip(probes, sizes, strict=True)]
            rows = [row for _, row in await run_together(targets, command, sizes, options)]
            probes = [
                redis_benchmark.next_probe_size(size, row.rps)
                for size, row in zip(sizes, rows, strict=True)
            ]
        for _ in range(RESIZES + 1):
            totals = [
                redis_benchmark.requests_for(row.rps, options.duration_s, c, 1)
                for row, c in zip(rows, shares, strict=True)
            ]
            meter.start()
            done = await run_together(targets, command, totals, options)
            meter.stop()
            rows = [row for _, row in done]
            runs = zip(totals, rows, strict=True)
            if not any(too_short(n, row.rps, options.duration_s) for n, row in runs):
                break
    except (redis_benchmark.OutputError, trio.TooSlowError, OSError) as exc:
        return 0.0, {}, 0, (), f"{type(exc).__name__}: {exc}"
    rps = sum(row.rps for _, row in done)
    latency = {
        "p50": max(row.latency_ms.get("p50", 0.0) for _, row in done),
        "p99": max(row.latency_ms.get("p99", 0.0) for _, row in done),
    }
    argv = tuple(" ".join(outcome.argv) for outcome, _ in done)
    return rps, latency, sum(totals), argv, ""


async def round_groups(
    groups: int, options: RunOptions, workdir: Path
) -> tuple[list[peers.Measured], list[int] | None]:
    """The cells against a fresh cluster of `groups` groups, and its leaders per node."""
    async with servers.seshat_cluster(NODES, workdir / f"g{groups}", groups=groups) as cluster:
        await idle_cpu.wait_all_leaders(cluster, groups)
        await trio.sleep(SETTLE_S)
        spread = await idle_cpu.leaders_per_node(cluster, groups)
        meter = peers.CpuMeter({f"node{i + 1}": pid for i, pid in enumerate(cluster.pids)})
        ports = [cluster.client_port(i) for i in range(1, NODES + 1)]
        system = f"{groups} group{'s' if groups > 1 else ''}"
        measured = [
            await peers.measure(
                system, name, meter, targets_run(spread_targets(ports), command, options, meter)
            )
            for name, command in CELLS
        ]
        # Where the leaders are now (a cell may have moved one), as a cluster-aware client
        # would learn it.
        await idle_cpu.wait_all_leaders(cluster, groups)
        aware = aware_targets(await slot_ranges(ports[0]), options.keyspace)
        measured += [
            await peers.measure(
                system, name + AWARE, meter, targets_run(aware, command, options, meter)
            )
            for name, command in CELLS
        ]
    return measured, spread


# One group count's cells in one round: (groups, cells, leaders per node or None).
Found = tuple[int, list[peers.Measured], list[int] | None]


def round_order(round_: int) -> tuple[int, ...]:
    """The group counts in round `round_`'s order: reversed every other round, so that a
    drift of the machine's speed over the run weighs on every count alike."""
    return GROUP_COUNTS if round_ % 2 == 0 else GROUP_COUNTS[::-1]


async def run_all(
    options: RunOptions, workdir: Path, out: TextIO, rounds: int = ROUNDS
) -> list[list[Found]]:
    """Every round's cells, each round's group counts in `GROUP_COUNTS` order."""
    all_rounds = []
    for round_ in range(rounds):
        found = []
        for groups in round_order(round_):
            print(f"round {round_ + 1}: {groups} groups ...", file=out, flush=True)
            try:
                measured, spread = await round_groups(groups, options, workdir / f"r{round_}")
            except (OSError, RuntimeError, TimeoutError, trio.TooSlowError) as exc:
                print(f"  failed: {type(exc).__name__}: {exc}", file=out, flush=True)
                continue
            for m in measured:
                print(peers.progress_line(m), file=out, flush=True)
            found.append((groups, measured, spread))
        all_rounds.append(sorted(found, key=lambda f: f[0]))
    return all_rounds


CELL_NAMES = tuple(name for name, _ in CELLS) + tuple(name + AWARE for name, _ in CELLS)


def cells_of(rounds: Sequence[Sequence[Found]], groups: int, cell: str) -> list[peers.Measured]:
    """The measured runs of `cell` with `groups` groups, one per round that has it."""
    return [
        m
        for found in rounds
        for count, measured, _ in found
        if count == groups
        for m in measured
        if m.cell == cell and m.rps
    ]


def ratios_to_one(rounds: Sequence[Sequence[Found]], groups: int, cell: str) -> list[float]:
    """Per round that measured both: `cell`'s ops/s with `groups` groups over its ops/s
    with 1 group in the same round."""
    ratios = []
    for found in rounds:
        one, many = cells_of([found], 1, cell), cells_of([found], groups, cell)
        if one and many:
            ratios.append(many[0].rps / one[0].rps)
    return ratios


def median_text(ratios: Sequence[float]) -> str:
    """The rounds' median ratio, or "-" when no round measured it."""
    return f"{statistics.median(ratios):.2f}x" if ratios else "-"


def ratio_text(ratios: Sequence[float]) -> str:
    """The median ratio, followed by each round's when there are several."""
    median = median_text(ratios)
    return median if len(ratios) <= 1 else f"{median} ({' / '.join(f'{r:.2f}' for r in ratios)})"


def summary_row(
    rounds: Sequence[Sequence[Found]], groups: int, cell: str, spread: list[int] | None
) -> list[str] | None:
    """One table row: the rounds' medians of `cell` with `groups` groups; None if unmeasured."""
    runs = cells_of(rounds, groups, cell)
    if not runs:
        return None
    nodes = list(runs[-1].cpu_us_per_op)
    per_node = [statistics.median(m.cpu_us_per_op.get(n, 0.0) for m in runs) for n in nodes]
    total = statistics.median(sum(m.cpu_us_per_op.values()) for m in runs)
    notes = sorted({m.note for m in runs if m.note})
    return [
        str(groups), cell, peers.fmt(statistics.median(m.rps for m in runs)),
        peers.fmt(statistics.median(m.p99_ms for m in runs), ".1f"),
        "1.00x" if groups == 1 else ratio_text(ratios_to_one(rounds, groups, cell)),
        " / ".join(f"{us:,.0f}" for us in per_node) or "-", peers.fmt(total),
        "-" if spread is None else " / ".join(map(str, spread)), "; ".join(notes),
    ]  # fmt: skip


def render(
    rounds: Sequence[Sequence[Found]],
    facts: dict[str, str],
    started: str,
    options: RunOptions,
) -> str:
    rows = []
    for groups in GROUP_COUNTS:
        spreads = [s for found in rounds for g, _, s in found if g == groups and s is not None]
        for cell in CELL_NAMES:
            row = summary_row(rounds, groups, cell, spreads[-1] if spreads else None)
            if row is not None:
                rows.append(row)
    header = [
        "groups", "cell", "ops/s", "p99 ms", "ops/s vs 1 group (each round)",
        "CPU us/op per node", "CPU us/op, 3 nodes", "leaders per node", "note",
    ]  # fmt: skip
    three = [f"{cell} {median_text(ratios_to_one(rounds, 3, cell))}" for cell in CELL_NAMES]
    lines = [
        MARK_START,
        "## Data groups: 1, 3 and 16 on 3 nodes (`nox -s bench -- --groups`)",
        "",
        f"Run {started}, {len(rounds)} interleaved round{'s' if len(rounds) != 1 else ''} "
        f"(fresh clusters; the group counts' order reversed every other round), "
        f"{options.duration_s:g} s per cell, `-d {options.value_size} "
        f"-r {options.keyspace}`, {CLIENTS} clients: spread over the 3 nodes (one "
        f"redis-benchmark per node, forwarded to the leaders) or cluster-aware (each key "
        f"to its slot's leader: one redis-benchmark per slot range of CLUSTER SLOTS, at its "
        f"primary, its keys tagged into the range); ops/s, p99 and CPU are the rounds' "
        f"medians, the ratio to 1 group is taken within each round; commit "
        f"{facts.get('git commit', '?')[:10]}. Method: `bench/groups.py`.",
        "",
        *(
            peers.table(header, rows)
            if rows
            else ["Not measured yet: run `nox -s bench -- --groups` on an otherwise idle machine."]
        ),
        "",
        *([f"3 groups against 1, median of the rounds: {', '.join(three)}.", ""] if rows else []),
        MORE_CORES,
        "",
        *(["Exact commands, last round (one cell's run together):", ""] if rows else []),
    ]  # fmt: skip
    for _, measured, _ in rounds[-1] if rounds else ():
        for m in measured:
            lines += [f"- {m.system} {m.cell}: `{argv}`" for argv in m.argv]
    lines += ["", MARK_END]
    return "\n".join(lines)


def main(
    options: RunOptions,
    results_dir: Path,
    markdown: Path,
    repo: Path,
    *,
    out: TextIO,
    rounds: int = ROUNDS,
) -> int:
    started = datetime.now(UTC).isoformat(timespec="seconds")
    facts = machine.facts(repo)
    with tempfile.TemporaryDirectory(prefix="seshat-groups-") as temp:
        found = trio.run(run_all, options, Path(temp), out, rounds)
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = started.replace(":", "").replace("-", "").replace("+0000", "Z")
    raw = results_dir / f"groups-{stamp}.json"
    raw.write_text(
        json.dumps(
            [
                {
                    "round": i,
                    "groups": g,
                    "leaders": spread,
                    "cells": [attrs.asdict(m) for m in measured],
                }
                for i, one_round in enumerate(found, start=1)
                for g, measured, spread in one_round
            ],
            indent=1,
        )
    )
    print(f"wrote {raw}", file=out)
    peers.write_section(markdown, render(found, facts, started, options), MARK_START, MARK_END)
    print(f"wrote the groups section of {markdown}", file=out)
    complete = all(
        len(one_round) == len(GROUP_COUNTS)
        and all(m.requests for _, measured, _ in one_round for m in measured)
        for one_round in found
    )
    return 0 if complete else 1
