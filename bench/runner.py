"""Runs the matrix against live systems: start each system once, measure its cells, stop it.

Systems run one at a time (never two on the shared cores at once). Before each cluster
cell the leader is looked up again, so `leader` and `follower` stay true to their names
even if an election moved leadership. A command the server answers with "unknown command"
is skipped, not measured; a system that fails to start marks its cells as errors and the
run goes on with the next system. One progress line per cell, with an ETA. Before the
first hset-big cell of a target, the big hash it writes into is filled (pipelined HSETs);
before each hset-empty cell its hash is deleted; after either, the cell waits until the
system's processes are idle (bench/settle.py: the fill's LevelDB compactions, the sweep of
the deleted hash), so it measures HSETs rather than what the preparation left running.
"""

from __future__ import annotations

import math
import shutil
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import TextIO

import attrs
import trio

from bench import matrix, redis_benchmark, servers, settle
from bench.loadgen import LoadSpec, run_load
from bench.model import ERROR, OK, SKIPPED, Cell, CellResult, RunOptions
from bench.redis_benchmark import BIG_HASH_KEYS
from seshat_trio.client import RedisReplyError, RespClient

# Looks up the client port of each target a system serves (None: that target is absent).
PortLookup = Callable[[], Awaitable[dict[str, int | None]]]


@attrs.frozen
class System:
    """A started system: its targets' ports, and its processes (to wait until idle)."""

    ports: PortLookup
    pids: tuple[int, ...]


CLUSTER_NODES = 3
# A few extra seconds per cell for process start and connection setup before it times out.
CELL_TIMEOUT_FACTOR = 5.0
CELL_TIMEOUT_SLACK_S = 30.0
# What a system that fails to start raises (inside the launcher's nursery: as a group).
_START_ERRORS = (OSError, TimeoutError, RuntimeError, ValueError, trio.TooSlowError)
# One command per name that the support check sends before measuring it.
_SUPPORT_PROBES: dict[str, tuple[str, ...]] = {
    "set": ("SET", "bench:support", "1"),
    "get": ("GET", "bench:support"),
    "incr": ("INCR", "bench:support:counter"),
    "mset": ("MSET", "bench:support:a", "1", "bench:support:b", "2"),
    "hset": ("HSET", "bench:support:h", "f", "1"),
    "lpush": ("LPUSH", "bench:support:l", "1"),
    "lpop": ("LPOP", "bench:support:l"),
    "sadd": ("SADD", "bench:support:s", "1"),
    "zadd": ("ZADD", "bench:support:z", "1", "m"),
    "lrange": ("LRANGE", "bench:support:l", "0", "1"),
    "hset-big": ("HSET", "bench:support:h", "f", "1"),
    "hset-empty": ("HSET", "bench:support:h", "f", "1"),
}
# The big hash is written this many fields per HSET, this many HSETs per pipelined round.
FILL_FIELDS_PER_COMMAND = 1000
FILL_COMMANDS_PER_ROUND = 4
FILL_TIMEOUT_S = 900.0  # a 1,000,000-field hash on a loaded 3-node cluster: minutes at worst


class Progress:
    """Keeps every finished cell's result (so an interrupted run keeps what it measured) and
    prints one line per cell, with elapsed time and an ETA from the cells so far."""

    def __init__(self, total: int, out: TextIO) -> None:
        self.results: list[CellResult] = []
        self._total = total
        self._out = out
        self._done = 0
        self._measured = 0
        self._measuring_s = 0.0
        self._started = time.monotonic()

    def report(self, result: CellResult, wall_s: float) -> None:
        self.results.append(result)
        self._done += 1
        if result.status != SKIPPED:
            self._measured += 1
            self._measuring_s += wall_s
        remaining = self._total - self._done
        per_cell = self._measuring_s / self._measured if self._measured else 0.0
        elapsed = time.monotonic() - self._started
        line = (
            f"[{self._done}/{self._total}] {result.cell.label}: {describe(result)}"
            f"  | elapsed {_clock(elapsed)}, ETA ~{_clock(per_cell * remaining)}"
        )
        print(line, file=self._out, flush=True)

    def say(self, text: str) -> None:
        print(text, file=self._out, flush=True)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m{secs:02d}s"


def describe(result: CellResult) -> str:
    if result.status != OK:
        return f"{result.status.upper()} ({result.note})"
    latency = result.latency_ms
    parts = [f"{result.rps:,.0f} ops/s"]
    parts += [f"{key} {latency[key]:.2f} ms" for key in ("p50", "p99") if key in latency]
    parts.append(f"({result.seconds:.1f} s)")
    if result.errors:
        parts.append(f"errors {sum(result.errors.values())}")
    return "  ".join(parts)


