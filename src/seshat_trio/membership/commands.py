"""SESHAT.MEMBER: the membership admin command (what `seshat-trio member` and joins send).

    SESHAT.MEMBER JOIN <id> <raft-host:port>   add a node (its --join does this); replies
                                               [[[id, raft-address], ...], [group, ...]]:
                                               the members, the data groups placed on it
    SESHAT.MEMBER REMOVE <id> [FORCE]          remove a node from the cluster and every group
    SESHAT.MEMBER LIST                         members, retired ids, groups, progress (text)
    SESHAT.MEMBER ADDRESS <id> <raft-host:port>  a member's new internal address
    SESHAT.MEMBER FACTOR [<n>]                 the replication factor (get, or set)

Changes go through the system group (`Backend.change_system`): proposed on this node when it
leads group 0, else run by its leader. REMOVE refuses, with the reason, a removal that would
leave some group without a live majority of voters (this node's view of liveness) unless
FORCE is given: that is for disaster recovery (docs/operations.md).
"""

from __future__ import annotations

from seshat_trio.commands.context import CommandContext
from seshat_trio.commands.table import CommandSpec, register, subcommand
from seshat_trio.config import Address
from seshat_trio.membership.admin import MembershipAdmin
from seshat_trio.membership.state import (
    encode_member_add,
    encode_member_address,
    encode_member_remove,
    encode_replication_factor,
    replication_factor_of,
)
from seshat_trio.protocol import ErrorReply, Reply, Verbatim
from seshat_trio.system.layout import layout_of

NAME = "seshat.member"
UNAVAILABLE = ErrorReply("ERR membership administration is not available on this node")
HELP = [
    "SESHAT.MEMBER <subcommand> [<arg> ...]. Subcommands are:",
    "JOIN <id> <raft-host:port>",
    "    Add a node to the cluster; it enters its groups as a learner, then votes.",
    "REMOVE <id> [FORCE]",
    "    Remove a node from the cluster and every group, live or dead. FORCE skips the",
    "    live-majority check (disaster recovery).",
    "LIST",
    "    Members, retired ids, groups and each member's replication progress.",
    "ADDRESS <id> <raft-host:port>",
    "    Record a member's new internal address.",
    "FACTOR [<n>]",
    "    Get or set the replication factor (how many nodes replicate each data group).",
    "HELP",
    "    Print this help.",
]


def _node_id(raw: bytes) -> int | None:
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if value > 0 else None


def _bad_id(raw: bytes) -> ErrorReply:
    return ErrorReply(f"ERR invalid node id '{raw.decode(errors='replace')}': an integer > 0")


def _address(raw: bytes) -> Address | ErrorReply:
    try:
        return Address.parse(raw.decode(errors="replace"))
    except ValueError as exc:
        return ErrorReply(f"ERR invalid address '{raw.decode(errors='replace')}': {exc}")


async def member(ctx: CommandContext, argv: list[bytes]) -> Reply:
    sub = argv[1].lower()
    admin = ctx.backend.membership
    if sub == b"help":
        return list(HELP)
    if admin is None:
        return UNAVAILABLE
    if sub == b"list":
        # This node's view, without a read barrier: it must answer when groups cannot.
        return Verbatim("txt", admin.describe())
    if sub == b"join":
        return await _join(ctx, admin, argv)
    if sub == b"remove":
        return await _remove(ctx, admin, argv)
    if sub == b"address":
        node_id, address = _node_id(argv[2]), _address(argv[3])
        if node_id is None:
            return _bad_id(argv[2])
        if isinstance(address, ErrorReply):
            return address
        return await _change(ctx, encode_member_address(node_id, address), argv)
    if sub == b"factor":
        if len(argv) == 2:
            await ctx.backend.system_read_barrier()
            return replication_factor_of(admin.state())
        try:
            factor = int(argv[2])
        except ValueError:
            return ErrorReply("ERR the replication factor must be an integer")
        return await _change(ctx, encode_replication_factor(factor), argv)
    return ErrorReply(
        f"ERR unknown subcommand '{argv[1].decode(errors='replace')}'. Try SESHAT.MEMBER HELP."
    )


async def _change(ctx: CommandContext, op: bytes, argv: list[bytes]) -> Reply:
    return await ctx.backend.change_system(op, argv, forwarded=ctx.client.forwarded)


async def _join(ctx: CommandContext, admin: MembershipAdmin, argv: list[bytes]) -> Reply:
    node_id, address = _node_id(argv[2]), _address(argv[3])
    if node_id is None:
        return _bad_id(argv[2])
    if isinstance(address, ErrorReply):
        return address
    reply = await _change(ctx, encode_member_add(node_id, address), argv)
    if not isinstance(reply, int):
        # An error, or the reply of the leader that ran the join (the members): as it is.
        return reply
    layout = layout_of(admin.state())
    if layout is None:
        return ErrorReply("TRYAGAIN the cluster's layout is not known here yet")
    return [
        [[m.node_id, m.raft_addr] for m in layout.members],
        list(layout.shards.groups_of(node_id)),
        list(layout.shards.group_ids),
    ]


async def _remove(ctx: CommandContext, admin: MembershipAdmin, argv: list[bytes]) -> Reply:
    node_id = _node_id(argv[2])
    if node_id is None:
        return _bad_id(argv[2])
    rest = [a.lower() for a in argv[3:]]
    if rest not in ([], [b"force"]):
        return ErrorReply("ERR syntax error: SESHAT.MEMBER REMOVE <id> [FORCE]")
    force = bool(rest)
    problems = admin.removal_problems(node_id)
    reasons = "; ".join(problem.describe() for problem in problems)
    if any(problem.blocked for problem in problems):
        return ErrorReply(f"ERR cannot remove node {node_id} now: {reasons}")
    await ctx.backend.system_read_barrier()
    if not admin.is_member(node_id):
        if node_id in admin.retired():
            return 0
        return ErrorReply(f"ERR no member with node id {node_id}")
    if problems and not force:
        return ErrorReply(
            f"ERR refusing to remove node {node_id}: {reasons}. Bring voters back first, or "
            "add FORCE to remove it anyway (disaster recovery, see docs/operations.md)"
        )
    return await _change(ctx, encode_member_remove(node_id, force=force), argv)


_ADMIN = "admin noscript loading stale"
register(
    CommandSpec(
        NAME,
        -2,
        frozenset({"admin", "noscript", "loading", "stale"}),
        0,
        0,
        0,
        "cluster",
        "Adds, removes and lists the nodes of the cluster (seshat-trio membership).",
        "0.2.0",
        "O(N) where N is the number of members",
        run=member,
        subcommands=(
            subcommand("address", 4, _ADMIN),
            subcommand("factor", -2, _ADMIN),
            subcommand("help", 2, "loading stale"),
            subcommand("join", 4, _ADMIN),
            subcommand("list", 2, _ADMIN),
            subcommand("remove", -3, _ADMIN),
        ),
    ),
)
