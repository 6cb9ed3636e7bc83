"""`redis-benchmark` as a measuring tool: its command lines, its CSV, sizing a run by time.

redis-benchmark 7 with `--csv` prints one header line and one row per test:
    "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms",
    "p99_latency_ms","max_latency_ms"
Progress lines go to stderr (carriage-return separated), but the parser does not rely on
that: it looks for the header and reads only well-formed rows after it. redis-benchmark
takes a request count (`-n`), not a duration, so a cell is sized from a short probe of the
same command line: `requests_for(rps, duration)`. Every run has a time limit: against a
port that refuses connections redis-benchmark 7.0 retries forever, burning a core.
"""

from __future__ import annotations

import csv
import math
import subprocess
from collections.abc import Sequence

import attrs
import trio

EXECUTABLE = "redis-benchmark"
# CSV column -> our latency key (see model.LATENCY_KEYS).
_LATENCY_COLUMNS = {
    "avg_latency_ms": "avg",
    "min_latency_ms": "min",
    "p50_latency_ms": "p50",
    "p95_latency_ms": "p95",
    "p99_latency_ms": "p99",
    "max_latency_ms": "max",
}
_HEADER = ("test", "rps", *_LATENCY_COLUMNS)
# A probe shorter than this is dominated by connection setup; it is repeated, larger.
MIN_PROBE_S = 0.25
MAX_PROBE_ROUNDS = 4
# Ask for a little more than duration * probe rate: long runs rarely go faster than probes.
SIZE_MARGIN = 1.2


# Commands measured by a redis-benchmark test of another name (-t) and the CSV row that
# measures them: LPOP pops the list its own LPUSH test fills first (the same -n), LRANGE is
# LRANGE_100 (the first 100 elements), after the LPUSH that fills its list.
_TESTS = {"lpop": "lpush,lpop", "lrange": "lrange_100"}
_ROWS = {"lrange": "lrange_100", "hset-big": "hset", "hset-empty": "hset"}
# Commands given to redis-benchmark whole rather than as a test: HSET of a random field
# (redis-benchmark's __rand_int__: 12 digits, below -r) into one hash, big or empty.
BIG_HASH_KEYS = {"hset-big": "bench:hash:big", "hset-empty": "bench:hash:empty"}
# The commands a cluster-aware cell runs with tagged keys (`command_line(tag=...)`).
TAGGED = frozenset({"set", "get"})


def big_hash_field(number: int) -> bytes:
    """The field `f:__rand_int__` names when redis-benchmark draws `number`."""
    return b"f:%012d" % number


class OutputError(ValueError):
    """redis-benchmark's output had no CSV header or no well-formed row."""


@attrs.frozen
class Row:
    test: str  # as redis-benchmark names it: "SET", "GET", "INCR", "MSET (10 keys)"
    rps: float
    latency_ms: dict[str, float]


