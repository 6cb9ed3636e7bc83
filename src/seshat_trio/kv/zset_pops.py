"""Sorted-set pops: ZPOPMIN, ZPOPMAX, ZMPOP, and the blocking BZPOPMIN, BZPOPMAX, BZMPOP.

A pop removes members from the low (or high) end of the order index (kv/zsets.py):
O(members popped), whatever the set's size. Replies are Redis 7.0's (t_zset.c
genericZpopCommand): ZPOPMIN without a count a flat [member, score]; with one, member/score
pairs (nested in RESP3); BZPOPMIN/BZPOPMAX a flat [key, member, score]; ZMPOP/BZMPOP
[key, [[member, score], ...]] in both protocols.

A blocking pop is registered twice (kv/blocking.py): as a write that pops once, which is
what it does at apply time, inside MULTI and in a script (pop, or answer a nil array), and
as a blocking command whose timeout and keys the command layer (seshat_trio.blocking) reads
to wait on the client's node until one of the keys changes; the pop itself then runs on
the leader as an ordinary replicated write.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import islice

import attrs

from seshat_trio.kv import blocking, registry
from seshat_trio.kv.blocking import parse_timeout
from seshat_trio.kv.collections import MutableCollection
from seshat_trio.kv.parsing import SYNTAX_ERROR, parse_int, parse_multi_pop
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


# -- ZMPOP, BZMPOP -----------------------------------------------------------------------
@attrs.frozen(slots=True)
class MultiPop:
    keys: tuple[bytes, ...]
    maximum: bool
    count: int


def parse_zmpop(args: Args) -> MultiPop | ErrorReply:
    """`numkeys key... MIN|MAX [COUNT count]` (ZMPOP, and BZMPOP after its timeout)."""
    parsed = parse_multi_pop(args, (b"min", b"max"))
    if isinstance(parsed, ErrorReply):
        return parsed
    keys, end, count = parsed
    return MultiPop(keys, end == b"max", count)


def zmpop(view: WritableView, cmd: MultiPop) -> Reply:
    z = first_nonempty(view, cmd.keys)
    if z is None:
        return NULL_ARRAY
    gone = pop(view, z, cmd.count, maximum=cmd.maximum)
    return [z.key, [[member, value] for member, value in gone]]


def parse_bzmpop(args: Args) -> MultiPop | ErrorReply:
    parsed = parse_zmpop(args[1:])  # as Redis: the timeout is read last
    if isinstance(parsed, ErrorReply):
        return parsed
    timeout = parse_timeout(args[0])
    return timeout if isinstance(timeout, ErrorReply) else parsed


def _bzmpop_keys(args: Args) -> tuple[bytes, ...]:
    parsed = parse_zmpop(args[1:])
    return () if isinstance(parsed, ErrorReply) else parsed.keys


# -- BZPOPMIN, BZPOPMAX ------------------------------------------------------------------
def parse_bzpop(args: Args) -> tuple[bytes, ...] | ErrorReply:
    timeout = parse_timeout(args[-1])
    return timeout if isinstance(timeout, ErrorReply) else args[:-1]


def _bzpop(maximum: bool) -> Callable[[WritableView, tuple[bytes, ...]], Reply]:
    def run(view: WritableView, keys: tuple[bytes, ...]) -> Reply:
        """Once: [key, member, score] from the first non-empty set, or a nil array."""
        z = first_nonempty(view, keys)
        if z is None:
            return NULL_ARRAY
        ((member, value),) = pop(view, z, 1, maximum=maximum)
        return [z.key, member, value]

    return run


row = registry.rows("sorted_set")
_POP_COST = "O(M) with M being the number of elements popped."
_MPOP_COST = "O(K) + O(M) where K is the number of provided keys and M the number of elements " \
    "popped."  # fmt: skip
_BZPOP_COST = "O(K) where K is the number of provided keys."
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
registry.write("bzpopmin", parse_bzpop, _bzpop(maximum=False), row(
    -3, "write noscript blocking fast", (1, -2, 1), "5.0.0", _BZPOP_COST,
    "Removes and returns the member with the lowest score from one or more sorted sets. "
    "Blocks until a member is available otherwise. Deletes the sorted set if the last element "
    "was popped.", access=("RW access delete",)))
registry.write("bzpopmax", parse_bzpop, _bzpop(maximum=True), row(
    -3, "write noscript blocking fast", (1, -2, 1), "5.0.0", _BZPOP_COST,
    "Removes and returns the member with the highest score from one or more sorted sets. "
    "Blocks until a member available otherwise.  Deletes the sorted set if the last element "
    "was popped.", access=("RW access delete",)))
registry.write("bzmpop", parse_bzmpop, zmpop, row(
    -5, "write blocking movablekeys", (0, 0, 0), "7.0.0", _MPOP_COST,
    "Removes and returns a member by score from one or more sorted sets. Blocks until a "
    "member is available otherwise. Deletes the sorted set if the last element was popped.",
    keys_proc=numkeys_keys(2, "RW access delete")))
# fmt: on

blocking.register("bzpopmin", timeout_at=-1, keys=lambda args: args[:-1], kind=ZSET,
                  retarget=blocking.keys_then_timeout)  # fmt: skip
blocking.register("bzpopmax", timeout_at=-1, keys=lambda args: args[:-1], kind=ZSET,
                  retarget=blocking.keys_then_timeout)  # fmt: skip
blocking.register("bzmpop", timeout_at=0, keys=_bzmpop_keys, kind=ZSET,
                  retarget=blocking.timeout_numkeys_keys)  # fmt: skip
