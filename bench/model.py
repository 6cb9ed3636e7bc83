"""The records a benchmark run produces: what one cell measures, its result, the whole run.

All are frozen attrs classes so the writers and the chart only ever read them; they
round-trip through JSON with cattrs (`report.run_to_json` / `report.run_from_json`).
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

# Status of a cell: measured, not applicable (for instance an unknown command), or failed.
OK = "ok"
SKIPPED = "skipped"
ERROR = "error"

# Latency keys, in display order; a tool reports the subset it knows.
LATENCY_KEYS = ("min", "avg", "p50", "p90", "p95", "p99", "p99.9", "max")


@attrs.frozen
class Cell:
    """One point of the matrix: a tool driving one command at one target."""

    target: str  # a key of servers.TARGETS: "leader", "follower", "single", "redis"
    tool: str  # "redis-benchmark" or "loadgen"
    command: str  # lower-case name from matrix.COMMANDS: "set", "get", "hset-big", ...
    clients: int
    pipeline: int
    value_size: int

    @property
    def label(self) -> str:
        return (
            f"{self.target} {self.tool} {self.command.upper()} -c {self.clients} -P {self.pipeline}"
        )


@attrs.frozen
class CellResult:
    cell: Cell
    status: str
    # The exact command line that produced the figures (empty for a skipped cell).
    argv: tuple[str, ...] = ()
    rps: float = 0.0
    requests: int = 0
    seconds: float = 0.0
    latency_ms: Mapping[str, float] = attrs.field(factory=dict)
    errors: Mapping[str, int] = attrs.field(factory=dict)
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.status == OK


@attrs.frozen
class RunOptions:
    """The knobs a run used, recorded with its results."""

    quick: bool
    duration_s: float
    value_size: int
    keyspace: int
    targets: tuple[str, ...]
    tools: tuple[str, ...]
    commands: tuple[str, ...]
    clients: tuple[int, ...]
    pipelines: tuple[int, ...]
    big_hash_fields: int = 1_000_000  # the hash the hset-big cells write into


@attrs.frozen
class Run:
    started: str  # ISO 8601, UTC
    finished: str
    options: RunOptions
    machine: Mapping[str, str]
    results: tuple[CellResult, ...]
    note: str = ""

    def find(
        self, target: str, tool: str, command: str, clients: int, pipeline: int
    ) -> CellResult | None:
        """The result of one cell, whatever its value size; None if it was not run."""
        for result in self.results:
            cell = result.cell
            if (cell.target, cell.tool, cell.command, cell.clients, cell.pipeline) == (
                target,
                tool,
                command,
                clients,
                pipeline,
            ):
                return result
        return None
