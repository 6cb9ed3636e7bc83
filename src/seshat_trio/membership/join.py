"""A new node joins: it asks a member to add it, then reports its catch-up until it votes.

`join_cluster` sends `SESHAT.MEMBER JOIN <id> <internal address>` to `cluster.join` (any
member's client address; AUTH first when this node's configuration has a requirepass) and
returns the members and the data groups placed on this node, as the cluster replied: the
transport then knows whom to accept and dial, and the node which groups to run, before
the system group's state arrives. A join is idempotent: a node restarted
before it caught up may join again with the same id and address.

`report_join_progress` then polls `SESHAT.MEMBER LIST` on the member it joined through and
logs, per group, this node's role and how far behind it is (entries and bytes, as the
group's leader sees them) until it votes in every group it was placed in.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import trio

from seshat_trio.client import RedisReplyError, RespClient
from seshat_trio.config import Address, Config
from seshat_trio.logs import get_logger
from seshat_trio.storage import SYSTEM_GROUP

log = get_logger(__name__)

JOIN_ATTEMPTS = 30
RETRY_SECONDS = 1.0
PROGRESS_SECONDS = 2.0


class JoinError(Exception):
    """The cluster refused to add this node (the message says why), or never answered."""


async def call_member(via: Address, password: str, *args: str | int) -> object:
    """Run one SESHAT.MEMBER command on the member at `via` (its client address), after
    AUTH when `password` is not empty. Error replies come back as RedisReplyError values."""
    async with await RespClient.connect(via.host, via.port) as client:
        if password:
            reply = await client.call("AUTH", password)
            if isinstance(reply, RedisReplyError):
                raise JoinError(f"{via} refused the password: {reply}")
        return await client.call("SESHAT.MEMBER", *args)


@attrs.frozen(slots=True)
class Joined:
    members: dict[int, Address]  # this node included
    groups: tuple[int, ...]  # the data groups placed on this node
    every_group: tuple[int, ...]  # every data group (placement may move any of them here)


async def join_cluster(config: Config, via: Address) -> Joined:
    """Have the cluster add this node."""
    node = config.node
    last = "no answer"
    for attempt in range(1, JOIN_ATTEMPTS + 1):
        try:
            reply = await call_member(
                via, config.auth.requirepass, "JOIN", node.id, str(node.internal_addr)
            )
        except (OSError, trio.BrokenResourceError) as exc:
            last = f"cannot reach {via}: {exc}"
        else:
            if isinstance(reply, list):
                members = {int(item[0]): Address.parse(item[1].decode()) for item in reply[0]}
                groups = tuple(int(group) for group in reply[1])
                every = tuple(int(group) for group in reply[2]) if len(reply) > 2 else groups
                log.info("joined", via=str(via), members=sorted(members), groups=groups)
                return Joined(members, groups, every)
            last = str(reply)
            if not last.startswith(("TRYAGAIN", "TIMEOUT", "NOLEADER")):
                raise JoinError(f"{via} refused to add node {node.id}: {last}")
        log.info("join_retry", via=str(via), attempt=attempt, reason=last)
        await trio.sleep(RETRY_SECONDS)
    raise JoinError(f"could not join through {via} after {JOIN_ATTEMPTS} attempts: {last}")


@attrs.frozen(slots=True)
class GroupProgress:
    group: int
    role: str  # voter, learner, or "" when not a member yet
    fields: dict[str, str]


def my_progress(listing: str, node_id: int) -> dict[int, GroupProgress]:
    """This node's line per group in a SESHAT.MEMBER LIST text (from the group's leader)."""
    found: dict[int, GroupProgress] = {}
    for line in listing.splitlines():
        words = line.split()
        if len(words) > 4 and words[0] == "group" and words[2] == "member":
            if int(words[3]) != node_id:
                continue
            fields = dict(word.split("=", 1) for word in words[4:] if "=" in word)
            found[int(words[1])] = GroupProgress(int(words[1]), fields.get("role", ""), fields)
    return found


def groups_and_leaders(listing: str) -> dict[int, int]:
    """group -> its leader's node id (0: none known), from a SESHAT.MEMBER LIST text."""
    leaders = {}
    for line in listing.splitlines():
        words = line.split()
        if len(words) > 2 and words[0] == "group" and words[2].startswith("leader="):
            leaders[int(words[1])] = int(words[2].removeprefix("leader="))
    return leaders


