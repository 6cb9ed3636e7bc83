"""Run the commands of one client read, in order, batching pipelined writes.

A pipeline of writes is submitted to the backend back to back, so they share one
replication round, and their replies are awaited afterwards. Anything that reads (or
otherwise depends on earlier commands) first waits for the writes before it, which keeps
per-connection ordering exactly as if each command ran alone.
"""

from __future__ import annotations

from collections.abc import Awaitable

from seshat_trio.commands import connection, introspection, keys  # noqa: F401  (registration)
from seshat_trio.commands.context import CommandContext
from seshat_trio.commands.table import CommandSpec, lookup, unknown_command, wrong_arity
from seshat_trio.errors import ServiceError
from seshat_trio.protocol import ErrorReply, Reply

Pending = list[tuple[int, Awaitable[tuple[Reply, ...]]]]


def _limit_error(ctx: CommandContext, spec: CommandSpec, argv: list[bytes]) -> ErrorReply | None:
    limits = ctx.config.limits
    if spec.first_key > 0:
        last = len(argv) - 1 if spec.last_key < 0 else spec.last_key
        for pos in range(spec.first_key, last + 1, spec.step):
            if len(argv[pos]) > limits.max_key_bytes:
                return ErrorReply(f"ERR key too large (max {limits.max_key_bytes} bytes)")
    if spec.is_write:
        # Values are every non-key argument of a write; options are short, so this also
        # bounds them without per-command knowledge.
        for arg in argv[1:]:
            if len(arg) > limits.max_value_bytes:
                return ErrorReply(f"ERR value too large (max {limits.max_value_bytes} bytes)")
    return None


async def _settle(replies: list[Reply], pending: Pending) -> None:
    """Fill in the replies of submitted writes, in submission order."""
    for index, result in pending:
        try:
            outcome = await result
        except ServiceError as exc:
            replies[index] = ErrorReply(exc.message)
        else:
            replies[index] = outcome[0] if len(outcome) == 1 else list(outcome)
    pending.clear()


async def execute(ctx: CommandContext, commands: list[list[bytes]]) -> list[Reply]:
    """Execute `commands` (one client read) and return one reply per command run.

    Stops after a command that closes the connection (QUIT).
    """
    replies: list[Reply] = []
    pending: Pending = []
    for argv in commands:
        spec = lookup(argv[0])
        if spec is None:
            replies.append(unknown_command(argv))
            continue
        if not spec.arity_ok(len(argv)):
            replies.append(wrong_arity(spec.name))
            continue
        error = _limit_error(ctx, spec, argv)
        if error is not None:
            replies.append(error)
        elif spec.build is not None:
            built = spec.build(ctx, argv)
            if not isinstance(built, ErrorReply):
                pending.append((len(replies), ctx.backend.submit(built)))
            replies.append(built if isinstance(built, ErrorReply) else None)
        else:
            assert spec.run is not None
            await _settle(replies, pending)
            try:
                replies.append(await spec.run(ctx, argv))
            except ServiceError as exc:
                replies.append(ErrorReply(exc.message))
            if ctx.client.closing:
                break
    await _settle(replies, pending)
    return replies
