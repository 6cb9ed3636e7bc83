"""maxmemory with noeviction: over it, commands that may grow the data get Redis's -OOM
before anything is proposed; reads, deletions and transactions without them still run."""

from __future__ import annotations

from tests.commands.test_dispatch import make_ctx, run

from seshat_trio.memory_gauge import USED_MEMORY, resident_bytes
from seshat_trio.protocol import ErrorReply, SimpleString

OOM = ErrorReply("OOM command not allowed when used memory > 'maxmemory'.")


def test_used_memory_is_the_resident_size() -> None:
    assert resident_bytes() > 1 << 20
    assert abs(USED_MEMORY.used_bytes() - resident_bytes()) < 64 << 20


async def test_over_maxmemory_writes_that_grow_data_are_refused() -> None:
    ctx = make_ctx()
    ctx.tunables.maxmemory = 1  # far below any process
    refused = USED_MEMORY.refused
    replies = await run(
        ctx,
        [b"SET", b"a", b"1"],
        [b"APPEND", b"a", b"x"],
        [b"DEL", b"a"],
        [b"EXPIRE", b"a", b"10"],
        [b"GET", b"a"],
        [b"PING"],
    )
    assert replies[:2] == [OOM, OOM]
    assert all(reply != OOM for reply in replies[2:])
    assert replies[-1] == SimpleString("PONG")
    assert USED_MEMORY.refused == refused + 2
    ctx.tunables.maxmemory = 1 << 50  # far above
    assert await run(ctx, [b"SET", b"a", b"1"]) == [SimpleString("OK")]


async def test_a_transaction_with_a_refused_write_is_discarded() -> None:
    ctx = make_ctx()
    ctx.tunables.maxmemory = 1
    replies = await run(
        ctx, [b"MULTI"], [b"DEL", b"x"], [b"SET", b"x", b"1"], [b"EXEC"], [b"GET", b"x"]
    )
    assert replies[2] == OOM
    assert isinstance(replies[3], ErrorReply) and replies[3].text.startswith("EXECABORT")