@asynccontextmanager
async def _system(system: str, workdir: Path) -> AsyncIterator[System]:
    """Start one system fresh under `workdir`."""
    if system == "redis":
        async with servers.redis_reference(workdir / "redis") as redis:

            async def redis_ports() -> dict[str, int | None]:
                return {"redis": redis.port if redis is not None else None}

            yield System(redis_ports, () if redis is None else (redis.pid,))
        return
    nodes = CLUSTER_NODES if system == "cluster" else 1
    async with servers.seshat_cluster(nodes, workdir / system) as cluster:

        async def cluster_ports() -> dict[str, int | None]:
            leader = await servers.wait_for_leader(cluster.plan, cluster.pids)
            first = cluster.plan.client_port
            followers = [first + i for i in range(cluster.plan.nodes) if i + 1 != leader]
            return {
                "leader": first + leader - 1,
                "single": first + leader - 1,
                "follower": followers[0] if followers else None,
            }

        yield System(cluster_ports, cluster.pids)


async def supports(port: int, command: str) -> bool:
    """False if the server answers `command` with "unknown command"."""
    async with await RespClient.connect(servers.HOST, port) as client:
        with trio.fail_after(10):
            reply = await client.call(*_SUPPORT_PROBES[command])
    return not (isinstance(reply, RedisReplyError) and "unknown command" in str(reply).lower())


async def fill_hash(port: int, key: str, fields: int, value_size: int) -> float:
    """Make `key` a hash of exactly `fields` fields as redis-benchmark names them (none: no
    key), with pipelined HSETs of many fields each; returns the seconds it took."""
    value = b"x" * value_size
    started = time.monotonic()
    with trio.fail_after(FILL_TIMEOUT_S):
        stored = await _fill(port, key, fields, value)
    if stored != fields:
        raise redis_benchmark.OutputError(f"{key} holds {stored} fields, not {fields}")
    return time.monotonic() - started


async def _fill(port: int, key: str, fields: int, value: bytes) -> object:
    async with await RespClient.connect(servers.HOST, port) as client:
        await client.call("DEL", key)
        step = FILL_FIELDS_PER_COMMAND
        per_round = step * FILL_COMMANDS_PER_ROUND
        for first in range(0, fields, per_round):
            commands: list[list[bytes | str]] = []
            for start in range(first, min(first + per_round, fields), step):
                command: list[bytes | str] = ["HSET", key]
                for number in range(start, min(start + step, fields)):
                    command += (redis_benchmark.big_hash_field(number), value)
                commands.append(command)
            for reply in await client.pipeline(commands):
                if isinstance(reply, RedisReplyError):
                    raise redis_benchmark.OutputError(f"filling {key}: {reply}")
        return await client.call("HLEN", key)


def _cell_timeout(options: RunOptions) -> float:
    return options.duration_s * CELL_TIMEOUT_FACTOR + CELL_TIMEOUT_SLACK_S


Measure = Callable[[int], Awaitable[tuple[redis_benchmark.Outcome, redis_benchmark.Row]]]


async def probed_requests(measure: Measure, clients: int, pipeline: int, duration_s: float) -> int:
    """How many requests make a redis-benchmark run of about `duration_s`: probe runs of
    growing size (`measure(requests)`) find the rate first."""
    requests: int | None = max(200, clients * pipeline * 4)
    rps = 0.0
    for _ in range(redis_benchmark.MAX_PROBE_ROUNDS):
        if requests is None:
            break
        _, row = await measure(requests)
        rps = row.rps
        requests = redis_benchmark.next_probe_size(requests, rps)
    return redis_benchmark.requests_for(rps, duration_s, clients, pipeline)


async def _redis_benchmark(cell: Cell, port: int, options: RunOptions) -> CellResult:
    # HSET into one hash draws its fields from as many as the big hash holds.
    big = cell.command in BIG_HASH_KEYS
    keyspace = options.big_hash_fields if big else options.keyspace

    def argv(requests: int) -> list[str]:
        return redis_benchmark.command_line(
            port, cell.command, clients=cell.clients, pipeline=cell.pipeline,
            value_size=cell.value_size, requests=requests, keyspace=keyspace,
        )  # fmt: skip

    async def measure(requests: int) -> tuple[redis_benchmark.Outcome, redis_benchmark.Row]:
        outcome = await redis_benchmark.run(argv(requests), _cell_timeout(options))
        if outcome.returncode != 0:
            tail = outcome.stderr.strip().splitlines()[-3:]
            raise redis_benchmark.OutputError(f"exit {outcome.returncode}: {' / '.join(tail)}")
        rows = redis_benchmark.parse_csv(outcome.stdout)
        return outcome, redis_benchmark.row_for(rows, cell.command)

    try:
        total = await probed_requests(measure, cell.clients, cell.pipeline, options.duration_s)
        outcome, row = await measure(total)
    except (redis_benchmark.OutputError, trio.TooSlowError, OSError) as exc:
        return CellResult(cell, ERROR, note=f"{type(exc).__name__}: {exc}")
    if math.isinf(row.rps):
        note = f"{total} requests took under redis-benchmark's 1 ms clock: rps is inf"
        return CellResult(cell, ERROR, argv=outcome.argv, note=note)
    return CellResult(
        cell,
        OK,
        argv=outcome.argv,
        rps=row.rps,
        requests=total,
        seconds=total / row.rps if row.rps > 0 else 0.0,
        latency_ms=row.latency_ms,
    )