@attrs.frozen
class Outcome:
    """One finished redis-benchmark process."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def command_line(
    port: int,
    command: str,
    *,
    clients: int,
    pipeline: int,
    value_size: int,
    requests: int,
    keyspace: int,
    executable: str = EXECUTABLE,
    tag: str | None = None,
) -> list[str]:
    """The exact argv of one measurement; `-r` spreads keys (fields, members) over
    `keyspace` random ones. `tag` (SET and GET only): the keys carry that hash tag
    (`key:{tag}:__rand_int__`), so all of them hash to its slot, as the keys a cluster-aware
    client sends to one primary."""
    hash_key = BIG_HASH_KEYS.get(command)
    whole = hash_key is not None or tag is not None
    test = [] if whole else ["-t", _TESTS.get(command, command)]
    argv = [
        executable, "-h", "127.0.0.1", "-p", str(port),
        *test, "-c", str(clients), "-P", str(pipeline),
        "-d", str(value_size), "-n", str(requests), "-r", str(keyspace), "--csv",
    ]  # fmt: skip
    if hash_key is not None:
        argv += ["HSET", hash_key, "f:__rand_int__", "x" * value_size]
    elif tag is not None:
        if command not in TAGGED:
            raise ValueError(f"no tagged form of {command!r}")
        key = f"key:{{{tag}}}:__rand_int__"
        argv += ["SET", key, "x" * value_size] if command == "set" else ["GET", key]
    return argv


def parse_csv(text: str) -> list[Row]:
    """The rows of `--csv` output; raises OutputError if there is no header or no row."""
    lines = text.replace("\r", "\n").splitlines()
    headers = [i for i, line in enumerate(lines) if _is_header(line)]
    if not headers:
        raise OutputError(f"no CSV header {_HEADER!r} in redis-benchmark output: {text[:200]!r}")
    rows = [row for row in map(_parse_row, csv.reader(lines[headers[0] + 1 :])) if row]
    if not rows:
        raise OutputError(f"CSV header but no result row in redis-benchmark output: {text!r}")
    return rows


def _is_header(line: str) -> bool:
    fields = next(csv.reader([line]), [])
    return tuple(field.strip() for field in fields) == _HEADER


def _parse_row(fields: Sequence[str]) -> Row | None:
    """A result row, or None for anything else. rps may be "inf" (a run shorter than
    redis-benchmark's millisecond clock); latencies must be finite ("-nan": no sample)."""
    if len(fields) != len(_HEADER):
        return None
    try:
        rps, *latencies = (float(field) for field in fields[1:])
    except ValueError:
        return None
    if math.isnan(rps) or rps < 0 or not all(math.isfinite(n) for n in latencies):
        return None
    latency = dict(zip(_LATENCY_COLUMNS.values(), latencies, strict=True))
    return Row(test=fields[0].strip(), rps=rps, latency_ms=latency)


def row_for(rows: Sequence[Row], command: str) -> Row:
    """The row of `command`; MSET's test is named "MSET (10 keys)", LRANGE's
    "LRANGE_100 (first 100 elements)", a whole command's by the command ("HSET key ...")."""
    name = _ROWS.get(command.lower(), command.lower())
    for row in rows:
        if row.test.split(" ", 1)[0].lower() == name:
            return row
    raise OutputError(f"no {command.upper()} row among {[row.test for row in rows]}")


def requests_for(rps: float, duration_s: float, clients: int, pipeline: int) -> int:
    """How many requests make a run of about `duration_s` at `rps` (at least a few rounds)."""
    floor = max(100, clients * pipeline * 4)
    if rps <= 0 or math.isinf(rps):
        return floor
    return max(floor, math.ceil(rps * duration_s * SIZE_MARGIN))


def next_probe_size(requests: int, rps: float) -> int | None:
    """The size of the next probe round, or None if `requests` already lasted long enough."""
    if rps <= 0:
        return None
    seconds = requests / rps  # 0 when rps is inf: too short to time at all
    if seconds >= MIN_PROBE_S:
        return None
    factor = 10 if seconds == 0 else min(10, math.ceil(MIN_PROBE_S / seconds) + 1)
    return requests * factor


async def run(argv: Sequence[str], timeout_s: float) -> Outcome:
    """Run one redis-benchmark; on timeout it is killed (by trio, by PID) and TooSlowError
    is raised."""
    with trio.fail_after(timeout_s):
        done = await trio.run_process(
            list(argv),
            stdin=subprocess.DEVNULL,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    return Outcome(
        argv=tuple(argv),
        returncode=done.returncode,
        stdout=done.stdout.decode("utf-8", "replace"),
        stderr=done.stderr.decode("utf-8", "replace"),
    )


def version(executable: str = EXECUTABLE) -> str | None:
    """`redis-benchmark --version` ("redis-benchmark 7.0.15"), or None if not installed."""
    try:
        done = subprocess.run(
            [executable, "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None
