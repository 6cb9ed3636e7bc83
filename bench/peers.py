"""Side by side with etcd and durable Redis: `python -m bench --peers` (`nox -s bench --
--peers`).

Three systems run the same cells, one system at a time on the shared cores, in two
interleaved rounds (seshat, etcd, redis, seshat, etcd, redis), each started fresh:

- seshat-trio: a 3-node cluster, clients on the leader, `redis-benchmark`;
- etcd 3.4 (Debian's `etcd-server`, installed with apt-get if missing): a 3-member cluster
  on 127.0.0.1, each member with its own data dir (fsync per write, as etcd always does),
  clients on the leader through etcd's own HTTP/JSON gateway (`/v3/kv/put`,
  `/v3/kv/range`), driven by `wrk` (Debian's `wrk`, also installed if missing) with a Lua
  script that draws keys from the same keyspace;
- Redis 7: one `redis-server --appendonly yes --appendfsync always`, `redis-benchmark`.

Why wrk and the gateway: the load generator must not be the bottleneck on a 2-core machine
that also runs the servers. `wrk` is a C event loop like `redis-benchmark` (about as light
per request), while a Python client costs more CPU per request than the server under test
and takes it from the same cores. The gateway is part of etcd and translates JSON to its
gRPC service inside the member; that translation is counted in etcd's CPU (it is what a
client without a gRPC stack pays). etcd's own Go `benchmark` tool is not packaged by Debian.

Cells: SET and GET with 50 clients (ops/s, p99), SET with one client (p50), SET with 50
clients and 16-deep pipelines (etcd has no pipelining: its row compares with etcd's SET
c=50), and the CPU per operation of every server process (utime + stime from /proc over the
cell, divided by the requests). For seshat-trio two more cells: GET c=50 in `read_mode =
lease`, and the mixed pipeline (`bench.mixed`: 10,000 SET+GET pairs against 20,000 SETs).

The ratios table goes into docs/benchmarks.md between `<!-- peers -->` markers (the matrix
page keeps it), the raw figures into bench/results/peers-<time>.json.
"""

from __future__ import annotations

import base64
import json
import os
import re
import resource
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import attrs
import trio

from bench import machine, mixed, redis_benchmark, servers
from bench.machine import cpu_seconds
from bench.model import RunOptions
from bench.report import PEERS_END as MARK_END
from bench.report import PEERS_START as MARK_START
from bench.runner import probed_requests
from seshat_trio.testing.ports import free_port_block

ETCD = "etcd"
WRK = "wrk"
ETCD_READY_S = 30.0
SYSTEMS = ("seshat", "etcd", "redis")
ROUNDS = 2
# (name, command, clients, pipeline)
CELLS = (
    ("SET c=50", "set", 50, 1),
    ("GET c=50", "get", 50, 1),
    ("SET c=1", "set", 1, 1),
    ("SET c=50 -P 16", "set", 50, 16),
)
# What one load run gives: ops/s, latencies (ms), requests, its command line, a note.
Outcome = tuple[float, dict[str, float], int, tuple[str, ...], str]


@attrs.frozen
class Measured:
    system: str
    cell: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    cpu_us_per_op: dict[str, float]  # process name -> CPU microseconds per operation
    argv: tuple[str, ...] = ()
    note: str = ""
    client_us_per_op: float = 0.0  # the load generator's CPU (redis-benchmark or wrk)


def ensure_installed(out: TextIO) -> list[str]:
    """Install etcd-server and wrk with apt-get when missing; what is still missing."""
    wanted = {ETCD: "etcd-server", WRK: "wrk"}
    missing = [pkg for exe, pkg in wanted.items() if shutil.which(exe) is None]
    if missing and shutil.which("apt-get") is not None:
        print(f"installing {' '.join(missing)} with apt-get ...", file=out, flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *missing]):
            subprocess.run(argv, env=env, check=False, capture_output=True)
    return [exe for exe in wanted if shutil.which(exe) is None]


