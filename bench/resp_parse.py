"""Micro benchmark: commands/s of RequestParser on pipelined SET requests, both paths.

Run: /work/venv/bin/python bench/resp_parse.py [--commands N] [--chunk BYTES] [--repeat R]
The stream is fed in `--chunk`-sized pieces (like socket reads) and drained after each feed.
"""

from __future__ import annotations

import argparse
import time

from seshat_trio.protocol import RequestParser


def pipelined_sets(count: int, value_size: int) -> bytes:
    value = b"v" * value_size
    parts = []
    for i in range(count):
        key = b"key:%d" % i
        parts.append(
            b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(value), value)
        )
    return b"".join(parts)


def run(stream: bytes, chunk: int, use_hiredis: bool) -> tuple[int, float]:
    parser = RequestParser(use_hiredis=use_hiredis)
    feed = parser.feed
    next_command = parser.next_command
    parsed = 0
    start = time.perf_counter()
    for offset in range(0, len(stream), chunk):
        feed(stream[offset : offset + chunk])
        while next_command() is not None:
            parsed += 1
    return parsed, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--commands", type=int, default=200_000)
    ap.add_argument("--chunk", type=int, default=65536)
    ap.add_argument("--value-size", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    stream = pipelined_sets(args.commands, args.value_size)
    print(
        f"{args.commands} pipelined SETs ({len(stream)} bytes, value {args.value_size} B), "
        f"fed in {args.chunk}-byte chunks; best of {args.repeat}"
    )
    for use_hiredis in (False, True):
        best = min(run(stream, args.chunk, use_hiredis)[1] for _ in range(args.repeat))
        parsed, _ = run(stream, args.chunk, use_hiredis)
        assert parsed == args.commands, parsed
        label = "hiredis" if use_hiredis else "pure   "
        print(f"{label}: {parsed / best:12,.0f} commands/s  {best / parsed * 1e6:6.2f} us/command")


if __name__ == "__main__":
    main()
