"""Which data group a command addresses: its keys' slots, through the node's shard map.

- A command with keys (the table's key positions) addresses the group serving their slots;
  keys served by different groups cannot run as one atomic command: CROSSSLOT, as Redis
  Cluster answers (a group holds many slots, so keys of different slots in one group are
  accepted), except in `redirect = moved` mode, where keys must share a slot exactly as
  in Redis Cluster (commands/redirect.py).
- A command without keys addresses the group a forwarded request was routed to, or the
  cluster's data group when it has one only and this node replicates it; otherwise none
  here (keyspace-wide commands then run in every group, commands/fanout.py).
- A forwarded request's keyed commands must still map to the group it was routed to.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from seshat_trio.commands.context import CommandContext, GroupBackend
from seshat_trio.commands.redirect import moved_mode
from seshat_trio.commands.table import CommandSpec, lookup
from seshat_trio.errors import ServiceError
from seshat_trio.protocol import ErrorReply
from seshat_trio.slots import key_slot

CROSSSLOT = ErrorReply("CROSSSLOT Keys in request don't hash to the same slot")
REROUTED = ErrorReply(
    "TRYAGAIN the keys' data group changed while the request was forwarded; it was not applied"
)


class MapUnknown:
    """The shard map is not known yet: wait for it (`Backend.wait_for_map`) and route again."""


MAP_UNKNOWN = MapUnknown()
Routed = GroupBackend | ErrorReply | MapUnknown | None


def command_keys(spec: CommandSpec, argv: list[bytes]) -> Sequence[bytes]:
    """The key arguments of `argv` by the table's key positions, or by its keys procedure
    where they move with the arguments (`movablekeys`, or no first key in the table): a
    procedure that only tells how a key is used (SET ... GET) is not asked on every SET."""
    if spec.keys_proc is not None and (spec.first_key <= 0 or "movablekeys" in spec.flags):
        return [argv[pos] for pos, _ in spec.keys_proc(argv)]
    if spec.first_key <= 0:
        return ()
    last = len(argv) + spec.last_key if spec.last_key < 0 else spec.last_key
    return argv[spec.first_key : last + 1 : spec.step]


def route_keys(ctx: CommandContext, keys: Iterable[bytes]) -> Routed:
    """The group all of `keys` live in (see the module rules); None when there are none."""
    backend = ctx.backend
    found: GroupBackend | None = None
    same_slot = moved_mode(ctx)
    first_slot = -1
    try:
        for key in keys:
            slot = key_slot(key)
            group = backend.group_for_slot(slot)
            if group is None:
                return MAP_UNKNOWN
            if found is None:
                found, first_slot = group, slot
            elif group is not found or (same_slot and slot != first_slot):
                return CROSSSLOT
    except ServiceError as exc:
        return ErrorReply(exc.message)
    if found is None:
        return _keyless(ctx)
    if ctx.routed_group is not None and found.group != ctx.routed_group:
        return REROUTED
    return found


def transaction_keys(queued: Iterable[list[bytes]], watched: Iterable[bytes]) -> list[bytes]:
    """The keys of a transaction: those of its queued commands and the watched ones."""
    keys = list(watched)
    for argv in queued:
        spec = lookup(argv[0])
        if spec is not None:
            keys.extend(command_keys(spec, argv))
    return keys


def _keyless(ctx: CommandContext) -> GroupBackend | None:
    if ctx.routed_group is not None:
        return ctx.backend.local_group(ctx.routed_group)
    groups = ctx.backend.data_groups()
    return groups[0] if len(groups) == 1 and groups[0].hosted else None