# -- etcd ---------------------------------------------------------------------------------


@attrs.frozen
class EtcdCluster:
    client_ports: tuple[int, ...]
    pids: tuple[int, ...]
    leader: int  # index into client_ports


def etcd_argv(i: int, ports: Sequence[int], data_dir: Path) -> list[str]:
    """Member i of 3 (client port ports[2i], peer port ports[2i + 1])."""
    peers = ",".join(f"m{j}=http://{servers.HOST}:{ports[2 * j + 1]}" for j in range(3))
    client, peer = (
        f"http://{servers.HOST}:{ports[2 * i]}",
        f"http://{servers.HOST}:{ports[2 * i + 1]}",
    )
    return [
        ETCD, "--name", f"m{i}", "--data-dir", str(data_dir / f"m{i}"),
        "--listen-client-urls", client, "--advertise-client-urls", client,
        "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
        "--initial-cluster", peers, "--initial-cluster-state", "new",
        "--initial-cluster-token", "seshat-bench", "--log-level", "warn",
    ]  # fmt: skip


async def _etcd_status(port: int) -> dict[str, Any] | None:
    """The member's `/v3/maintenance/status` reply, or None if it does not answer yet."""
    request = b"POST /v3/maintenance/status HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}"
    try:
        with trio.move_on_after(2.0):
            stream = await trio.open_tcp_stream(servers.HOST, port)
            async with stream:
                await stream.send_all(request)
                data = b""
                while chunk := await stream.receive_some(65536):
                    data += chunk
            body = data.split(b"\r\n\r\n", 1)[1]
            status: dict[str, Any] = json.loads(body)
            return status
    except (OSError, ValueError, IndexError, trio.BrokenResourceError):
        return None
    return None


