"""MULTI, EXEC, DISCARD, WATCH, UNWATCH.

MULTI queues commands in the client state; errors found while queueing (unknown command,
arity, size limits, a command that cannot run inside a transaction) are answered at once
and make EXEC fail with EXECABORT, as in Redis. EXEC builds ONE operation holding every
queued command (reads included) and the WATCH conditions, so the transaction applies
atomically at one log index (kv/multi.py).

On a follower the whole transaction travels to the leader as one forwarded command,
``EXEC <encoded transaction>``, which the leader accepts only from a forwarded request; it
re-validates the queued commands and stamps the operation with its own clock.
"""

from __future__ import annotations

from seshat_trio.commands.context import CommandContext
from seshat_trio.commands.data import operation
from seshat_trio.commands.table import CommandSpec, lookup, register, unknown_command, wrong_arity
from seshat_trio.kv.multi import EXEC, exec_header, fingerprint
from seshat_trio.kv.operations import (
    MAX_OPERATION_COMMANDS,
    Operation,
    OperationDecodeError,
    decode_operation,
    encode_operation,
)
from seshat_trio.kv.state_machine import is_known
from seshat_trio.protocol import ErrorReply, Reply, SimpleString

OK = SimpleString("OK")
QUEUED = SimpleString("QUEUED")
NOT_IN_MULTI = ErrorReply("ERR Command not allowed inside a transaction")
EXECABORT = ErrorReply("EXECABORT Transaction discarded because of previous errors.")
# Answered outside the queue while in MULTI (everything else is queued).
CONTROL = frozenset({"exec", "discard", "multi", "watch", "quit", "reset"})


def queue_error(spec: CommandSpec | None, argv: list[bytes]) -> ErrorReply | None:
    """Why `argv` cannot be queued, or None. The caller checks size limits."""
    if spec is None:
        return unknown_command(argv)
    if not spec.arity_ok(len(argv)):
        return wrong_arity(spec.name)
    if not is_known(spec.name.encode()):
        return NOT_IN_MULTI
    return None


def queue(ctx: CommandContext, argv: list[bytes], error: ErrorReply | None) -> Reply:
    assert ctx.client.queued is not None
    if error is not None:
        ctx.client.queue_failed = True
        return error
    ctx.client.queued.append(argv)
    return QUEUED


async def multi(ctx: CommandContext, argv: list[bytes]) -> Reply:
    if ctx.client.queued is not None:
        return ErrorReply("ERR MULTI calls can not be nested")
    ctx.client.queued = []
    return OK


async def discard(ctx: CommandContext, argv: list[bytes]) -> Reply:
    if ctx.client.queued is None:
        return ErrorReply("ERR DISCARD without MULTI")
    ctx.client.end_transaction()
    return OK


async def watch(ctx: CommandContext, argv: list[bytes]) -> Reply:
    if ctx.client.queued is not None:
        return ErrorReply("ERR WATCH inside MULTI is not allowed")
    await ctx.read_barrier()
    group = ctx.data_group()  # the keys' group: EXEC runs there (commands/routing.py)
    for key in argv[1:]:
        if key not in ctx.client.watched:  # watching again keeps the first observation
            ctx.client.watched[key] = fingerprint(group.get(key))
    return OK


async def unwatch(ctx: CommandContext, argv: list[bytes]) -> Reply:
    ctx.client.watched.clear()
    return OK


def take_transaction(ctx: CommandContext) -> bytes | ErrorReply:
    """EXEC from the client: the transaction encoded for `build_exec` (and forwarding).

    Ends the transaction either way; returns the error EXEC answers instead, if any."""
    client = ctx.client
    if client.queued is None:
        return ErrorReply("ERR EXEC without MULTI")
    queued, failed, watched = client.queued, client.queue_failed, dict(client.watched)
    client.end_transaction()
    if failed:
        return EXECABORT
    if len(queued) >= MAX_OPERATION_COMMANDS:  # the header takes one place
        return ErrorReply(
            f"EXECABORT Transaction discarded because of: too many commands ({len(queued)}; "
            f"max {MAX_OPERATION_COMMANDS - 1})"
        )
    header = exec_header(watched.items())
    commands = (header, *((argv[0].lower(), *argv[1:]) for argv in queued))
    encoded = encode_operation(Operation(0, commands))
    limit = ctx.config.limits.max_write_bytes
    if len(encoded) > limit:
        return ErrorReply(
            f"EXECABORT Transaction discarded because of: the transaction is too large "
            f"({len(encoded)} bytes; max {limit} bytes)"
        )
    return encoded


def build_exec(ctx: CommandContext, argv: list[bytes]) -> Operation | ErrorReply:
    """The operation for ``EXEC <encoded transaction>``, stamped with this node's clock.

    Dispatch passes a client's EXEC here in that form; a follower forwards it as it is."""
    try:
        commands = decode_operation(argv[1]).commands
    except OperationDecodeError as exc:
        return ErrorReply(f"ERR malformed transaction: {exc}")
    if not commands or commands[0][0] != EXEC:
        return ErrorReply("ERR malformed transaction: no EXEC header")
    for command in commands[1:]:
        spec = lookup(command[0])
        # The follower checked these; a node of another version might not have.
        if spec is None or not is_known(command[0]) or not spec.arity_ok(len(command)):
            return ErrorReply(f"ERR malformed transaction: cannot run {command[0]!r}")
    return operation(ctx, commands)


_TX = frozenset({"noscript", "loading", "stale", "fast", "allow_busy"})
register(
    CommandSpec("multi", 1, _TX, 0, 0, 0, "transactions",
                "Starts a transaction.", "1.2.0", "O(1)", run=multi),
    CommandSpec("exec", 1, frozenset({"noscript", "loading", "stale", "skip_slowlog"}),
                0, 0, 0, "transactions", "Executes all commands in a transaction.", "1.2.0",
                "Depends on commands in the transaction", build=build_exec),
    CommandSpec("discard", 1, _TX, 0, 0, 0, "transactions",
                "Discards a transaction.", "2.0.0",
                "O(N), when N is the number of queued commands", run=discard),
    CommandSpec("watch", -2, _TX, 1, -1, 1, "transactions",
                "Monitors changes to keys to determine the execution of a transaction.",
                "2.2.0", "O(1) for every key.", run=watch),
    CommandSpec("unwatch", 1, _TX, 0, 0, 0, "transactions",
                "Forgets about watched keys of a transaction.", "2.2.0", "O(1)", run=unwatch),
)  # fmt: skip
