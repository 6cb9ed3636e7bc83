"""GET, SET, DEL, EXISTS: the commands of the phase-1 keyspace."""

from __future__ import annotations

from seshat_trio.commands.context import CommandContext
from seshat_trio.commands.table import CommandSpec, register
from seshat_trio.kv.operations import Operation
from seshat_trio.protocol import ErrorReply, Reply

SYNTAX_ERROR = ErrorReply("ERR syntax error")


async def get(ctx: CommandContext, argv: list[bytes]) -> Reply:
    await ctx.backend.read_barrier()
    value = ctx.backend.get(argv[1])
    return None if value is None else value.data


async def exists(ctx: CommandContext, argv: list[bytes]) -> Reply:
    await ctx.backend.read_barrier()
    return sum(1 for key in argv[1:] if ctx.backend.get(key) is not None)


def build_set(ctx: CommandContext, argv: list[bytes]) -> Operation | ErrorReply:
    if len(argv) != 3:
        return SYNTAX_ERROR
    return Operation(ctx.backend.now_ms(), ((b"set", argv[1], argv[2]),))


def build_del(ctx: CommandContext, argv: list[bytes]) -> Operation | ErrorReply:
    return Operation(ctx.backend.now_ms(), ((b"del", *argv[1:]),))


register(
    CommandSpec(
        "get",
        2,
        frozenset({"readonly", "fast"}),
        1,
        1,
        1,
        "string",
        "Returns the string value of a key.",
        "1.0.0",
        "O(1)",
        run=get,
    ),
    CommandSpec(
        "set",
        -3,
        frozenset({"write", "denyoom"}),
        1,
        1,
        1,
        "string",
        "Sets the string value of a key.",
        "1.0.0",
        "O(1)",
        build=build_set,
    ),
    CommandSpec(
        "del",
        -2,
        frozenset({"write"}),
        1,
        -1,
        1,
        "keyspace",
        "Deletes one or more keys.",
        "1.0.0",
        "O(N) where N is the number of keys",
        build=build_del,
    ),
    CommandSpec(
        "exists",
        -2,
        frozenset({"readonly", "fast"}),
        1,
        -1,
        1,
        "keyspace",
        "Determines whether one or more keys exist.",
        "3.0.3",
        "O(N) where N is the number of keys",
        run=exists,
    ),
)
