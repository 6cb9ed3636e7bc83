"""JSON and markdown writers for a run.

The JSON file is the complete record (`run_to_json` / `run_from_json` round-trip it); the
markdown page is what people read: status of the figures, the issue's targets next to the
measured values, machine facts, result tables, ratios to durable Redis, exact commands.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Sequence
from pathlib import Path

import cattrs

from bench import goals
from bench.matrix import TARGET_DESCRIPTIONS, is_collection
from bench.model import LATENCY_KEYS, OK, CellResult, Run

_converter = cattrs.Converter()
TOOL_NOTES = {
    "redis-benchmark": "The C client shipped with Redis; percentiles from its `--csv` output "
    "(it reports no p90 or p99.9).",
    "loadgen": "`bench/loadgen.py`: one Python process running every client as a Trio task, "
    "so its own CPU caps it; its `redis` rows show that ceiling. A request's latency is its "
    "pipeline batch's round trip.",
}


def run_to_json(run: Run) -> str:
    return json.dumps(_converter.unstructure(run), indent=2, sort_keys=True) + "\n"


def run_from_json(text: str) -> Run:
    return _converter.structure(json.loads(text), Run)


def write_json(run: Run, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(run_to_json(run))
    return path


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return lines


def _ms(result: CellResult, key: str) -> str:
    value = result.latency_ms.get(key)
    return "" if value is None else f"{value:.2f}"


def _errors(result: CellResult) -> str:
    return ", ".join(f"{kind} x{count}" for kind, count in sorted(result.errors.items()))


def _status_section(run: Run) -> list[str]:
    options = run.options
    lines = ["## Status of these figures", ""]
    if options.quick:
        lines.append(
            f"**Quick run: about {options.duration_s:g} s per cell.** These figures check that "
            "the harness works end to end; they are not measurements to quote. A cell this "
            "short is dominated by warm-up and noise."
        )
    else:
        lines.append(f"Full run: a probe sizes each cell to last about {options.duration_s:g} s.")
    if run.note:
        lines += ["", f"**Note:** {run.note}"]
    lines += [
        "",
        "Reproduce properly on an otherwise idle machine: `nox -s bench` (the full matrix, "
        "about 10 s per cell, 20-25 minutes). Options after `--`: `--quick` (~1 s per cell), "
        "`--only set,get` (or `--only set,hset,sadd` for collections beside SET), "
        "`--duration S`, `--targets leader,follower,single,redis`, "
        "`--tools redis-benchmark,loadgen`, `--clients 1,50`, `--pipelines 1,16`, "
        "`--big-hash FIELDS`; `python -m bench --help` lists them all.",
        "",
        f"Run started {run.started}, finished {run.finished}.",
    ]
    return lines


def _goals_section(run: Run) -> list[str]:
    rows = []
    for outcome in goals.evaluate(run):
        verdict = {True: "met", False: "**not met**", None: "not measured"}[outcome.met]
        rows.append((outcome.goal, outcome.measured, verdict))
    return [
        "## Targets",
        "",
        'From the issues "Benchmarks and observability" and "Redis collections"; measured '
        "with redis-benchmark, `-d 100`, clients on the 3-node cluster's leader unless stated.",
        "",
        *_table(("target", "measured", "verdict"), rows),
    ]


def _machine_section(run: Run) -> list[str]:
    return ["## Machine", "", *_table(("fact", "value"), run.machine.items())]


def _results_section(run: Run) -> list[str]:
    lines = ["## Results", ""]
    lines += [f"- `{target}`: {text}" for target, text in TARGET_DESCRIPTIONS.items()]
    for tool in dict.fromkeys(result.cell.tool for result in run.results):
        measured = [r for r in run.results if r.cell.tool == tool and r.status == OK]
        if not measured:
            continue
        keys = [k for k in LATENCY_KEYS if any(k in r.latency_ms for r in measured)]
        header = ("target", "command", "-c", "-P", "ops/s", *(f"{k} ms" for k in keys),
                  "seconds", "errors")  # fmt: skip
        rows = [
            (r.cell.target, r.cell.command.upper(), str(r.cell.clients), str(r.cell.pipeline),
             f"{r.rps:,.0f}", *(_ms(r, k) for k in keys), f"{r.seconds:.1f}", _errors(r))
            for r in measured
        ]  # fmt: skip
        lines += ["", f"### {tool}", "", TOOL_NOTES[tool], "", *_table(header, rows)]
    return lines


def _ratios_section(run: Run) -> list[str]:
    rows = []
    for redis in run.results:
        cell = redis.cell
        if cell.target != "redis" or not redis.ok or redis.rps <= 0:
            continue
        row = [cell.tool, cell.command.upper(), str(cell.clients), str(cell.pipeline),
               f"{redis.rps:,.0f}"]  # fmt: skip
        for target in ("single", "leader"):
            ours = run.find(target, cell.tool, cell.command, cell.clients, cell.pipeline)
            if ours is not None and ours.ok:
                row += [f"{ours.rps:,.0f}", f"{ours.rps / redis.rps:.2g}"]
            else:
                row += ["", ""]
        rows.append(row)
    if not rows:
        return []
    header = ("tool", "command", "-c", "-P", "redis ops/s", "single ops/s", "single / redis",
              "leader ops/s", "leader / redis")  # fmt: skip
    return [
        "## Against durable Redis",
        "",
        "Ratios of seshat-trio's throughput to redis-server's with `appendfsync always` "
        "(one node, no replication) on the same cell.",
        "",
        *_table(header, rows),
    ]


def command_label(run: Run, command: str) -> str:
    """How the page names a command (HSET-BIG says how big its hash is)."""
    if command == "hset-big":
        return f"HSET into a hash of {run.options.big_hash_fields:,} fields"
    if command == "hset-empty":
        return "HSET into an empty hash"
    return command.upper()


def _collections_section(run: Run) -> list[str]:
    rows = []
    for result in run.results:
        cell = result.cell
        if not (is_collection(cell.command) and result.ok):
            continue
        set_cell = run.find(cell.target, cell.tool, "set", cell.clients, cell.pipeline)
        ratio = ""
        if set_cell is not None and set_cell.ok and set_cell.rps > 0:
            ratio = f"{result.rps / set_cell.rps:.0%}"
        rows.append((
            cell.target, command_label(run, cell.command), str(cell.clients),
            str(cell.pipeline), f"{result.rps:,.0f}", _ms(result, "p50"), _ms(result, "p99"),
            f"{set_cell.rps:,.0f}" if set_cell is not None and set_cell.ok else "", ratio,
        ))  # fmt: skip
    if not rows:
        return []
    header = ("target", "command", "-c", "-P", "ops/s", "p50 ms", "p99 ms", "SET ops/s",
              "/ SET")  # fmt: skip
    return [
        "## Collections beside SET",
        "",
        "redis-benchmark's own HSET, LPUSH, LPOP, SADD, ZADD and LRANGE (`LRANGE_100`: the "
        "first 100 elements) tests, each next to SET on the same target, clients and pipeline "
        "of this run. LPOP pops the list its own LPUSH test filled (the same -n). HSET into a "
        "hash of many fields writes random existing fields of a hash filled first (pipelined "
        "HSETs); HSET into an empty hash starts from no key and adds fields (both with "
        f"`-r {run.options.big_hash_fields}`): a write must cost the same whatever the size "
        "of its collection. After filling or deleting its hash, an HSET cell waits until "
        "every process of the system has been idle (under 10% of a core) for 3 s "
        "(`bench/settle.py`: LevelDB compactions of the fill, the sweep of the deleted "
        "hash), so it measures the HSETs alone; the cell's note says how long that took.",
        "",
        *_table(header, rows),
    ]


def _not_measured_section(run: Run) -> list[str]:
    others = [r for r in run.results if r.status != OK]
    if not others:
        return []
    return [
        "## Skipped and failed cells",
        "",
        *(f"- {r.cell.label}: {r.status}, {r.note}" for r in others),
    ]


def _commands_section(run: Run) -> list[str]:
    lines = ["## Exact commands", ""]
    lines += [f"- {r.cell.label}: `{shlex.join(r.argv)}`" for r in run.results if r.argv and r.ok]
    lines += [
        "",
        "redis-benchmark's `-n` is chosen per cell from a short probe of the same command so "
        "that the cell lasts about the requested duration; the probes are not reported. Ports "
        "are random free ports on 127.0.0.1; each system is started fresh in a temp dir.",
    ]
    return lines


def render_markdown(run: Run, chart_name: str | None = None) -> str:
    """The docs/benchmarks.md page for `run`; `chart_name` is a PNG next to the page."""
    sections = [
        ["# Benchmarks", "", "Written by `python -m bench` (`nox -s bench`); do not edit by hand."],
        _status_section(run),
        _goals_section(run),
        [f"![throughput and latency per cell]({chart_name})"] if chart_name else [],
        _results_section(run),
        _collections_section(run),
        _ratios_section(run),
        _not_measured_section(run),
        _machine_section(run),
        _commands_section(run),
    ]
    return "\n\n".join("\n".join(section) for section in sections if section) + "\n"


# The side-by-side sections (bench/peers.py, bench/groups.py) survive a rewrite of the
# matrix page.
PEERS_START, PEERS_END = "<!-- peers -->", "<!-- /peers -->"
GROUPS_START, GROUPS_END = "<!-- groups -->", "<!-- /groups -->"


def write_markdown(run: Run, path: Path, chart_name: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    old = path.read_text() if path.exists() else ""
    kept = [
        start + old.split(start, 1)[1].split(end, 1)[0] + end
        for start, end in ((PEERS_START, PEERS_END), (GROUPS_START, GROUPS_END))
        if start in old and end in old
    ]
    page = render_markdown(run, chart_name)
    path.write_text(page + "".join("\n" + section + "\n" for section in kept))
    return path
