"""`seshat-trio member ...`: list, remove and configure a running cluster's members.

Every subcommand talks RESP to one member's client address (`--via HOST:PORT`) and sends
`SESHAT.MEMBER` (docs/commands.md); `list` also asks each group's leader for its members'
replication progress, which only a leader knows. Exit status: 0 on success, 1 when the
cluster refused (the reason is printed), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from seshat_trio.config import Address

PASSWORD_ENV = "SESHAT_PASSWORD"


def add_member_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    member = commands.add_parser(
        "member",
        help="list, remove and configure the members of a running cluster",
        description="Membership administration through any member's client address. "
        "Nodes join with `seshat-trio serve --join HOST:PORT` (docs/operations.md).",
    )
    actions = member.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        parser = actions.add_parser(name, help=help_text, description=help_text)
        parser.add_argument(
            "--via", required=True, metavar="HOST:PORT", help="client address of any member"
        )
        parser.add_argument(
            "--password",
            default=os.environ.get(PASSWORD_ENV, ""),
            help=f"the default user's password, if the cluster has one (env {PASSWORD_ENV})",
        )
        return parser

    action("list", "members, retired ids, groups and each member's replication progress")
    remove = action("remove", "remove a node from the cluster and every group, live or dead")
    remove.add_argument("node_id", type=int, metavar="ID")
    remove.add_argument(
        "--force",
        action="store_true",
        help="remove it even if some group is left without a live majority of voters "
        "(disaster recovery only: that group stops until its voters come back)",
    )
    address = action("address", "record a member's new internal (Raft) address")
    address.add_argument("node_id", type=int, metavar="ID")
    address.add_argument("address", metavar="HOST:PORT")
    factor = action("factor", "show or set the replication factor of the data groups")
    factor.add_argument("factor", type=int, nargs="?", metavar="N")


def run_member(args: argparse.Namespace) -> int:
    # Imported here so that `seshat-trio --help` does not load the network stack.
    import trio  # noqa: PLC0415

    from seshat_trio.client import RedisReplyError  # noqa: PLC0415
    from seshat_trio.config import Address  # noqa: PLC0415
    from seshat_trio.membership.join import JoinError  # noqa: PLC0415

    try:
        via = Address.parse(args.via)
    except ValueError as exc:
        print(f"seshat-trio member: --via {args.via}: {exc}", file=sys.stderr)
        return 2
    try:
        text = trio.run(_run, via, args)
    except (OSError, trio.BrokenResourceError) as exc:
        print(f"seshat-trio member: cannot reach {via}: {exc}", file=sys.stderr)
        return 1
    except (JoinError, RedisReplyError) as exc:
        print(f"seshat-trio member: {exc}", file=sys.stderr)
        return 1
    print(text, end="" if text.endswith("\n") else "\n")
    return 0


async def _run(via: Address, args: argparse.Namespace) -> str:
    from seshat_trio.client import RedisReplyError  # noqa: PLC0415
    from seshat_trio.membership.join import call_member, cluster_listing  # noqa: PLC0415

    if args.action == "list":
        return await cluster_listing(via, args.password)
    if args.action == "remove":
        command: list[str | int] = ["REMOVE", args.node_id] + (["FORCE"] if args.force else [])
    elif args.action == "address":
        command = ["ADDRESS", args.node_id, args.address]
    else:
        command = ["FACTOR"] + ([] if args.factor is None else [args.factor])
    reply = await call_member(via, args.password, *command)
    if isinstance(reply, RedisReplyError):
        raise reply
    if args.action == "remove":
        return (
            f"node {args.node_id} removed from the cluster; group leaders now take it out of "
            "every group (watch `seshat-trio member list`)"
            if reply == 1
            else f"node {args.node_id} was already removed"
        )
    return str(reply)
