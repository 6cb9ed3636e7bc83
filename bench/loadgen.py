"""A Trio load generator: N concurrent RESP clients for a fixed duration.

Each client keeps one connection and sends batches of `pipeline` commands back to back;
every request's latency is the time from sending its batch to reading the batch's last
reply (what redis-benchmark measures too), taken with `time.perf_counter_ns`. Keys are
drawn from `keyspace` keys by a seeded `random.Random` per client, so runs are repeatable.
Error replies are counted by their first word ("ERR", "TRYAGAIN", ...), lost connections
and request timeouts by kind; a client reconnects after either and carries on.

Standalone: `python -m bench.loadgen --port 6379 --command set --clients 50 --duration 10`.
"""

from __future__ import annotations

import argparse
import errno
import math
import random
import sys
import time
from array import array
from collections import Counter
from collections.abc import Sequence

import attrs
import trio

from seshat_trio.client import RedisReplyError, RespClient, encode_command

COMMANDS = ("set", "get")
PERCENTILES = (50.0, 90.0, 99.0, 99.9)
RECONNECT_PAUSE_S = 0.05


@attrs.frozen
class LoadSpec:
    port: int
    command: str
    clients: int
    pipeline: int
    duration_s: float
    value_size: int = 100
    keyspace: int = 100_000
    host: str = "127.0.0.1"
    request_timeout_s: float = 5.0
    seed: int = 1

    def argv(self) -> tuple[str, ...]:
        """The command line that reproduces this load from the repository root."""
        return (
            "python", "-m", "bench.loadgen", "--host", self.host, "--port", str(self.port),
            "--command", self.command, "--clients", str(self.clients),
            "--pipeline", str(self.pipeline), "--duration", f"{self.duration_s:g}",
            "--value-size", str(self.value_size), "--keyspace", str(self.keyspace),
            "--seed", str(self.seed),
        )  # fmt: skip


@attrs.frozen
class LoadResult:
    requests: int  # successful replies
    seconds: float
    latency_ms: dict[str, float]
    errors: dict[str, int]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def percentile(sorted_samples: Sequence[int], q: float) -> int:
    """Nearest-rank percentile: the smallest sample with at least q% of samples <= it."""
    if not sorted_samples:
        raise ValueError("percentile of no samples")
    if not 0 < q <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {q}")
    # Rounded first so float noise (99.9 / 100 * 1000 = 999.0000000000001) cannot add a rank.
    rank = math.ceil(round(q / 100 * len(sorted_samples), 9))
    return sorted_samples[rank - 1]


def summarize(samples_ns: Sequence[int]) -> dict[str, float]:
    """min/avg/percentiles/max in milliseconds; empty for no samples."""
    if not samples_ns:
        return {}
    ordered = sorted(samples_ns)
    to_ms = 1e-6
    summary = {"min": ordered[0] * to_ms, "avg": sum(ordered) / len(ordered) * to_ms}
    for q in PERCENTILES:
        summary[f"p{q:g}"] = percentile(ordered, q) * to_ms
    summary["max"] = ordered[-1] * to_ms
    return summary


def error_kind(error: BaseException) -> str:
    """A short, stable name for what went wrong: an error reply's code, or the exception."""
    if isinstance(error, RedisReplyError):
        words = str(error).split(" ", 1)
        return words[0] if words[0] else "error-reply"
    if isinstance(error, OSError) and error.errno is not None:
        return f"connection: {errno.errorcode.get(error.errno, str(error.errno))}"
    # trio.open_tcp_stream raises a bare OSError whose cause holds each attempt's error.
    cause = error.__cause__
    if isinstance(cause, BaseExceptionGroup) and cause.exceptions:
        return error_kind(cause.exceptions[0])
    if isinstance(cause, OSError):
        return error_kind(cause)
    return f"connection: {type(error).__name__}"


class _Client:
    """One connection's loop; appends latencies to `samples` and errors to `errors`."""

    def __init__(self, spec: LoadSpec, index: int) -> None:
        self._spec = spec
        self._rng = random.Random(spec.seed * 1_000_003 + index)
        self._value = b"x" * spec.value_size
        self.samples = array("q")
        self.errors: Counter[str] = Counter()

    def _batch(self) -> bytes:
        spec = self._spec
        parts = []
        for _ in range(spec.pipeline):
            key = b"key:%012d" % self._rng.randrange(spec.keyspace)
            args = (b"SET", key, self._value) if spec.command == "set" else (b"GET", key)
            parts.append(encode_command(args))
        return b"".join(parts)

    async def run(self, deadline: float) -> None:
        while trio.current_time() < deadline:
            try:
                client = await RespClient.connect(self._spec.host, self._spec.port)
            except OSError as exc:
                self.errors[error_kind(exc)] += 1
                await trio.sleep(RECONNECT_PAUSE_S)
                continue
            async with client:
                await self._drive(client, deadline)

    async def _drive(self, client: RespClient, deadline: float) -> None:
        spec = self._spec
        while trio.current_time() < deadline:
            batch = self._batch()
            started = time.perf_counter_ns()
            with trio.move_on_after(spec.request_timeout_s) as scope:
                try:
                    await client.send_raw(batch)
                    replies = await client.read_replies(spec.pipeline)
                except (OSError, trio.BrokenResourceError) as exc:
                    self.errors[error_kind(exc)] += 1
                    await trio.sleep(RECONNECT_PAUSE_S)
                    return
            if scope.cancelled_caught:
                self.errors["timeout"] += spec.pipeline
                return
            elapsed = time.perf_counter_ns() - started
            for reply in replies:
                if isinstance(reply, RedisReplyError):
                    self.errors[error_kind(reply)] += 1
                else:
                    self.samples.append(elapsed)


async def run_load(spec: LoadSpec) -> LoadResult:
    """Drive `spec.clients` connections for `spec.duration_s` seconds."""
    if spec.command not in COMMANDS:
        raise ValueError(f"loadgen drives {COMMANDS}, not {spec.command!r}")
    clients = [_Client(spec, i) for i in range(spec.clients)]
    started = trio.current_time()
    deadline = started + spec.duration_s
    async with trio.open_nursery() as nursery:
        for client in clients:
            nursery.start_soon(client.run, deadline)
    seconds = trio.current_time() - started
    samples = array("q")
    errors: Counter[str] = Counter()
    for client in clients:
        samples.extend(client.samples)
        errors.update(client.errors)
    return LoadResult(
        requests=len(samples),
        seconds=seconds,
        latency_ms=summarize(samples),
        errors=dict(errors),
    )


def _parse(argv: Sequence[str]) -> LoadSpec:
    ap = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=6379)
    ap.add_argument("--command", choices=COMMANDS, default="set")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--pipeline", type=int, default=1)
    ap.add_argument("--duration", type=float, default=10.0, help="seconds")
    ap.add_argument("--value-size", type=int, default=100)
    ap.add_argument("--keyspace", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    return LoadSpec(
        host=args.host,
        port=args.port,
        command=args.command,
        clients=args.clients,
        pipeline=args.pipeline,
        duration_s=args.duration,
        value_size=args.value_size,
        keyspace=args.keyspace,
        seed=args.seed,
    )


def main(argv: Sequence[str] | None = None) -> int:
    spec = _parse(sys.argv[1:] if argv is None else argv)
    result = trio.run(run_load, spec)
    latency = "  ".join(f"{key} {value:.3f}" for key, value in result.latency_ms.items())
    print(f"{spec.command.upper()} -c {spec.clients} -P {spec.pipeline}: {result.rps:,.0f} ops/s")
    print(f"latency ms: {latency}")
    print(f"errors: {result.errors or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