def client_addresses(listing: str) -> dict[int, str]:
    """member -> its client address, from a SESHAT.MEMBER LIST text."""
    found = {}
    for line in listing.splitlines():
        words = line.split()
        if len(words) > 3 and words[0] == "member":
            fields = dict(word.split("=", 1) for word in words[2:] if "=" in word)
            found[int(words[1])] = fields.get("client", "-")
    return found


async def cluster_listing(via: Address, password: str) -> str:
    """SESHAT.MEMBER LIST from `via`, completed with each group's progress lines from its
    leader (only a leader knows them): the text `seshat-trio member list` prints."""
    first = await call_member(via, password, "LIST")
    if isinstance(first, RedisReplyError):
        raise JoinError(f"{via}: {first}")
    text = _text(first)
    lines = text.splitlines() + await _other_groups(text, via, password)
    text = "\n".join(lines)
    addresses = client_addresses(text)
    have = {
        int(line.split()[1]) for line in lines if line.startswith("group ") and " member " in line
    }
    for group, leader in sorted(groups_and_leaders(text).items()):
        address = addresses.get(leader, "-")
        if group in have or leader == 0 or address == "-":
            continue
        try:
            reply = await call_member(Address.parse(address), password, "LIST")
        except (OSError, trio.BrokenResourceError, JoinError):
            continue
        if isinstance(reply, RedisReplyError):
            continue
        prefix = f"group {group} member "
        lines += [line for line in _text(reply).splitlines() if line.startswith(prefix)]
    return "\n".join(lines) + "\n"


async def _other_groups(text: str, via: Address, password: str) -> list[str]:
    """The group lines of the groups `via` is not a member of (with a replication factor
    below the member count a node lists only its own), from the other members."""
    extra: list[str] = []
    for address in sorted(set(client_addresses(text).values()) - {"-", str(via)}):
        try:
            reply = await call_member(Address.parse(address), password, "LIST")
        except (OSError, ValueError, trio.BrokenResourceError, JoinError):
            continue
        if not isinstance(reply, RedisReplyError):
            extra += missing_group_lines("\n".join([text, *extra]), _text(reply))
    return extra


def missing_group_lines(listing: str, other: str) -> list[str]:
    """The `group G leader=...` lines of `other` for the groups `listing` lacks."""
    known = groups_and_leaders(listing)
    return [
        line
        for line in other.splitlines()
        if (words := line.split())[:1] == ["group"]
        and len(words) > 2
        and words[2].startswith("leader=")
        and int(words[1]) not in known
    ]


def groups_with_progress(lines: list[str]) -> list[int]:
    return [
        int(line.split()[1]) for line in lines if line.startswith("group ") and " member " in line
    ]


def _text(reply: object) -> str:
    return reply.decode() if isinstance(reply, bytes) else str(reply)


async def report_join_progress(config: Config, via: Address, placed: Sequence[int]) -> None:
    """Log this node's catch-up per group until it votes in all of its groups (`placed`:
    those placement put it in when it joined)."""
    node_id = config.node.id
    while True:
        await trio.sleep(PROGRESS_SECONDS)
        try:
            listing = await cluster_listing(via, config.auth.requirepass)
        except (OSError, trio.BrokenResourceError, JoinError) as exc:
            log.info("join_progress_unknown", via=str(via), reason=str(exc))
            continue
        mine = my_progress(listing, node_id)
        for progress in mine.values():
            log.info(
                "join_progress",
                group=progress.group,
                role=progress.role,
                entries_behind=progress.fields.get("lag", "?"),
                bytes_behind=progress.fields.get("bytes_behind", "?"),
                state=progress.fields.get("state", "?"),
            )
        groups = (SYSTEM_GROUP, *placed)
        if all(g in mine and mine[g].role == "voter" for g in groups):
            log.info("join_complete", groups=sorted(groups))
            return
