"""Sorted-set pops: ZPOPMIN, ZPOPMAX, ZMPOP.

A pop removes members from the low (or high) end of the order index (kv/zsets.py):
O(members popped), whatever the set's size. Replies are Redis 7.0's (t_zset.c
genericZpopCommand): ZPOPMIN without a count a flat [member, score]; with one, member/score
pairs (nested in RESP3); ZMPOP [key, [[member, score], ...]] in both protocols.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import islice

import attrs

from seshat_trio.kv import registry
from seshat_trio.kv.collections import MutableCollection
from seshat_trio.kv.parsing import SYNTAX_ERROR, parse_int
from seshat_trio.kv.registry import ONE, Args
from seshat_trio.kv.view import WritableView
from seshat_trio.kv.zsets import ZSET, Entry, entries, numkeys_keys, removed
from seshat_trio.protocol import NULL_ARRAY, ErrorReply, Pairs, Reply

NOT_POSITIVE = ErrorReply("ERR value is out of range, must be positive")


def pop(view: WritableView, z: MutableCollection, count: int, *, maximum: bool) -> list[Entry]:
    """Remove and return up to `count` members from the low (or high) end."""
    gone = list(islice(entries(z, reverse=maximum), count))
    removed(view, z, gone, b"zpopmax" if maximum else b"zpopmin")
    return gone


def first_nonempty(view: WritableView, keys: tuple[bytes, ...]) -> MutableCollection | None:
    """The first of `keys` holding a sorted set (WrongType if the first existing one is not)."""
    for key in keys:
        z = MutableCollection.existing(view, key, ZSET)
        if z is not None:
            return z
    return None


# -- ZPOPMIN, ZPOPMAX --------------------------------------------------------------------
def parse_zpop(args: Args) -> tuple[bytes, int | None] | ErrorReply:
    if len(args) > 2:
        return SYNTAX_ERROR
    if len(args) == 1:
        return args[0], None
    count = parse_int(args[1])
    return NOT_POSITIVE if count is None or count < 0 else (args[0], count)


def _zpop(maximum: bool) -> Callable[[WritableView, tuple[bytes, int | None]], Reply]:
    def run(view: WritableView, parsed: tuple[bytes, int | None]) -> Reply:
        key, count = parsed
        z = MutableCollection.existing(view, key, ZSET)
        if z is None or count == 0:
            return []
        gone = pop(view, z, 1 if count is None else count, maximum=maximum)
        if count is None:
            return [gone[0][0], gone[0][1]]
        return Pairs(gone)

    return run


# -- ZMPOP -----------------------------------------------------------------------
@attrs.frozen(slots=True)
class MultiPop:
    keys: tuple[bytes, ...]
    maximum: bool
    count: int


def parse_zmpop(args: Args) -> MultiPop | ErrorReply:
    """`numkeys key... MIN|MAX [COUNT count]`."""
    numkeys = parse_int(args[0])
    if numkeys is None or numkeys < 1:
        return ErrorReply("ERR numkeys should be greater than 0")
    if numkeys + 1 >= len(args):
        return SYNTAX_ERROR
    where = args[numkeys + 1].lower()
    if where not in (b"min", b"max"):
        return SYNTAX_ERROR
    count: int | None = None
    at = numkeys + 2
    while at < len(args):
        if count is None and args[at].lower() == b"count" and at + 1 < len(args):
            count = parse_int(args[at + 1])
            if count is None or count < 1:
                return ErrorReply("ERR count should be greater than 0")
            at += 2
        else:
            return SYNTAX_ERROR
    return MultiPop(args[1 : numkeys + 1], where == b"max", count or 1)


def zmpop(view: WritableView, cmd: MultiPop) -> Reply:
    z = first_nonempty(view, cmd.keys)
    if z is None:
        return NULL_ARRAY
    gone = pop(view, z, cmd.count, maximum=cmd.maximum)
    return [z.key, [[member, value] for member, value in gone]]


row = registry.rows("sorted_set")
_POP_COST = "O(M) with M being the number of elements popped."
_MPOP_COST = "O(K) + O(M) where K is the number of provided keys and M the number of elements " \
    "popped."  # fmt: skip
# fmt: off
registry.write("zpopmin", parse_zpop, _zpop(maximum=False), row(
    -2, "write fast", ONE, "5.0.0", _POP_COST,
    "Returns the lowest-scoring members from a sorted set after removing them. Deletes the "
    "sorted set if the last member was popped.", access=("RW access delete",)))
registry.write("zpopmax", parse_zpop, _zpop(maximum=True), row(
    -2, "write fast", ONE, "5.0.0", _POP_COST,
    "Returns the highest-scoring members from a sorted set after removing them. Deletes the "
    "sorted set if the last member was popped.", access=("RW access delete",)))
registry.write("zmpop", parse_zmpop, zmpop, row(
    -4, "write movablekeys", (0, 0, 0), "7.0.0", _MPOP_COST,
    "Returns the highest- or lowest-scoring members from one or more sorted sets after "
    "removing them. Deletes the sorted set if the last member was popped.",
    keys_proc=numkeys_keys(1, "RW access delete")))
# fmt: on
