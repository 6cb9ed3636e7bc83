"""The generic handlers of the data commands: one implementation each, in seshat_trio.kv.

A write becomes an operation stamped with the leader's clock and value limit; it is applied
by the state machine on every node. A read runs the same kv code on applied state after the
read barrier, with expiry judged only where that is allowed (see kv/view.py): on the
leader, with the leader's clock, which also proposes the deletion of any key it found
expired (without waiting); elsewhere, a read that meets a key with an expiry is forwarded
to the leader as it is.
"""

from __future__ import annotations

from seshat_trio.commands.context import CommandContext
from seshat_trio.kv.operations import Operation
from seshat_trio.kv.registry import READS, WRITES
from seshat_trio.kv.view import MustAskLeader, ReadView
from seshat_trio.protocol import ErrorReply, RawReplies, Reply

MOVED_DURING_READ = ErrorReply(
    "TRYAGAIN leadership moved while the request was forwarded; it was not applied"
)
NO_GROUP = ErrorReply("ERR the command addresses no single data group on this node")
PURGE = b"purge"
# Keys one lazily proposed deletion carries at most (a KEYS over many expired keys must not
# become one huge log entry); active expiry deletes the rest.
MAX_LAZY_PURGE = 1000


def operation(ctx: CommandContext, commands: tuple[tuple[bytes, ...], ...]) -> Operation:
    """An operation stamped with this node's clock and value limit (the leader's, once
    proposed: an operation built on a follower is never proposed, it is forwarded)."""
    return Operation(ctx.backend.now_ms(), commands, ctx.config.limits.max_value_bytes)


def build_write(ctx: CommandContext, argv: list[bytes]) -> Operation | ErrorReply:
    name, args = argv[0].lower(), tuple(argv[1:])
    error = WRITES[name].check(args)
    if error is not None:
        return error
    return operation(ctx, ((name, *args),))


async def run_read(ctx: CommandContext, argv: list[bytes]) -> Reply:
    name, args = argv[0].lower(), tuple(argv[1:])
    command = READS[name]
    error = command.check(args)
    if error is not None:
        return error
    group = ctx.group
    if group is None:
        return NO_GROUP
    await ctx.read_barrier()
    view = ReadView(group, ctx.backend.now_ms(), may_judge_expiry=group.is_leader())
    try:
        reply = command.execute(view, args)
    except MustAskLeader:
        if ctx.client.forwarded:
            return MOVED_DURING_READ
        return RawReplies(await group.forward([argv], ctx.client.protocol, alone=True), 1)
    if view.expired:
        keys = list(dict.fromkeys(view.expired))[:MAX_LAZY_PURGE]
        group.propose_nowait(operation(ctx, ((PURGE, *keys),)))
    return reply
