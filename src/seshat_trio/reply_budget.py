"""How much reply a forwarded write may bring back, so forwarded requests stay small.

A follower forwards runs of writes (and the reads behind them) to the leader as one
request, and the leader's replies travel back in one frame (16 MiB at most). Most writes
answer a status or a number; reads and some writes answer a stored value (GET, GETSET,
GETDEL, SET ... GET, pops, EXEC of reads), which may be as large as limits.max_value_bytes.
Each command therefore reserves a share of FORWARD_REPLY_BUDGET: SMALL_REPLY_BYTES for the
writes listed below, max_value_bytes plus its framing for any other command (so a command
not listed only costs batching, never a reply too large to return). Runs and merged
requests stop growing before their reserves pass the budget; a single command always
goes. The budget, half a frame, holds two of the largest values with everything else.
"""

from __future__ import annotations

from collections.abc import Sequence

FORWARD_REPLY_BUDGET = 8 << 20
SMALL_REPLY_BYTES = 64

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
    return max_value_bytes + SMALL_REPLY_BYTES
