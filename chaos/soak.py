"""Soak test: `python -m chaos.soak --duration 3600` runs a 3-node cluster under continuous
client load with a fault every `--fault-every` seconds (the seeded nemesis), prints one line
per `--report-every` seconds (ops/s, errors, p99 latency, each node's RSS) and ends with the
linearizability verdict. Exit status: 0 linearizable, 1 not (or no verdict), 2 bad usage.

Bounded memory over an hour: the workload moves to fresh keys and a fresh history recorder
every report interval (an epoch); an epoch is checked once `op_timeout` has passed after it
ended (then none of its operations is still in flight and its keys are never touched again)
and its history is dropped. The last epoch ends with a read of every key.
"""

from __future__ import annotations

import argparse
import math
import random
import shutil
import sys
import tempfile
from pathlib import Path

import attrs
import trio

from chaos.cluster import ChaosCluster, open_cluster
from chaos.memory import PARTS, Breakdown, curve_text, read_breakdown
from chaos.nemesis import Nemesis
from chaos.workload import Record, Workload
from seshat_trio.testing.history import HistoryRecorder, OpStatus
from seshat_trio.testing.linearizability import check_linearizable

WARM_UP_S = 600.0


@attrs.frozen(slots=True, kw_only=True)
class SoakOptions:
    duration: float
    clients: int
    keys: int
    seed: int
    fault_every: float
    report_every: float
    base_dir: Path | None


def parse_args(argv: list[str]) -> SoakOptions:
    parser = argparse.ArgumentParser(prog="python -m chaos.soak", description=__doc__)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds (default 120)")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients")
    parser.add_argument("--keys", type=int, default=40, help="keys per epoch")
    parser.add_argument("--seed", type=int, default=1, help="nemesis and workload seed")
    parser.add_argument("--fault-every", type=float, default=20.0, help="seconds between faults")
    parser.add_argument("--report-every", type=float, default=60.0, help="seconds per line")
    parser.add_argument("--base-dir", type=Path, default=None, help="kept; default: a temp dir")
    ns = parser.parse_args(argv)
    if ns.duration <= 0 or ns.clients <= 0 or ns.report_every <= 0 or ns.fault_every <= 0:
        parser.error("durations and counts must be positive")
    return SoakOptions(
        duration=ns.duration,
        clients=ns.clients,
        keys=ns.keys,
        seed=ns.seed,
        fault_every=ns.fault_every,
        report_every=ns.report_every,
        base_dir=ns.base_dir,
    )


def p99(values: list[float]) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]


@attrs.define
class RssCurve:
    """Each node's RSS (MiB) at each report, with the process it was measured on: a node
    killed by the nemesis restarts small, so only one process's samples form a curve."""

    samples: dict[int, list[tuple[int, int | None, float | None]]] = attrs.Factory(dict)
    # Each node's memory parts (chaos/memory.py) at each report: what the RSS holds.
    parts: dict[int, list[Breakdown | None]] = attrs.Factory(dict)

    def add(self, minute: int, cluster: ChaosCluster) -> dict[int, float | None]:
        now: dict[int, float | None] = {}
        for i, node in sorted(cluster.nodes.items()):
            kb = node.rss_kb()
            now[i] = None if kb is None else kb / 1024
            self.samples.setdefault(i, []).append((minute, node.pid if kb else None, now[i]))
        return now

    async def add_parts(self, cluster: ChaosCluster) -> list[str]:
        """Read each node's memory parts; one report line per node."""
        lines = []
        for i, node in sorted(cluster.nodes.items()):
            parts = await read_breakdown(node.http_port) if node.alive else None
            self.parts.setdefault(i, []).append(parts)
            lines.append(f"      n{i} {'-' if parts is None else parts.describe()}")
        return lines

    def summary(self, warm_up: int) -> list[str]:
        """Per node: the curve, and the longest-lived process's growth after `warm_up`
        reports (RSS then flat within the bound docs/operations.md states)."""
        lines = []
        for i, points in sorted(self.samples.items()):
            curve = " ".join("-" if mib is None else f"{mib:.0f}" for _, _, mib in points)
            lines.append(f"rss n{i} (MiB per report): {curve}")
            by_pid: dict[int, list[float]] = {}
            for minute, pid, mib in points:
                if pid is not None and mib is not None and minute > warm_up:
                    by_pid.setdefault(pid, []).append(mib)
            if by_pid:
                longest = max(by_pid.values(), key=len)
                lines.append(
                    f"  after warm-up, longest-lived process: {len(longest)} reports, "
                    f"{longest[0]:.0f} -> {longest[-1]:.0f} MiB (max {max(longest):.0f})"
                )
            for name in PARTS.values():
                values = [None if b is None else b.parts.get(name) for b in self.parts.get(i, [])]
                if any(v is not None for v in values):
                    lines.append(f"  {name}: {curve_text(name, values)}")
        return lines