@asynccontextmanager
async def etcd_cluster(data_dir: Path) -> AsyncIterator[EtcdCluster]:
    data_dir.mkdir(parents=True, exist_ok=True)
    ports = [free_port_block(2) for _ in range(3)]
    flat = [p for first in ports for p in (first, first + 1)]
    processes = []
    try:
        for i in range(3):
            with (data_dir / f"m{i}.log").open("wb") as log:
                processes.append(
                    await trio.lowlevel.open_process(
                        etcd_argv(i, flat, data_dir),
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        client_ports = tuple(flat[2 * i] for i in range(3))
        with trio.fail_after(ETCD_READY_S):
            while True:
                statuses = [await _etcd_status(port) for port in client_ports]
                if all(statuses):
                    leaders = {str(s.get("leader")) for s in statuses if s}
                    ids = [str((s.get("header") or {}).get("member_id")) for s in statuses if s]
                    if len(leaders) == 1 and (leader := leaders.pop()) in ids:
                        break
                await trio.sleep(servers.POLL_S)
        yield EtcdCluster(client_ports, tuple(p.pid for p in processes), ids.index(leader))
    finally:
        with trio.CancelScope(shield=True):
            for process in processes:
                await servers._stop(process)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def wrk_script(command: str, keyspace: int, value_size: int) -> str:
    """A wrk Lua script: POSTs to the JSON gateway, a random key of `keyspace` per request
    (the keys' base64 is built once per wrk thread, before the clock starts)."""
    path = "/v3/kv/put" if command == "set" else "/v3/kv/range"
    value = _b64(b"x" * value_size)
    body = (
        '{"key":"\' .. k .. \'","value":"' + value + '"}'
        if command == "set"
        else ('{"key":"\' .. k .. \'"}')
    )
    return f"""
local b = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
local function b64(s)
  return ((s:gsub('.', function(x)
    local r, n = '', x:byte()
    for i = 8, 1, -1 do r = r .. (n % 2^i - n % 2^(i-1) > 0 and '1' or '0') end
    return r
  end) .. '0000'):gsub('%d%d%d?%d?%d?%d?', function(x)
    if #x < 6 then return '' end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == '1' and 2^(6 - i) or 0) end
    return b:sub(c + 1, c + 1)
  end) .. ({{'', '==', '='}})[#s % 3 + 1])
end
local keys = {{}}
for i = 0, {keyspace - 1} do keys[i] = b64(string.format('key:%012d', i)) end
wrk.method = 'POST'
wrk.path = '{path}'
wrk.headers['Content-Type'] = 'application/json'
request = function()
  local k = keys[math.random(0, {keyspace - 1})]
  return wrk.format(nil, nil, nil, '{body}')
end
"""


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_wrk(text: str) -> tuple[float, dict[str, float], int, int]:
    """(requests/s, {p50, p99} in ms, requests, non-2xx responses) from `wrk --latency`."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    latency = {}
    for pct, key in (("50", "p50"), ("99", "p99")):
        match = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        if match:
            latency[key] = float(match.group(1)) * _UNITS[match.group(2)]
    requests = int(re.search(r"(\d+) requests in", text).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    return rps, latency, requests, int(bad.group(1)) if bad else 0


async def run_wrk(
    port: int, command: str, clients: int, options: RunOptions, *, workdir: Path, meter: CpuMeter
) -> Outcome:
    script = workdir / f"wrk-{command}.lua"
    script.write_text(wrk_script(command, options.keyspace, options.value_size))
    argv = (
        WRK, "-t1", f"-c{clients}", f"-d{max(1, round(options.duration_s))}s", "--latency",
        "-s", str(script), f"http://{servers.HOST}:{port}",
    )  # fmt: skip
    with trio.fail_after(options.duration_s * 5 + 60):
        meter.start()
        done = await trio.run_process(argv, capture_stdout=True, capture_stderr=True, check=False)
        meter.stop()
    text = done.stdout.decode(errors="replace")
    rps, latency, requests, bad = parse_wrk(text)
    note = f"{bad} non-2xx replies" if bad else ""
    return rps, latency, requests, argv, note


# -- the rounds -----------------------------------------------------------------------------


def _children_cpu() -> float:
    """CPU of this process's finished, reaped children: the load generator runs (the
    servers under test are children too, but they do not exit during a cell)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class CpuMeter:
    """CPU time of a system's processes over the measured part of a cell only (a
    redis-benchmark cell is sized by probes first, which must not count), and of the load
    generator (to show it is not what limits a system)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self._before: dict[str, float] = {}
        self._client_before = 0.0
        self.used: dict[str, float] = {}
        self.client = 0.0

    def start(self) -> None:
        self._before = {proc: cpu_seconds(pid) for proc, pid in self.pids.items()}
        self._client_before = _children_cpu()

    def stop(self) -> None:
        self.used = {proc: cpu_seconds(pid) - self._before[proc] for proc, pid in self.pids.items()}
        self.client = _children_cpu() - self._client_before


async def measure(system: str, name: str, meter: CpuMeter, run: Awaitable[Outcome]) -> Measured:
    rps, latency, requests, argv, note = await run
    per_op = {p: seconds * 1e6 / requests for p, seconds in meter.used.items()} if requests else {}
    client = meter.client * 1e6 / requests if requests else 0.0
    return Measured(
        system, name, rps, latency.get("p50", 0.0), latency.get("p99", 0.0), requests, per_op,
        tuple(argv), note, client,
    )  # fmt: skip


async def _rb(
    port: int, command: str, clients: int, pipeline: int, options: RunOptions, *, meter: CpuMeter
) -> Outcome:
    """redis-benchmark sized from probes (as the matrix does); CPU counted for the last run."""

    async def once(requests: int) -> tuple[redis_benchmark.Outcome, redis_benchmark.Row]:
        argv = redis_benchmark.command_line(
            port, command, clients=clients, pipeline=pipeline, value_size=options.value_size,
            requests=requests, keyspace=options.keyspace,
        )  # fmt: skip
        outcome = await redis_benchmark.run(argv, options.duration_s * 5 + 60)
        if outcome.returncode != 0:
            raise redis_benchmark.OutputError(outcome.stderr.strip()[-300:])
        return outcome, redis_benchmark.row_for(redis_benchmark.parse_csv(outcome.stdout), command)

    try:
        total = await probed_requests(once, clients, pipeline, options.duration_s)
        meter.start()
        outcome, row = await once(total)
        meter.stop()
    except (redis_benchmark.OutputError, trio.TooSlowError, OSError) as exc:
        return 0.0, {}, 0, (), f"{type(exc).__name__}: {exc}"
    return row.rps, dict(row.latency_ms), total, outcome.argv, ""


async def round_seshat(options: RunOptions, workdir: Path, lease: bool) -> list[Measured]:
    system = "seshat-lease" if lease else "seshat"
    extra = ("--read-mode", "lease") if lease else ()
    async with servers.seshat_cluster(3, workdir / system, extra=extra) as cluster:
        pids = {
            ("leader" if i + 1 == cluster.leader_id else f"follower{i + 1}"): pid
            for i, pid in enumerate(cluster.pids)
        }
        port = cluster.leader_port
        meter = CpuMeter(pids)
        cells = [c for c in CELLS if not lease or c[0] == "GET c=50"]
        if lease:  # keys to read
            fill = attrs.evolve(options, duration_s=min(options.duration_s, 3))
            await _rb(port, "set", 50, 16, fill, meter=meter)
        out = [
            await measure(
                system, name, meter, _rb(port, command, clients, pipe, options, meter=meter)
            )
            for name, command, clients, pipe in cells
        ]
        if not lease:
            results = await mixed.measure(servers.HOST, port, mixed.PAIRS, 1)
            by_shape = {r.shape: r.seconds for r in results}
            for shape in ("set", "set+get", "set+get+ping"):
                out.append(
                    Measured(system, f"pipeline {shape}", 0.0, by_shape[shape] * 1000, 0.0, 0, {})
                )
        return out


async def round_etcd(options: RunOptions, workdir: Path) -> list[Measured]:
    async with etcd_cluster(workdir / "etcd") as cluster:
        pids = {
            ("leader" if i == cluster.leader else f"member{i}"): pid
            for i, pid in enumerate(cluster.pids)
        }
        port = cluster.client_ports[cluster.leader]
        meter = CpuMeter(pids)
        return [
            await measure(
                "etcd",
                name,
                meter,
                run_wrk(port, command, clients, options, workdir=workdir, meter=meter),
            )
            for name, command, clients, pipe in CELLS
            if pipe == 1
        ]


async def round_redis(options: RunOptions, workdir: Path) -> list[Measured]:
    async with servers.redis_reference(workdir / "redis") as redis:
        if redis is None:
            return []
        meter = CpuMeter({"redis-server": redis.pid})
        return [
            await measure(
                "redis", name, meter, _rb(redis.port, command, clients, pipe, options, meter=meter)
            )
            for name, command, clients, pipe in CELLS
        ]


def progress_line(m: Measured) -> str:
    """One measured cell as a run prints it while it goes (bench/groups.py too)."""
    cpu = ", ".join(f"{p} {us:.0f}" for p, us in m.cpu_us_per_op.items())
    return (
        f"  {m.cell}: {m.rps:,.0f} ops/s p50 {m.p50_ms:.2f} p99 {m.p99_ms:.2f} ms"
        f"  CPU us/op: {cpu} {m.note}"
    )


async def run_rounds(
    options: RunOptions, workdir: Path, rounds: int, out: TextIO
) -> list[list[Measured]]:
    all_rounds = []
    for round_ in range(rounds):
        measured: list[Measured] = []
        starts: list[tuple[str, Callable[[Path], Awaitable[list[Measured]]]]] = [
            ("seshat", lambda d: round_seshat(options, d, lease=False)),
            ("etcd", lambda d: round_etcd(options, d)),
            ("redis", lambda d: round_redis(options, d)),
            ("seshat-lease", lambda d: round_seshat(options, d, lease=True)),
        ]
        for name, start in starts:
            print(f"round {round_ + 1}: {name} ...", file=out, flush=True)
            try:
                got = await start(workdir / f"r{round_}")
            except (OSError, RuntimeError, TimeoutError, trio.TooSlowError) as exc:
                print(f"  {name} failed: {type(exc).__name__}: {exc}", file=out, flush=True)
                continue
            for m in got:
                print(progress_line(m), file=out, flush=True)
            measured += got
        all_rounds.append(measured)
    return all_rounds


# -- the report -----------------------------------------------------------------------------


def _find(measured: Sequence[Measured], system: str, cell: str) -> Measured | None:
    return next((m for m in measured if m.system == system and m.cell == cell), None)


def _cpu_total(m: Measured | None) -> float | None:
    return sum(m.cpu_us_per_op.values()) if m is not None and m.cpu_us_per_op else None


def fmt(value: float | None, spec: str = ",.0f") -> str:
    return "-" if value is None or value == 0 else format(value, spec)


def ratio(a: float | None, b: float | None) -> str:
    return "-" if not a or not b else f"{a / b:.2f}x"


def _rps(m: Measured | None) -> float | None:
    return m.rps if m is not None else None


def _p50(m: Measured | None) -> float | None:
    return m.p50_ms if m is not None else None


def _with_p99(m: Measured | None) -> str:
    return f"{fmt(_rps(m))} ({fmt(m.p99_ms if m is not None else None, '.1f')})"


def ratio_rows(measured: Sequence[Measured]) -> list[list[str]]:
    """One row per figure of the benchmarks issue: seshat, etcd, redis and the ratios."""

    def get(system: str, cell: str) -> Measured | None:
        return _find(measured, system, cell)

    rows = []
    for cell in ("SET c=50", "GET c=50"):
        s, e, r = get("seshat", cell), get("etcd", cell), get("redis", cell)
        rows.append([
            f"{cell} ops/s (p99 ms)", _with_p99(s), _with_p99(e), _with_p99(r),
            ratio(_rps(s), _rps(e)), ratio(_rps(s), _rps(r)),
        ])  # fmt: skip
    s, e, r = get("seshat", "SET c=1"), get("etcd", "SET c=1"), get("redis", "SET c=1")
    rows.append([
        "SET c=1 p50 ms", fmt(_p50(s), ".2f"), fmt(_p50(e), ".2f"), fmt(_p50(r), ".2f"),
        ratio(_p50(s), _p50(e)), ratio(_p50(s), _p50(r)),
    ])  # fmt: skip
    s, e, r = (
        get("seshat", "SET c=50 -P 16"),
        get("etcd", "SET c=50"),
        get("redis", "SET c=50 -P 16"),
    )
    rows.append([
        "SET c=50 -P 16 ops/s (etcd: SET c=50)", fmt(_rps(s)), fmt(_rps(e)), fmt(_rps(r)),
        ratio(_rps(s), _rps(e)), ratio(_rps(s), _rps(r)),
    ])  # fmt: skip
    for cell in ("SET c=1", "SET c=50", "GET c=50"):
        cpu = [_cpu_total(get(system, cell)) for system in SYSTEMS]
        rows.append([
            f"CPU us per op, all processes, {cell}", *(fmt(c) for c in cpu),
            ratio(cpu[0], cpu[1]), ratio(cpu[0], cpu[2]),
        ])  # fmt: skip
    lease, plain = get("seshat-lease", "GET c=50"), get("seshat", "GET c=50")
    rows.append([
        "GET c=50 read_mode=lease ops/s (p99 ms)", _with_p99(lease), "-", "-",
        ratio(_rps(lease), _rps(get("etcd", "GET c=50"))),
        f"{ratio(_rps(lease), _rps(plain))} of readindex",
    ])  # fmt: skip
    sets = get("seshat", "pipeline set")
    for shape in ("set+get", "set+get+ping"):
        m = get("seshat", f"pipeline {shape}")
        rows.append([
            f"pipeline of {mixed.PAIRS:,} {shape.upper()} ms (/ {2 * mixed.PAIRS:,} SETs)",
            f"{fmt(_p50(m))} ({ratio(_p50(m), _p50(sets))})", "-", "-", "-", "-",
        ])  # fmt: skip
    return rows


def process_rows(measured: Sequence[Measured]) -> list[list[str]]:
    rows = []
    for m in measured:
        if m.cpu_us_per_op:
            procs = ", ".join(f"{p} {us:,.0f}" for p, us in m.cpu_us_per_op.items())
            rows.append([m.system, m.cell, procs, f"{m.client_us_per_op:,.0f}"])
    return rows


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def render(
    rounds: Sequence[Sequence[Measured]], facts: dict[str, str], started: str, options: RunOptions
) -> str:
    lines = [
        MARK_START,
        "## Side by side with etcd and durable Redis (`nox -s bench -- --peers`)",
        "",
        f"Run {started}, {len(rounds)} interleaved rounds (seshat, etcd, redis, seshat in lease "
        f"mode; each system started fresh), {options.duration_s:g} s per cell, "
        f"`-d {options.value_size} -r {options.keyspace}`, clients on the leader; "
        f"commit {facts.get('git commit', '?')[:10]}. Method and load generators: "
        "`bench/peers.py` (etcd through its JSON gateway, driven by `wrk`). Ratios are "
        "seshat-trio / peer: above 1 is better for ops/s, below 1 for latency and CPU.",
        "",
    ]
    header = [
        "figure",
        "seshat-trio",
        "etcd 3.4",
        "Redis (fsync always)",
        "seshat/etcd",
        "seshat/Redis",
    ]
    for i, measured in enumerate(rounds, start=1):
        lines += [f"### Round {i}", "", *table(header, ratio_rows(measured)), ""]
    lines += ["### CPU per operation per process (us)", ""]
    rows = [[f"round {i}", *row] for i, m in enumerate(rounds, start=1) for row in process_rows(m)]
    lines += [
        *table(["round", "system", "cell", "per server process", "load generator"], rows),
        "",
    ]
    lines += ["Exact commands:", ""]
    seen = set()
    for measured in rounds:
        for m in measured:
            if m.argv and (m.system, m.cell) not in seen:
                seen.add((m.system, m.cell))
                lines.append(f"- {m.system} {m.cell}: `{' '.join(m.argv)}`")
    lines += ["", MARK_END]
    return "\n".join(lines)


def write_section(page: Path, section: str, start: str = MARK_START, end: str = MARK_END) -> None:
    """Replace the section of `page` between the `start` and `end` markers (the peers
    section by default), or append it."""
    text = page.read_text() if page.exists() else ""
    if start in text and end in text:
        head, rest = text.split(start, 1)
        tail = rest.split(end, 1)[1]
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    page.write_text(text)


def main(
    options: RunOptions,
    results_dir: Path,
    markdown: Path,
    repo: Path,
    *,
    out: TextIO,
    rounds: int = ROUNDS,
) -> int:
    missing = ensure_installed(out)
    if missing:
        print(f"cannot run the peers comparison: {', '.join(missing)} not installed", file=out)
        return 1
    started = datetime.now(UTC).isoformat(timespec="seconds")
    facts = machine.facts(repo)
    with tempfile.TemporaryDirectory(prefix="seshat-peers-") as temp:
        measured = trio.run(run_rounds, options, Path(temp), rounds, out)
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = started.replace(":", "").replace("-", "").replace("+0000", "Z")
    raw = results_dir / f"peers-{stamp}.json"
    raw.write_text(json.dumps([[attrs.asdict(m) for m in r] for r in measured], indent=1))
    print(f"wrote {raw}", file=out)
    write_section(markdown, render(measured, facts, started, options))
    print(f"wrote the peers section of {markdown}", file=out)
    return 0 if all(measured) else 1
