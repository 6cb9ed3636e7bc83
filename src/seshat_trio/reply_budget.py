"""How much reply a forwarded command may bring back, so forwarded requests stay small.

A follower forwards runs of writes (and the reads behind them) to the leader as one
request, and the leader's replies travel back in one frame (16 MiB at most). Most writes
answer a status or a number; reads and some writes answer stored values (GET, GETSET,
SET ... GET, MGET, pops, EXEC of reads). Each command reserves a share of
FORWARD_REPLY_BUDGET (half a frame): SMALL_REPLY_BYTES for the writes listed below, and
for any other command what a value usually takes, TYPICAL_VALUE_BYTES (or max_value_bytes
if smaller), plus framing. Runs and merged requests stop growing before their reserves
pass the budget; a single command always goes.

Reserving the largest possible value for every such command would cut pipelines to one
or two commands per request once values may be 4 MiB (measured: a follower's mixed
SET/GET pipeline slowed to a crawl). The rare request whose replies really exceed a frame
is handled by the leader: it replaces its largest replies with an error saying the command
ran there (server/forwarded.py), so each command still gets exactly one reply.
"""

from __future__ import annotations

from collections.abc import Sequence

FORWARD_REPLY_BUDGET = 8 << 20
SMALL_REPLY_BYTES = 64
TYPICAL_VALUE_BYTES = 64 << 10

#: Writes whose reply is a status, an integer, a float or an error, whatever the data.
SMALL_REPLY_WRITES = frozenset(
    {
        "append", "copy", "decr", "decrby", "del", "expire", "expireat", "flushall",
        "flushdb", "hdel", "hincrby", "hincrbyfloat", "hmset", "hset", "hsetnx", "incr",
        "incrby", "incrbyfloat", "linsert", "lpush", "lpushx", "lrem", "lset", "ltrim",
        "mset", "msetnx", "persist", "pexpire", "pexpireat", "psetex", "rename", "renamenx",
        "rpush", "rpushx", "sadd", "set", "setex", "setnx", "setrange", "smove", "srem",
        "unlink", "zadd", "zincrby", "zrem",
    }
)  # fmt: skip


def reply_reserve(name: str, argv: Sequence[bytes], max_value_bytes: int) -> int:
    """The reply bytes `argv` (command `name`, lower case) may need, framing included."""
    if name in SMALL_REPLY_WRITES and not (
        name == "set" and any(arg.lower() == b"get" for arg in argv[3:])
    ):
        return SMALL_REPLY_BYTES
    return min(max_value_bytes, TYPICAL_VALUE_BYTES) + SMALL_REPLY_BYTES
