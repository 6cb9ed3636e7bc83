"""The mixed-pipeline cell: one connection sends a whole pipeline at once and reads every
reply; what counts is the time from the first byte sent to the last reply read.

Compared on the same node: `PAIRS` SET+GET pairs (each GET reads the key its SET just
wrote), the same with a PING after each pair (the "PIPELINING stresser" shape of Redis's
test suite), and 2 x `PAIRS` SETs alone, as many commands as the pairs. The target of the
benchmarks issue: the pairs take at most 2x the SETs alone. Every reply is checked, so a
wrong or failed reply makes the cell an error, not a figure.

Standalone: `python -m bench.mixed [--port 6379] [--pairs 10000] [--rounds 3]`; without
`--port` it starts a fresh 3-node cluster and measures on its leader and on a follower.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import attrs
import trio

from bench import servers
from seshat_trio.client import RespClient, encode_command

PAIRS = 10_000
SHAPES = ("set", "set+get", "set+get+ping")


@attrs.frozen
class MixedResult:
    shape: str
    commands: int
    seconds: float


def pipeline(shape: str, pairs: int, tag: str) -> tuple[bytes, list[object]]:
    """The request bytes and the replies expected, for one shape."""
    parts: list[bytes] = []
    expected: list[object] = []
    for i in range(pairs):
        key, value = f"mixed:{tag}:{i}".encode(), b"v%d" % i
        if shape == "set":
            parts += [
                encode_command([b"SET", key, value]),
                encode_command([b"SET", key + b"b", value]),
            ]
            expected += [b"OK", b"OK"]
            continue
        parts += [encode_command([b"SET", key, value]), encode_command([b"GET", key])]
        expected += [b"OK", value]
        if shape == "set+get+ping":
            parts.append(encode_command([b"PING"]))
            expected.append(b"PONG")
    return b"".join(parts), expected


async def run_shape(host: str, port: int, shape: str, pairs: int, tag: str) -> MixedResult:
    request, expected = pipeline(shape, pairs, tag)
    async with await RespClient.connect(host, port) as client:
        started = time.perf_counter()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(client.send_raw, request)
            replies = await client.read_replies(len(expected))
        seconds = time.perf_counter() - started
    wrong = [
        (i, got)
        for i, (got, want) in enumerate(zip(replies, expected, strict=False))
        if got != want
    ]
    if wrong:
        raise RuntimeError(f"{shape}: {len(wrong)} wrong replies, first {wrong[0]}")
    return MixedResult(shape, len(expected), seconds)


async def measure(host: str, port: int, pairs: int, rounds: int) -> list[MixedResult]:
    """`rounds` of every shape, interleaved (set, set+get, set+get+ping, set, ...)."""
    results = []
    for round_ in range(rounds):
        for shape in SHAPES:
            results.append(await run_shape(host, port, shape, pairs, f"{round_}{shape}"))
    return results


async def on_fresh_cluster(pairs: int, rounds: int) -> dict[str, list[MixedResult]]:
    """Leader and follower of a fresh 3-node cluster (started and stopped here)."""
    with tempfile.TemporaryDirectory(prefix="seshat-mixed-") as temp:
        async with servers.seshat_cluster(3, Path(temp)) as cluster:
            follower = cluster.follower_port
            assert follower is not None
            return {
                "leader": await measure(servers.HOST, cluster.leader_port, pairs, rounds),
                "follower": await measure(servers.HOST, follower, pairs, rounds),
            }


def summary(results: Sequence[MixedResult]) -> list[str]:
    sets = [r.seconds for r in results if r.shape == "set"]
    base = sum(sets) / len(sets)
    return [
        f"{r.shape:>14}: {r.commands} commands in {r.seconds:.3f} s ({r.seconds / base:.2f}x "
        "the mean of the SETs alone)"
        for r in results
    ]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.mixed", description=__doc__)
    ap.add_argument("--host", default=servers.HOST)
    ap.add_argument("--port", type=int, help="a running server (default: a fresh cluster)")
    ap.add_argument("--pairs", type=int, default=PAIRS)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    if args.port is not None:
        runs = {
            f"port {args.port}": trio.run(measure, args.host, args.port, args.pairs, args.rounds)
        }
    else:
        runs = trio.run(on_fresh_cluster, args.pairs, args.rounds)
    for where, results in runs.items():
        print(where)
        print("\n".join(summary(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
