"""Server commands: TIME, SAVE, BGSAVE, LASTSAVE, DEBUG SLEEP, FUNCTION FLUSH.

There are no RDB files: every acknowledged write is already in the fsynced Raft log, so a
"save" makes the applied data durable with one synced write and records when it happened.
"""

from __future__ import annotations

import math

import trio

from seshat_trio.commands.context import CommandContext
from seshat_trio.commands.table import CommandSpec, register
from seshat_trio.protocol import ErrorReply, Reply, SimpleString

OK = SimpleString("OK")


async def time_(ctx: CommandContext, argv: list[bytes]) -> Reply:
    seconds, ms = divmod(ctx.backend.now_ms(), 1000)
    return [b"%d" % seconds, b"%d" % (ms * 1000)]


async def save(ctx: CommandContext, argv: list[bytes]) -> Reply:
    ctx.backend.save()
    return OK


async def bgsave(ctx: CommandContext, argv: list[bytes]) -> Reply:
    if len(argv) > 2 or (len(argv) == 2 and argv[1].lower() != b"schedule"):
        return ErrorReply("ERR syntax error")
    # One synced write is quick enough to do before answering; the reply text is Redis's.
    ctx.backend.save()
    return SimpleString("Background saving started")


async def lastsave(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return ctx.backend.last_save()


async def debug(ctx: CommandContext, argv: list[bytes]) -> Reply:
    sub = argv[1].lower()
    if sub == b"sleep" and len(argv) == 3:
        try:
            seconds = float(argv[2])
        except ValueError:
            return ErrorReply("ERR value is not a valid float")
        if not math.isfinite(seconds) or seconds < 0:
            return ErrorReply("ERR value is not a valid float")
        await trio.sleep(seconds)
        return OK
    return ErrorReply(
        f"ERR unknown subcommand '{argv[1].decode(errors='replace')}'. Try DEBUG HELP."
    )


register(
    CommandSpec("time", 1, frozenset({"loading", "stale", "fast"}), 0, 0, 0, "server",
                "Returns the server time.", "2.6.0", "O(1)", run=time_),
    CommandSpec("save", 1, frozenset({"admin", "noscript", "no_async_loading", "no_multi"}),
                0, 0, 0, "server", "Synchronously saves the database(s) to disk.", "1.0.0",
                "O(N) where N is the total number of keys in all databases", run=save),
    CommandSpec("bgsave", -1, frozenset({"admin", "noscript", "no_async_loading"}), 0, 0, 0,
                "server", "Asynchronously saves the database(s) to disk.", "1.0.0",
                "O(N) where N is the total number of keys in all databases", run=bgsave),
    CommandSpec("lastsave", 1, frozenset({"loading", "stale", "fast"}), 0, 0, 0, "server",
                "Returns the Unix timestamp of the last successful save to disk.", "1.0.0",
                "O(1)", run=lastsave, acl_categories=frozenset({"admin", "dangerous"})),
    CommandSpec("debug", -2, frozenset({"admin", "noscript", "loading", "stale"}), 0, 0, 0,
                "server", "A container for debugging commands.", "1.0.0",
                "Depends on subcommand.", run=debug),
)  # fmt: skip
