"""The command line: `python -m bench [--quick] [--only set,get] [--duration S] ...`.

Runs the matrix in a temp dir (removed afterwards, also on Ctrl-C, SIGTERM or errors; or in
`--workdir`, kept for its node logs), then writes
bench/results/<timestamp>.json, docs/benchmarks.md and a PNG chart beside each when
matplotlib is installed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO, TypeVar

import trio

from bench import chart, groups, machine, matrix, peers, report
from bench.model import OK, Run, RunOptions
from bench.runner import Progress, run_until_signalled

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO / "bench" / "results"
MARKDOWN = REPO / "docs" / "benchmarks.md"
FULL_DURATION_S = 10.0
QUICK_DURATION_S = 1.0
DEFAULT_KEYSPACE = 100_000
# The hash the hset-big cells write into (smaller with --quick: it is written first).
BIG_HASH_FIELDS = 1_000_000
QUICK_BIG_HASH_FIELDS = 10_000
T = TypeVar("T")


def _list_of(convert: Callable[[str], T]) -> Callable[[str], tuple[T, ...]]:
    def parse(text: str) -> tuple[T, ...]:
        items = tuple(convert(part.strip()) for part in text.split(",") if part.strip())
        if not items:
            raise argparse.ArgumentTypeError("expected a comma-separated list")
        return items

    return parse


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    ap.add_argument(
        "--quick",
        action="store_true",
        help=f"about {QUICK_DURATION_S:g} s per cell (smoke test, CI)",
    )
    ap.add_argument(
        "--duration",
        type=float,
        metavar="S",
        help=f"seconds per cell (default {FULL_DURATION_S:g}, "
        f"or {QUICK_DURATION_S:g} with --quick)",
    )
    ap.add_argument(
        "--only",
        type=_list_of(str.lower),
        default=matrix.COMMANDS,
        metavar="CMDS",
        help=f"commands to run, from {','.join(matrix.COMMANDS)}",
    )
    ap.add_argument(
        "--targets",
        type=_list_of(str.lower),
        default=matrix.TARGETS,
        help=f"from {','.join(matrix.TARGETS)}",
    )
    ap.add_argument(
        "--tools",
        type=_list_of(str.lower),
        default=matrix.TOOLS,
        help=f"from {','.join(matrix.TOOLS)}",
    )
    ap.add_argument(
        "--clients",
        type=_list_of(_positive_int),
        default=matrix.CLIENTS,
        help="concurrent connections per cell (default 1,50)",
    )
    ap.add_argument(
        "--pipelines",
        type=_list_of(_positive_int),
        default=matrix.PIPELINES,
        help="pipeline depths (default 1,16)",
    )
    ap.add_argument("--value-size", type=_positive_int, default=matrix.VALUE_SIZE)
    ap.add_argument(
        "--keyspace",
        type=_positive_int,
        default=DEFAULT_KEYSPACE,
        help="random keys per command (redis-benchmark -r)",
    )
    ap.add_argument(
        "--big-hash",
        type=_positive_int,
        metavar="FIELDS",
        help=f"fields of the hash HSET-BIG writes into (default {BIG_HASH_FIELDS:,}, "
        f"or {QUICK_BIG_HASH_FIELDS:,} with --quick)",
    )
    ap.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    ap.add_argument(
        "--markdown",
        type=Path,
        default=MARKDOWN,
        help="markdown page to (over)write; its chart goes beside it as .png",
    )
    ap.add_argument("--note", default="", help="a remark printed at the top of the page")
    ap.add_argument(
        "--peers",
        action="store_true",
        help="instead of the matrix: seshat-trio, etcd and durable Redis side by side, two "
        "interleaved rounds (bench/peers.py; installs etcd-server and wrk if missing)",
    )
    ap.add_argument(
        "--groups",
        action="store_true",
        help="instead of the matrix: 1, 3 and 16 data groups on a 3-node cluster, SET and "
        "GET c=50, ops/s and CPU per operation per node (bench/groups.py)",
    )
    ap.add_argument(
        "--rounds",
        type=_positive_int,
        help="interleaved rounds of --peers (default 2) or --groups (default 3)",
    )
    ap.add_argument(
        "--workdir",
        type=Path,
        metavar="DIR",
        help="keep node data and logs under DIR (default: a temp dir, removed)",
    )
    return ap  # fmt: skip


def options_from(args: argparse.Namespace) -> RunOptions:
    duration = args.duration
    if duration is None:
        duration = QUICK_DURATION_S if args.quick else FULL_DURATION_S
    if duration <= 0:
        raise ValueError(f"--duration must be positive, got {duration}")
    options = RunOptions(
        quick=args.quick,
        duration_s=duration,
        value_size=args.value_size,
        keyspace=args.keyspace,
        targets=tuple(args.targets),
        tools=tuple(args.tools),
        commands=tuple(args.only),
        clients=tuple(args.clients),
        pipelines=tuple(args.pipelines),
        big_hash_fields=args.big_hash or (QUICK_BIG_HASH_FIELDS if args.quick else BIG_HASH_FIELDS),
    )
    # Validate names now rather than after starting servers.
    matrix.cells(targets=options.targets, tools=options.tools, commands=options.commands)
    return options


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@contextmanager
def _workdir(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="seshat-bench-") as temp:
        yield Path(temp)


def execute(
    options: RunOptions, note: str, out: TextIO, keep: Path | None = None
) -> tuple[Run, bool]:
    """Run the matrix; returns the run and whether it finished (False: interrupted)."""
    started = _now()
    facts = machine.facts(REPO)
    cells = matrix.cells(
        targets=options.targets, tools=options.tools, commands=options.commands,
        clients=options.clients, pipelines=options.pipelines, value_size=options.value_size,
    )  # fmt: skip
    progress = Progress(len(cells), out)
    progress.say(f"{len(cells)} cells, about {options.duration_s:g} s each (plus probes)")
    finished = False
    try:
        with _workdir(keep) as workdir:
            finished = trio.run(run_until_signalled, cells, options, workdir, progress)
    except* KeyboardInterrupt:
        progress.say("interrupted: every process stopped")
    if not finished:
        note = " ".join(filter(None, [note, "Interrupted: only some cells ran."]))
    run = Run(
        started=started,
        finished=_now(),
        options=options,
        machine=facts,
        results=tuple(progress.results),
        note=note,
    )
    return run, finished


def write_outputs(run: Run, results_dir: Path, markdown: Path | None, out: TextIO) -> None:
    """JSON (and its chart) always; the markdown page and its chart unless `markdown` is
    None (an interrupted run must not replace the page of a complete one)."""
    stamp = run.started.replace(":", "").replace("-", "").replace("+0000", "Z")
    json_path = report.write_json(run, results_dir / f"{stamp}.json")
    print(f"wrote {json_path}", file=out)
    if chart.draw(run, json_path.with_suffix(".png")):
        print(f"wrote {json_path.with_suffix('.png')}", file=out)
    else:
        print("no chart (matplotlib missing or nothing measured)", file=out)
    if markdown is None:
        return
    png = markdown.with_suffix(".png")
    chart_name = png.name if chart.draw(run, png) else None
    print(f"wrote {report.write_markdown(run, markdown, chart_name)}", file=out)


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = parser().parse_args(argv)
    try:
        options = options_from(args)
    except ValueError as exc:
        print(f"python -m bench: {exc}", file=sys.stderr)
        return 2
    if args.peers or args.groups:
        # Side-by-side comparisons in interleaved rounds instead of the matrix.
        compare, rounds = (peers.main, peers.ROUNDS) if args.peers else (groups.main, groups.ROUNDS)
        return compare(
            options, args.results_dir, args.markdown, REPO, out=out, rounds=args.rounds or rounds
        )
    run, finished = execute(options, args.note, out, args.workdir)
    write_outputs(run, args.results_dir, args.markdown if finished else None, out)
    measured = sum(result.status == OK for result in run.results)
    print(f"{measured} of {len(run.results)} cells measured", file=out)
    if not finished:
        return 130
    return 0 if measured else 1