def interval_line(
    minute: int,
    records: list[Record],
    seconds: float,
    rss_mib: dict[int, float | None],
    faults: str,
) -> str:
    ok = [r for r in records if r.op.status is OpStatus.OK and r.op.complete is not None]
    errors = len(records) - len(ok)
    latencies = [r.op.complete - r.op.invoke for r in ok if r.op.complete is not None]
    rss = " ".join(f"n{i}={'-' if mib is None else f'{mib:.0f}MiB'}" for i, mib in rss_mib.items())
    return (
        f"[{minute:3d}] ok/s {len(ok) / seconds:7.1f}  errors {errors:5d}  "
        f"p99 {p99(latencies) * 1000:7.1f} ms  rss {rss}  faults {faults}"
    )


class Soak:
    """One soak run; `verdicts` collects each epoch's checker result."""

    def __init__(self, options: SoakOptions, cluster: ChaosCluster) -> None:
        self.options = options
        self.cluster = cluster
        ports = {i: n.client_port for i, n in cluster.nodes.items()}
        self.workload = Workload(
            ports, clients=options.clients, keys=options.keys, seed=options.seed, think=0.02
        )
        self.nemesis = Nemesis(
            cluster,
            random.Random(options.seed),
            quiet_seconds=(options.fault_every * 0.75, options.fault_every * 1.25),
        )
        self.failures: list[str] = []
        self.rss = RssCurve()
        self.epochs_checked = 0
        self.ops_checked = 0

    async def check_later(self, recorder: HistoryRecorder, epoch: int) -> None:
        await trio.sleep(self.workload.op_timeout + 2.0)
        history = recorder.history()
        result = await trio.to_thread.run_sync(check_linearizable, history)
        self.epochs_checked += 1
        self.ops_checked += len(history)
        if not result.ok:
            self.failures.append(f"epoch {epoch}: {result.explanation}")
            print(f"epoch {epoch}: NOT LINEARIZABLE\n{result.explanation}", flush=True)

    async def run(self) -> bool:
        options = self.options
        start = trio.current_time()
        end = start + options.duration
        async with trio.open_nursery() as checks:
            async with self.workload.running(), trio.open_nursery() as faults:
                faults.start_soon(self.nemesis.run, options.duration)
                interval = 0
                while trio.current_time() < end:
                    interval += 1
                    step = min(options.report_every, end - trio.current_time())
                    await trio.sleep(step)
                    epoch = self.workload.epoch
                    recorder, records = self.workload.rotate()
                    counts = ",".join(f"{k}:{v}" for k, v in self.nemesis.counts.items() if v)
                    rss = self.rss.add(interval, self.cluster)
                    print(interval_line(interval, records, step, rss, counts), flush=True)
                    print("\n".join(await self.rss.add_parts(self.cluster)), flush=True)
                    checks.start_soon(self.check_later, recorder, epoch)
            await self.cluster.wait_leader(timeout=30.0)
            await self.workload.final_reads(self.cluster.ids, timeout=60.0)
            history = self.workload.recorder.history()
            final = check_linearizable(history)
            self.epochs_checked += 1
            self.ops_checked += len(history)
            if not final.ok:
                self.failures.append(f"final epoch: {final.explanation}")
        if self.workload.unexpected_errors:
            self.failures.append(f"unexpected replies: {dict(self.workload.unexpected_errors)}")
        return not self.failures


async def soak_main(options: SoakOptions) -> bool:
    owned = options.base_dir is None
    base = Path(tempfile.mkdtemp(prefix="seshat-soak-")) if owned else options.base_dir
    assert base is not None
    print(f"soak: {options}; logs under {base}", flush=True)
    async with open_cluster(base) as cluster:
        soak = Soak(options, cluster)
        ok = await soak.run()
    print(f"fault schedule (seed {options.seed}):\n{soak.nemesis.describe()}")
    verdict = "LINEARIZABLE" if ok else "NOT LINEARIZABLE / FAILED"
    print(
        f"verdict: {verdict} ({soak.epochs_checked} epochs, {soak.ops_checked} operations "
        f"checked; faults {soak.nemesis.counts})"
    )
    # Caches fill within the first minutes (docs/performance.md, round 6).
    warm_up = max(1, round(WARM_UP_S / options.report_every))
    print("\n".join(soak.rss.summary(warm_up)))
    for failure in soak.failures:
        print(failure)
    if ok and owned:
        shutil.rmtree(base, ignore_errors=True)
    return ok


def main(argv: list[str] | None = None) -> int:
    options = parse_args(sys.argv[1:] if argv is None else argv)
    return 0 if trio.run(soak_main, options) else 1


if __name__ == "__main__":
    raise SystemExit(main())