async def _loadgen(cell: Cell, port: int, options: RunOptions) -> CellResult:
    spec = LoadSpec(
        port=port,
        command=cell.command,
        clients=cell.clients,
        pipeline=cell.pipeline,
        duration_s=options.duration_s,
        value_size=cell.value_size,
        keyspace=options.keyspace,
    )
    try:
        with trio.fail_after(_cell_timeout(options)):
            load = await run_load(spec)
    except trio.TooSlowError:
        return CellResult(cell, ERROR, argv=spec.argv(), note="timed out")
    status, note = (OK, "") if load.requests > 0 else (ERROR, "no successful request")
    return CellResult(
        cell,
        status,
        argv=spec.argv(),
        rps=load.rps,
        requests=load.requests,
        seconds=load.seconds,
        latency_ms=load.latency_ms,
        errors=load.errors,
        note=note,
    )


async def measure_cell(cell: Cell, port: int, options: RunOptions) -> CellResult:
    if cell.tool == "loadgen":
        return await _loadgen(cell, port, options)
    if shutil.which(redis_benchmark.EXECUTABLE) is None:
        return CellResult(cell, SKIPPED, note="redis-benchmark is not installed")
    return await _redis_benchmark(cell, port, options)


async def _prepare(cell: Cell, port: int, options: RunOptions, first: bool) -> str:
    """Fill or empty the hash an HSET cell writes into; what to note about it."""
    if cell.command == "hset-big" and first:  # once per target
        fields = options.big_hash_fields
        seconds = await fill_hash(port, BIG_HASH_KEYS["hset-big"], fields, cell.value_size)
        return f"the hash's {fields:,} fields were written in {seconds:.0f} s first"
    if cell.command == "hset-empty":  # empty again for every cell
        await fill_hash(port, BIG_HASH_KEYS["hset-empty"], 0, cell.value_size)
    return ""


async def _one(
    cell: Cell, system: System, options: RunOptions, support: dict[tuple[str, str], bool]
) -> CellResult:
    note = ""
    try:
        port = (await system.ports()).get(cell.target)
        if port is None:
            return CellResult(cell, SKIPPED, note=f"no {cell.target} target (not installed?)")
        key = (cell.target, cell.command)
        first = key not in support
        if first:
            support[key] = await supports(port, cell.command)
        if support[key] and cell.command in BIG_HASH_KEYS:
            note = await _prepare(cell, port, options, first)
            waited, idle = await settle.wait_until_idle(system.pids)
            quiet = "idle" if idle else "still busy (measured anyway)"
            note = ", ".join(filter(None, [note, f"the system was {quiet} after {waited:.0f} s"]))
    except (OSError, trio.BrokenResourceError, trio.TooSlowError, TimeoutError) as exc:
        return CellResult(cell, ERROR, note=f"server unreachable: {type(exc).__name__}: {exc}")
    except redis_benchmark.OutputError as exc:
        return CellResult(cell, ERROR, note=str(exc))
    if not support[key]:
        return CellResult(cell, SKIPPED, note="the server answers 'unknown command'")
    result = await measure_cell(cell, port, options)
    return attrs.evolve(result, note=" ".join(filter(None, [result.note, note])))


async def _run_system(
    cells: Sequence[Cell], system: System, options: RunOptions, progress: Progress
) -> None:
    support: dict[tuple[str, str], bool] = {}
    for cell in cells:
        started = time.monotonic()
        result = await _one(cell, system, options, support)
        progress.report(result, time.monotonic() - started)


async def run_matrix(
    cells: Sequence[Cell], options: RunOptions, workdir: Path, progress: Progress
) -> None:
    """Measure `cells`, starting and stopping each system in turn; results go to `progress`."""
    for system in matrix.systems(cells):
        mine = [cell for cell in cells if matrix.SYSTEM_OF[cell.target] == system]
        async with AsyncExitStack() as stack:
            progress.say(f"starting {system} ...")
            failure: str | None = None
            try:
                started = await stack.enter_async_context(_system(system, workdir))
            except* _START_ERRORS as group:
                failure = "; ".join(f"{type(e).__name__}: {e}" for e in group.exceptions)
            if failure is not None:
                for cell in mine:
                    failed = CellResult(cell, ERROR, note=f"{system} did not start: {failure}")
                    progress.report(failed, 0.0)
                continue
            await _run_system(mine, started, options, progress)
        progress.say(f"stopped {system}")


async def run_until_signalled(
    cells: Sequence[Cell], options: RunOptions, workdir: Path, progress: Progress
) -> bool:
    """`run_matrix`, cancelled cleanly (every process stopped) by SIGTERM or SIGHUP.

    Returns False if a signal cut the run short. SIGINT needs no handler: trio raises
    KeyboardInterrupt in the run, which unwinds the same clean-up path."""
    finished = False
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGHUP) as signals:
        async with trio.open_nursery() as nursery:

            async def stop_on_signal() -> None:
                async for signum in signals:
                    progress.say(f"received {signal.Signals(signum).name}: stopping")
                    nursery.cancel_scope.cancel()

            nursery.start_soon(stop_on_signal)
            await run_matrix(cells, options, workdir, progress)
            finished = True
            nursery.cancel_scope.cancel()
    return finished
