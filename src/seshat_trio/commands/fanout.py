"""Commands a node splits over its data groups and merges, so that clients that do not know
about the cluster keep working against any node.

Keyed commands whose keys live in several groups answer CROSSSLOT (commands/routing.py),
except those a proxy may split without changing what they mean to one client:

- `MGET`, `EXISTS`, `TOUCH`, `DEL`, `UNLINK`: each group runs the command on its own keys
  (in their order); MGET's values go back to their keys' positions, the counts are summed.
  Each group's part is atomic; the whole is not (Redis Cluster refuses it instead).

Keyspace-wide commands run in every data group:

- `KEYS` concatenates, `DBSIZE` sums, `RANDOMKEY` tries the groups in a random order,
  `FLUSHALL`/`FLUSHDB` answer OK once every group has flushed;
- `SCAN` walks the groups one after the other. Its cursor is `in_group * G + position`,
  where `position` is the group's place among the node's G data groups and `in_group` the
  cursor within that group (0: the group's first key), so it stays one unsigned integer
  and 0 still means "start" and "done".

In `redirect = moved` mode nothing is split (CROSSSLOT, as Redis Cluster) and the
keyspace-wide commands cover only the groups this node leads (commands/redirect.py).

The first error of any part is the command's reply (a part that failed is not retried).
This module is sans-IO: the dispatcher runs the parts and hands their replies here.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import hiredis

from seshat_trio.commands.context import GroupBackend
from seshat_trio.protocol import ErrorReply, RawReplies, Reply, SimpleString

SPLIT = frozenset({"mget", "exists", "touch", "del", "unlink"})
EVERY_GROUP = frozenset({"keys", "scan", "dbsize", "randomkey", "flushall", "flushdb"})
INVALID_CURSOR = ErrorReply("ERR invalid cursor")
OK = SimpleString("OK")


def split(
    argv: list[bytes], group_of: Callable[[bytes], GroupBackend]
) -> list[tuple[GroupBackend, list[bytes], list[int]]]:
    """`argv` (a command whose arguments after the name are all keys) as one command per
    group: (group, its argv, the positions of its keys among all keys), groups in order of
    first appearance."""
    parts: dict[int, tuple[GroupBackend, list[bytes], list[int]]] = {}
    for position, key in enumerate(argv[1:]):
        group = group_of(key)
        part = parts.get(group.group)
        if part is None:
            part = parts[group.group] = (group, [argv[0]], [])
        part[1].append(key)
        part[2].append(position)
    return list(parts.values())


def values(reply: Reply) -> Reply:
    """A part's reply as plain values: a forwarded part's encoded reply is decoded."""
    if not isinstance(reply, RawReplies):
        return reply
    reader = hiredis.Reader()
    reader.feed(reply.data)
    return _plain(reader.gets())


def _plain(value: object) -> Reply:
    if isinstance(value, hiredis.ReplyError):
        return ErrorReply(str(value))
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value  # type: ignore[return-value]


def first_error(replies: Sequence[Reply]) -> ErrorReply | None:
    return next((r for r in replies if isinstance(r, ErrorReply)), None)


def merge_split(name: str, replies: Sequence[Reply], positions: Sequence[list[int]]) -> Reply:
    """The reply of a split command from its parts' replies (see the module rules)."""
    error = first_error(replies)
    if error is not None:
        return error
    if name == "mget":
        merged: list[Reply] = [None] * sum(len(p) for p in positions)
        for reply, places in zip(replies, positions, strict=True):
            assert isinstance(reply, list) and len(reply) == len(places)
            for place, value in zip(places, reply, strict=True):
                merged[place] = value
        return merged
    return _total(replies)


def _total(replies: Sequence[Reply]) -> int:
    total = 0
    for reply in replies:
        assert isinstance(reply, int)
        total += reply
    return total


def merge_every(name: str, replies: Sequence[Reply]) -> Reply:
    """KEYS, DBSIZE and FLUSHALL/FLUSHDB from every group's reply (RANDOMKEY and SCAN run
    their groups one by one: `random_order`, `scan_cursor`)."""
    error = first_error(replies)
    if error is not None:
        return error
    if name == "keys":
        keys: list[Reply] = []
        for reply in replies:
            assert isinstance(reply, list)
            keys.extend(reply)
        return keys
    if name == "dbsize":
        return _total(replies)
    return OK


def over_no_group(name: str) -> Reply:
    """A keyspace-wide command's reply over no group (a node that leads none, in
    `redirect = moved` mode, answers for the slots it is the primary of: none)."""
    if name == "scan":
        return [b"0", []]
    if name == "randomkey":
        return None
    return merge_every(name, [])


def random_order(count: int) -> list[int]:
    order = list(range(count))
    random.shuffle(order)
    return order


def parse_scan_cursor(arg: bytes, groups: int) -> tuple[int, bytes] | None:
    """(group position, the cursor to send that group) for a client's SCAN cursor."""
    if not arg.isdigit():
        return None
    position, in_group = int(arg) % groups, int(arg) // groups
    return position, b"%d" % in_group


def scan_cursor(position: int, reply_cursor: bytes, groups: int) -> bytes:
    """The client's next cursor after group `position` answered `reply_cursor`."""
    in_group = int(reply_cursor)
    if in_group == 0:
        position += 1
        return b"0" if position == groups else b"%d" % position
    return b"%d" % (in_group * groups + position)
