"""`cluster.redirect = moved`: answer as a Redis Cluster node instead of forwarding.

In the default `forward` mode a node serves every key: it forwards to the group's leader
when the leader is elsewhere. In `moved` mode a client's command is judged as Redis Cluster
judges it (cluster.c getNodeByQuery), with each group's leader as its slots' primary:

- keys of one command (or of one transaction) must share a SLOT, not only a group:
  CROSSSLOT otherwise (commands/routing.py), and nothing is split over groups;
- a keyed command whose group is led by another node answers `-MOVED <slot> <host:port>`
  (the slot of its first key, the leader's client address); a connection that sent
  READONLY reads such keys from the local replica instead (still linearizable), and
  SSUBSCRIBE / SUNSUBSCRIBE / SPUBLISH run on any replica of the slot's group, as Redis
  serves sharded pub/sub on a replica of the slot's primary;
- inside MULTI a command that would be redirected (or spans slots) answers so and flags
  the transaction, whose EXEC then answers EXECABORT, as Redis does; EXEC itself checks
  the transaction's keys again;
- keyspace-wide commands (KEYS, SCAN, DBSIZE, ...) cover the groups this node leads: the
  slots it is the primary of, as on a Redis Cluster primary.

A request another node forwarded is never redirected (its sender already decided), and
a leader whose client address is not known yet is forwarded to rather than named.
"""

from __future__ import annotations

from collections.abc import Sequence

from seshat_trio.commands.context import CommandContext, GroupBackend
from seshat_trio.commands.table import CommandSpec
from seshat_trio.config import Redirect
from seshat_trio.errors import ServiceError
from seshat_trio.protocol import ErrorReply
from seshat_trio.slots import key_slot


def moved_mode(ctx: CommandContext) -> bool:
    """Whether this client's commands are judged as Redis Cluster judges them."""
    return ctx.config.cluster.redirect is Redirect.MOVED and not ctx.client.forwarded


async def redirection(
    ctx: CommandContext, spec: CommandSpec | None, keys: Sequence[bytes], group: GroupBackend
) -> ErrorReply | None:
    """`-MOVED` when `group` (which `keys` route to) is led by another node; None when
    this node serves the command. `spec` None: a transaction (EXEC)."""
    if not keys:
        return None
    if spec is not None and (
        "pubsub" in spec.flags or (ctx.client.readonly and "readonly" in spec.flags)
    ):
        return None  # sharded pub/sub is served by any replica of the slot, as in Redis
    if not group.leader_is_remote():
        try:
            if await group.leader_is_local():  # waits while an election runs
                return None
        except ServiceError as exc:
            return ErrorReply(exc.message)
    address = group.leader_address(ctx.client.tls)
    if address is None:
        return None
    return ErrorReply(f"MOVED {key_slot(keys[0])} {address}")
