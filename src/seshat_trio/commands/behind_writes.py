"""Reads behind writes: what a read that follows writes of the same client read does instead
of waiting for them and then for a read round of its own (docs/raft.md, "Reads behind
writes").

- A data read of a few keys (flagged `readonly fast`, with key arguments) is proposed on the
  leader as a read-only operation right behind the writes, and answered from the state at
  its log position when it applies. That position orders it after this client's earlier
  writes and before its later ones, and every write acknowledged to anyone before the read
  arrived is below it: the read is linearizable and in program order with no round of its
  own, and it shares the writes' entry, fsync and replication round.
- A command whose reply depends on no data (PING, ECHO) is answered at once, in its place.
- On a follower both join the forwarded run of writes; the leader then does the above.

Anything else (a scan, DBSIZE, INFO, ...) still waits for the writes before it and takes a
read barrier: replaying it on every node as part of the log would cost more than the round.
"""

from __future__ import annotations

from seshat_trio.commands.context import CommandContext
from seshat_trio.commands.data import operation, run_read
from seshat_trio.commands.table import CommandSpec
from seshat_trio.kv.operations import Operation
from seshat_trio.kv.registry import READS
from seshat_trio.protocol import ErrorReply

#: Commands whose reply depends on nothing a write can change.
ORDER_FREE = frozenset({"ping", "echo"})
#: What a read proposed behind writes answers when its entry did not commit (or may not
#: have): the read had no effect, so a retry is always safe.
NOT_CONFIRMED = ErrorReply(
    "TRYAGAIN leadership changed before the read behind writes was answered; retry"
)


def rides_in_log(spec: CommandSpec) -> bool:
    """A data read cheap enough to evaluate where the log places it (on every node)."""
    return (
        spec.run is run_read
        and spec.first_key > 0
        and "readonly" in spec.flags
        and "fast" in spec.flags
    )


def joins_forwarded_run(spec: CommandSpec) -> bool:
    return spec.name in ORDER_FREE or rides_in_log(spec)


def read_operation(ctx: CommandContext, argv: list[bytes]) -> Operation | ErrorReply:
    """The read-only operation for `argv` (a `rides_in_log` command), or its syntax error:
    nothing invalid reaches the log."""
    name, args = argv[0].lower(), tuple(argv[1:])
    error = READS[name].check(args)
    if error is not None:
        return error
    return operation(ctx, ((name, *args),))
