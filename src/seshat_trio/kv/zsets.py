"""Sorted-set storage and the single-key sorted-set commands (ZADD, ranges, ranks, pops).

A sorted set is a collection (kv/collections.py) with two record families under its
(key, version), written together by every change (docs/storage.md):

    b"m" | crc32(member) | member        -> the score, an 8-byte IEEE double
    b"s" | order_bytes(score) | member   -> b""   (the order index: by score, then member)

The member records answer ZSCORE and membership in one read and order ZSCAN's cursor (the
crc32, as HSCAN's); the order records make a range by score or lex one range scan. ZADD,
ZINCRBY and ZREM touch two or three records per member whatever the set's size. Ranks
(ZRANK, ZRANGE by index, ZREMRANGEBYRANK) are counted by walking the order index from the
nearer end: O(min(rank, N - rank)) where Redis's skiplist is O(log N) (docs/commands.md).

Replies, errors and keyspace events are Redis 7.0's (t_zset.c); scores are replied as
doubles (RESP3 ``,``; RESP2 bulk strings as ``%.17g``). Lexicographic ranges over members
of different scores walk the set in order as Redis does for a small set (listpack).
"""

from __future__ import annotations

import functools
import math
import struct
from collections.abc import Callable, Iterator
from itertools import dropwhile, islice, takewhile

import attrs

from seshat_trio.kv import plain_ops, registry, sampling
from seshat_trio.kv.collections import (
    Collection,
    MutableCollection,
    member_of,
    member_suffix,
)
from seshat_trio.kv.parsing import NOT_FLOAT, NOT_INTEGER, SYNTAX_ERROR, parse_int
from seshat_trio.kv.registry import ONE, Args, KeysProc, args_as_is
from seshat_trio.kv.scan import MemberScan, parse_member_scan, scan_members
from seshat_trio.kv.types import register_type, typed
from seshat_trio.kv.view import KeyView, WritableView
from seshat_trio.kv.zset_ranges import (
    LexRange,
    ScoreRange,
    after,
    order_bytes,
    parse_score,
    score_of_order,
)
from seshat_trio.protocol import ErrorReply, Pairs, Reply
from seshat_trio.pubsub.notify import GENERIC
from seshat_trio.pubsub.notify import ZSET as ZSET_EVENTS
from seshat_trio.storage import EVERY_ELEMENT, Span

ZSET = 3
MEMBERS = Span(b"m", b"n")
_ORDER = b"s"
# Order records are read by range scans only: not worth a value cache entry each.
register_type(ZSET, "zset", lambda value: b"skiplist", collection=True, scanned=_ORDER)
_ORDER_END = b"t"
_ORDER_HEAD = 1 + 8  # b"s" and the order bytes, then the member
_SCORE = struct.Struct(">d")
NAN_SCORE = ErrorReply("ERR resulting score is not a number (NaN)")

Entry = tuple[bytes, float]


# -- records -------------------------------------------------------------------------------
def read(view: KeyView, key: bytes) -> Collection | None:
    return Collection.read(view, key, ZSET)


def member_key(member: bytes) -> bytes:
    return b"m" + member_suffix(member)


def _order_key(member: bytes, score: float) -> bytes:
    return _ORDER + order_bytes(score) + member


def score(z: Collection, member: bytes) -> float | None:
    raw = z.get(member_key(member))
    return None if raw is None else float(_SCORE.unpack(raw)[0])


def entries(
    z: Collection, start: bytes = _ORDER, stop: bytes = _ORDER_END, *, reverse: bool = False
) -> Iterator[Entry]:
    """(member, score) in (score, member) order (or backwards), order keys in [start, stop)."""
    for suffix, _ in z.items(Span(start, stop, reverse)):
        yield suffix[_ORDER_HEAD:], score_of_order(suffix, 1)


def put(
    z: MutableCollection, member: bytes, old: float | None, new: float, key: bytes = b""
) -> None:
    """Give `member` (whose score is `old`, None if absent; `key`: its member key if the
    caller has it) the score `new` (!= `old`)."""
    new += 0.0  # -0.0 is stored as 0.0 (see kv/zset_ranges.py)
    writer, name, version = z.writer, z.key, z.version
    if old is None:
        z.count += 1
    else:
        writer.delete_element(name, version, _order_key(member, old))
    writer.put_element(name, version, key or member_key(member), _SCORE.pack(new))
    writer.put_element(name, version, _order_key(member, new), b"")


def remove(z: MutableCollection, member: bytes, old: float) -> None:
    z.writer.delete_element(z.key, z.version, member_key(member))
    z.writer.delete_element(z.key, z.version, _order_key(member, old))
    z.count -= 1


def store(view: WritableView, key: bytes, found: list[Entry], event: bytes) -> int:
    """Replace whatever `key` holds by a sorted set of `found` (distinct members): the
    STORE variants. Nothing found deletes the key ("del" if there was one)."""
    if not found:
        if view.delete(key):
            view.notify(GENERIC, b"del", key)
        return 0
    view.delete(key)
    z = MutableCollection.open(view, key, ZSET)
    for member, value in found:
        put(z, member, None, value)
    z.save()
    view.notify(ZSET_EVENTS, event, key)
    return z.count


def removed(view: WritableView, z: MutableCollection, gone: list[Entry], event: bytes) -> int:
    """Remove `gone` from `z`, save, and raise `event` (and "del" if emptied)."""
    for member, value in gone:
        remove(z, member, value)
    if gone:
        z.save()
        view.notify(ZSET_EVENTS, event, z.key)
        if z.count == 0:
            view.notify(GENERIC, b"del", z.key)
    return len(gone)


def scores_reply(found: list[Entry], with_scores: bool) -> Reply:
    return Pairs(found) if with_scores else [member for member, _ in found]


# -- ranges --------------------------------------------------------------------------------
def by_rank(z: Collection, start: int, end: int, *, reverse: bool) -> list[Entry]:
    """Ranks start..end (Redis's index rules), counted from the top if `reverse`; walked
    from the nearer end of the order index."""
    size = z.count
    start, end = start + size if start < 0 else start, end + size if end < 0 else end
    start = max(start, 0)
    if start > end or start >= size:
        return []
    end = min(end, size - 1)
    if start <= size - 1 - end:
        return list(islice(entries(z, reverse=reverse), start, end + 1))
    found = list(islice(entries(z, reverse=not reverse), size - 1 - end, size - start))
    found.reverse()
    return found


def by_score(z: Collection, span: ScoreRange, *, reverse: bool) -> Iterator[Entry]:
    if span.empty():
        return iter(())
    low, high = span.order_bounds()
    return entries(z, _ORDER + low, _ORDER + high, reverse=reverse)


def by_lex(z: Collection, span: LexRange, *, reverse: bool, offset: int = 0) -> Iterator[Entry]:
    """The members in `span` from the first one in range on, `offset` of them skipped (as
    Redis skips them: without looking at them)."""
    if span.empty() or z.count == 0:
        return iter(())
    first, last = next(entries(z)), next(entries(z, reverse=True))
    if not (span.above_low(last[0]) and span.below_high(first[0])):
        return iter(())
    if first[1] == last[1]:  # one score (the documented use): a range scan
        order = order_bytes(first[1])
        start, stop = span.member_bounds(_ORDER + order, _ORDER + after(order))
        if start >= stop:
            return iter(())
        return islice(entries(z, start, stop, reverse=reverse), offset, None)
    # Several scores: Redis's walk in (score, member) order.
    enter, stay = span.above_low, span.below_high
    if reverse:
        enter, stay = stay, enter
    walk = dropwhile(lambda entry: not enter(entry[0]), entries(z, reverse=reverse))
    return takewhile(lambda entry: stay(entry[0]), islice(walk, offset, None))


def rank(z: Collection, member: bytes, *, reverse: bool) -> int | None:
    """`member`'s rank, None if absent: two walks towards it, one from each end, the
    shorter one answering (O(min(rank, N - rank)))."""
    value = score(z, member)
    if value is None:
        return None
    here = _order_key(member, value)
    below = entries(z, _ORDER, here)
    above = entries(z, here + b"\x00", _ORDER_END, reverse=True)
    counted = 0
    while True:
        if next(below, None) is None:
            ahead = counted  # members before it
            break
        if next(above, None) is None:
            ahead = z.count - 1 - counted
            break
        counted += 1
    return z.count - 1 - ahead if reverse else ahead


# -- ZADD, ZINCRBY -------------------------------------------------------------------------
@attrs.frozen(slots=True)
class ZaddFlags:
    nx: bool = False
    xx: bool = False
    gt: bool = False
    lt: bool = False
    ch: bool = False
    incr: bool = False


@attrs.frozen(slots=True)
class ZaddArgs:
    key: bytes
    flags: ZaddFlags
    pairs: tuple[tuple[float, bytes], ...]


_ZADD_FLAG_NAMES = (b"nx", b"xx", b"gt", b"lt", b"ch", b"incr")
_LONGEST_FLAG = 4
_NO_FLAGS = ZaddFlags()
_INCR = ZaddFlags(incr=True)


@functools.cache
def _zadd_flags(given: frozenset[bytes]) -> ZaddFlags | ErrorReply:
    """The flags `given` (lower case) name, or the error Redis gives for the combination
    (64 combinations at most: cached)."""
    nx, xx, gt, lt, ch, incr = (name in given for name in _ZADD_FLAG_NAMES)
    if nx and xx:
        return ErrorReply("ERR XX and NX options at the same time are not compatible")
    if (nx and (gt or lt)) or (gt and lt):
        return ErrorReply("ERR GT, LT, and/or NX options at the same time are not compatible")
    return ZaddFlags(nx, xx, gt, lt, ch, incr)


def parse_zadd(args: Args) -> ZaddArgs | ErrorReply:
    # Every ZADD is parsed on the node that takes it and again by each node's apply, so
    # the common form (no flags, one pair) costs a few calls (docs/performance.md).
    given: list[bytes] = []
    at, end = 1, len(args)
    while at < end and len(args[at]) <= _LONGEST_FLAG:
        flag = args[at].lower()
        if flag not in _ZADD_FLAG_NAMES:
            break
        given.append(flag)
        at += 1
    if at == end or (end - at) % 2:
        return SYNTAX_ERROR
    flags = _zadd_flags(frozenset(given)) if given else _NO_FLAGS
    if isinstance(flags, ErrorReply):
        return flags
    if flags.incr and end - at > 2:
        return ErrorReply("ERR INCR option supports a single increment-element pair")
    pairs = []
    for at in range(at, end, 2):  # noqa: B020 (`at` is not used after the loop)
        value = parse_score(args[at])
        if value is None:
            return NOT_FLOAT
        pairs.append((value, args[at + 1]))
    return ZaddArgs(args[0], flags, tuple(pairs))


def zadd(view: WritableView, cmd: ZaddArgs) -> Reply:
    return _zadd(view, cmd.key, cmd.flags, cmd.pairs)


def _zadd(
    view: WritableView, key: bytes, flags: ZaddFlags, pairs: tuple[tuple[float, bytes], ...]
) -> Reply:
    z = MutableCollection.open(view, key, ZSET)
    added = updated = 0
    result: float | None = None
    for given, member in pairs:
        value = given
        suffix = member_key(member)
        raw = z.get(suffix)
        if raw is None:
            current = None
            if flags.xx:
                continue
            added += 1
        else:
            current = float(_SCORE.unpack(raw)[0])
            if flags.nx:
                continue
            if flags.incr:
                value += current
                if math.isnan(value):
                    return NAN_SCORE
            if (flags.lt and value >= current) or (flags.gt and value <= current):
                continue
            if value == current:
                result = value
                continue
            updated += 1
        put(z, member, current, value, suffix)
        result = value
    if added or updated:
        z.save()
        view.notify(ZSET_EVENTS, b"zincr" if flags.incr else b"zadd", key)
    if flags.incr:
        return result
    return added + updated if flags.ch else added


def zadd_plain(view: WritableView, args: Args) -> Reply:
    """ZADD key score member (kv/plain_ops.py): `zadd` without the flag parsing, which a
    score cannot need (no flag name parses as a float)."""
    value = parse_score(args[1])
    if value is None:  # a flag, or not a float: parse_zadd's error
        parsed = parse_zadd(args)
        return parsed if isinstance(parsed, ErrorReply) else zadd(view, parsed)
    return _zadd(view, args[0], _NO_FLAGS, ((value, args[2]),))


def parse_zincrby(args: Args) -> ZaddArgs | ErrorReply:
    value = parse_score(args[1])
    if value is None:
        return NOT_FLOAT
    return ZaddArgs(args[0], _INCR, ((value, args[2]),))


# -- ZREM, ZCARD, ZSCORE, ZMSCORE, ZRANK, ZREVRANK ----------------------------------------
def zrem(view: WritableView, args: Args) -> Reply:
    z = MutableCollection.existing(view, args[0], ZSET)
    if z is None:
        return 0
    gone = []
    for member in dict.fromkeys(args[1:]):
        value = score(z, member)
        if value is not None:
            gone.append((member, value))
    return removed(view, z, gone, b"zrem")


def zcard(view: KeyView, args: Args) -> Reply:
    z = read(view, args[0])
    return 0 if z is None else z.count


def zscore(view: KeyView, args: Args) -> Reply:
    z = read(view, args[0])
    return None if z is None else score(z, args[1])


def zmscore(view: KeyView, args: Args) -> Reply:
    z = read(view, args[0])
    return [None if z is None else score(z, member) for member in args[1:]]


def _rank_command(reverse: bool) -> Callable[[KeyView, Args], Reply]:
    def run(view: KeyView, args: Args) -> Reply:
        z = read(view, args[0])
        return None if z is None else rank(z, args[1], reverse=reverse)

    return run


# -- ZCOUNT, ZLEXCOUNT ---------------------------------------------------------------------
def parse_zcount(args: Args) -> tuple[bytes, ScoreRange] | ErrorReply:
    span = ScoreRange.parse(args[1], args[2])
    return span if isinstance(span, ErrorReply) else (args[0], span)


def zcount(view: KeyView, parsed: tuple[bytes, ScoreRange]) -> Reply:
    z = read(view, parsed[0])
    return 0 if z is None else sum(1 for _ in by_score(z, parsed[1], reverse=False))


def parse_zlexcount(args: Args) -> tuple[bytes, LexRange] | ErrorReply:
    span = LexRange.parse(args[1], args[2])
    return span if isinstance(span, ErrorReply) else (args[0], span)


def zlexcount(view: KeyView, parsed: tuple[bytes, LexRange]) -> Reply:
    z = read(view, parsed[0])
    return 0 if z is None else sum(1 for _ in by_lex(z, parsed[1], reverse=False))


# -- ZRANGE and its older forms, ZRANGESTORE -----------------------------------------------
@attrs.frozen(slots=True)
class RangeArgs:
    key: bytes
    span: tuple[int, int] | ScoreRange | LexRange
    reverse: bool
    offset: int
    limit: int  # -1: no limit
    with_scores: bool
    dest: bytes | None  # ZRANGESTORE


def _parse_range(
    *, by: str | None = None, reverse: bool | None = None, store: bool = False
) -> registry.Parser[RangeArgs]:
    """Redis's zrangeGenericCommand: `by` and `reverse` fixed by the command or (None) by
    its options."""

    def parse(args: Args) -> RangeArgs | ErrorReply:
        dest, args = (args[0], args[1:]) if store else (None, args)
        kind, backwards = by, reverse
        with_scores, offset, limit = False, 0, -1
        at = 3
        while at < len(args):
            option = args[at].lower()
            if option == b"withscores" and not store:
                with_scores = True
            elif option == b"limit" and len(args) - at - 1 >= 2:
                first, count = parse_int(args[at + 1]), parse_int(args[at + 2])
                if first is None or count is None:
                    return NOT_INTEGER
                offset, limit = first, count
                at += 2
            elif option == b"rev" and backwards is None:
                backwards = True
            elif option in (b"bylex", b"byscore") and kind is None:
                kind = option[2:].decode()
            else:
                return SYNTAX_ERROR
            at += 1
        kind = kind or "rank"
        if limit != -1 and kind == "rank":
            return ErrorReply(
                "ERR syntax error, LIMIT is only supported in combination with either "
                "BYSCORE or BYLEX"
            )
        if with_scores and kind == "lex":
            return ErrorReply(
                "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
            )
        low, high = args[1], args[2]
        if backwards and kind != "rank":
            low, high = high, low  # given as max, min
        span: tuple[int, int] | ScoreRange | LexRange | ErrorReply
        if kind == "rank":
            first, last = parse_int(low), parse_int(high)
            if first is None or last is None:
                return NOT_INTEGER
            span = (first, last)
        else:
            span = ScoreRange.parse(low, high) if kind == "score" else LexRange.parse(low, high)
            if isinstance(span, ErrorReply):
                return span
        return RangeArgs(args[0], span, bool(backwards), offset, limit, with_scores, dest)

    return parse


def _range(z: Collection, cmd: RangeArgs) -> list[Entry]:
    span = cmd.span
    if isinstance(span, tuple):
        return by_rank(z, span[0], span[1], reverse=cmd.reverse)
    if cmd.offset < 0 or cmd.limit == 0:
        return []
    stop = None if cmd.limit < 0 else cmd.offset + cmd.limit
    if isinstance(span, ScoreRange):
        return list(islice(by_score(z, span, reverse=cmd.reverse), cmd.offset, stop))
    found = by_lex(z, span, reverse=cmd.reverse, offset=cmd.offset)
    return list(found if stop is None else islice(found, cmd.limit))


def zrange(view: KeyView, cmd: RangeArgs) -> Reply:
    z = read(view, cmd.key)
    return [] if z is None else scores_reply(_range(z, cmd), cmd.with_scores)


def zrangestore(view: WritableView, cmd: RangeArgs) -> Reply:
    assert cmd.dest is not None
    z = read(view, cmd.key)
    return store(view, cmd.dest, [] if z is None else _range(z, cmd), b"zrangestore")


# -- ZREMRANGEBYRANK, ZREMRANGEBYSCORE, ZREMRANGEBYLEX -------------------------------------
@attrs.frozen(slots=True)
class RemoveRange:
    key: bytes
    span: tuple[int, int] | ScoreRange | LexRange


def parse_zremrangebyrank(args: Args) -> RemoveRange | ErrorReply:
    first, last = parse_int(args[1]), parse_int(args[2])
    if first is None or last is None:
        return NOT_INTEGER
    return RemoveRange(args[0], (first, last))


def _parse_remove(
    make: Callable[[bytes, bytes], ScoreRange | LexRange | ErrorReply],
) -> registry.Parser[RemoveRange]:
    def parse(args: Args) -> RemoveRange | ErrorReply:
        span = make(args[1], args[2])
        return span if isinstance(span, ErrorReply) else RemoveRange(args[0], span)

    return parse


def zremrange(view: WritableView, cmd: RemoveRange) -> Reply:
    z = MutableCollection.existing(view, cmd.key, ZSET)
    if z is None:
        return 0
    span = cmd.span
    if isinstance(span, tuple):
        gone, event = by_rank(z, span[0], span[1], reverse=False), b"zremrangebyrank"
    elif isinstance(span, ScoreRange):
        gone, event = list(by_score(z, span, reverse=False)), b"zremrangebyscore"
    else:
        gone, event = list(by_lex(z, span, reverse=False)), b"zremrangebylex"
    return removed(view, z, gone, event)


# -- ZRANDMEMBER, ZSCAN ---------------------------------------------------------------------
class Members(Collection):
    """A sorted set's member records as a plain collection of (member suffix, score text),
    in member-position order (crc32): what ZSCAN pages through and ZRANDMEMBER picks from,
    as HSCAN and HRANDFIELD do a hash's fields."""

    __slots__ = ()

    @classmethod
    def of(cls, view: KeyView, key: bytes) -> Members | None:
        value = typed(view.get(key), ZSET)
        return None if value is None else cls(view, key, ZSET, value)

    def items(self, span: Span = EVERY_ELEMENT) -> Iterator[tuple[bytes, bytes]]:
        stop = MEMBERS.stop if span.stop is None else b"m" + span.stop
        for suffix, raw in super().items(Span(b"m" + span.start, stop, span.reverse)):
            yield suffix[1:], b"%.17g" % _SCORE.unpack(raw)[0]


def parse_zrandmember(args: Args) -> sampling.RandArgs | ErrorReply:
    return sampling.parse_random(args, b"withscores")


def zrandmember(view: KeyView, cmd: sampling.RandArgs) -> Reply:
    """Random picks as HRANDFIELD makes them (kv/sampling.py), from the member records."""
    z = Members.of(view, cmd.key)
    if cmd.count is None:
        return None if z is None else member_of(sampling.random_items(z, view.random(), 1)[0][0])
    if z is None or cmd.count == 0:
        return []
    if cmd.count < 0:
        picked = sampling.random_items(z, view.random(), -cmd.count)
    elif cmd.count >= z.count:
        picked = list(z.items())
    else:
        picked = sampling.distinct_items(z, view.random(), cmd.count)
    found = [(member_of(suffix), float(text)) for suffix, text in picked]
    return scores_reply(found, cmd.with_pairs)


def zscan(view: KeyView, cmd: MemberScan) -> Reply:
    return scan_members(Members.of(view, cmd.key), cmd, with_values=True)


def numkeys_keys(at: int, access: str, dest: str | None = None) -> KeysProc:
    """Key positions of a command with `numkeys` at argv[at] (and a destination at 1)."""

    def keys(argv: list[bytes]) -> list[tuple[int, str]]:
        numkeys = parse_int(argv[at]) if len(argv) > at else None
        found = [(1, dest)] if dest is not None else []
        if numkeys is not None and numkeys > 0:
            found += [(pos, access) for pos in range(at + 1, min(at + 1 + numkeys, len(argv)))]
        return found

    return keys


row = registry.rows("sorted_set")
_RANGE_SUMMARY = "Returns members in a sorted set within a range of "
_RANK_COST = "O(min(M, N-M)+K): the index is walked from the nearer end (Redis: O(log(N)+M))"
# fmt: off
registry.write("zadd", parse_zadd, zadd, row(
    -4, "write denyoom fast", ONE, "1.2.0",
    "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
    "Adds one or more members to a sorted set, or updates their scores. Creates the key if "
    "it doesn't exist.", access=("RW update",)))
registry.write("zincrby", parse_zincrby, zadd, row(
    4, "write denyoom fast", ONE, "1.2.0",
    "O(log(N)) where N is the number of elements in the sorted set.",
    "Increments the score of a member in a sorted set.", access=("RW update",)))
registry.write("zrem", args_as_is, zrem, row(
    -3, "write fast", ONE, "1.2.0",
    "O(M*log(N)) with N being the number of elements in the sorted set and M the number of "
    "elements to be removed.", "Removes one or more members from a sorted set. Deletes the "
    "sorted set if all members were removed.", access=("RW delete",)))
registry.read("zcard", args_as_is, zcard, row(
    2, "readonly fast", ONE, "1.2.0", "O(1)", "Returns the number of members in a sorted set."))
registry.read("zscore", args_as_is, zscore, row(
    3, "readonly fast", ONE, "1.2.0", "O(1)",
    "Returns the score of a member in a sorted set."))
registry.read("zmscore", args_as_is, zmscore, row(
    -3, "readonly fast", ONE, "6.2.0", "O(N) where N is the number of members being requested.",
    "Returns the score of one or more members in a sorted set."))
registry.read("zrank", args_as_is, _rank_command(reverse=False), row(
    3, "readonly fast", ONE, "2.0.0", _RANK_COST,
    "Returns the index of a member in a sorted set ordered by ascending scores."))
registry.read("zrevrank", args_as_is, _rank_command(reverse=True), row(
    3, "readonly fast", ONE, "2.0.0", _RANK_COST,
    "Returns the index of a member in a sorted set ordered by descending scores."))
registry.read("zcount", parse_zcount, zcount, row(
    4, "readonly fast", ONE, "2.0.0", "O(M) with M the number of elements in the range.",
    "Returns the count of members in a sorted set that have scores within a range."))
registry.read("zlexcount", parse_zlexcount, zlexcount, row(
    4, "readonly fast", ONE, "2.8.9", "O(M) with M the number of elements in the range.",
    "Returns the number of members in a sorted set within a lexicographical range."))
registry.read("zrange", _parse_range(), zrange, row(
    -4, "readonly", ONE, "1.2.0", _RANK_COST, "Returns members in a sorted set within a range "
    "of indexes."))
registry.write("zrangestore", _parse_range(store=True), zrangestore, row(
    -5, "write denyoom", (1, 2, 1), "6.2.0", _RANK_COST,
    "Stores a range of members from sorted set in a key.", access=("OW update", "RO access")))
registry.read("zrevrange", _parse_range(by="rank", reverse=True), zrange, row(
    -4, "readonly", ONE, "1.2.0", _RANK_COST,
    "Returns members in a sorted set within a range of indexes in reverse order."))
registry.read("zrangebyscore", _parse_range(by="score", reverse=False), zrange, row(
    -4, "readonly", ONE, "1.0.5", "O(M) with M the number of elements returned or skipped.",
    _RANGE_SUMMARY + "scores."))
registry.read("zrevrangebyscore", _parse_range(by="score", reverse=True), zrange, row(
    -4, "readonly", ONE, "2.2.0", "O(M) with M the number of elements returned or skipped.",
    _RANGE_SUMMARY + "scores in reverse order."))
registry.read("zrangebylex", _parse_range(by="lex", reverse=False), zrange, row(
    -4, "readonly", ONE, "2.8.9", "O(M) with M the number of elements returned or skipped.",
    _RANGE_SUMMARY + "a lexicographical range."))
registry.read("zrevrangebylex", _parse_range(by="lex", reverse=True), zrange, row(
    -4, "readonly", ONE, "2.8.9", "O(M) with M the number of elements returned or skipped.",
    _RANGE_SUMMARY + "a lexicographical range in reverse order."))
registry.write("zremrangebyrank", parse_zremrangebyrank, zremrange, row(
    4, "write", ONE, "2.0.0", _RANK_COST,
    "Removes members in a sorted set within a range of indexes. Deletes the sorted set if "
    "all members were removed.", access=("RW delete",)))
registry.write("zremrangebyscore", _parse_remove(ScoreRange.parse), zremrange, row(
    4, "write", ONE, "1.2.0", "O(M) with M the number of elements removed.",
    "Removes members in a sorted set within a range of scores. Deletes the sorted set if all "
    "members were removed.", access=("RW delete",)))
registry.write("zremrangebylex", _parse_remove(LexRange.parse), zremrange, row(
    4, "write", ONE, "2.8.9", "O(M) with M the number of elements removed.",
    "Removes members in a sorted set within a lexicographical range. Deletes the sorted set "
    "if all members were removed.", access=("RW delete",)))
registry.read("zrandmember", parse_zrandmember, zrandmember, row(
    -2, "readonly", ONE, "6.2.0", "O(N) where N is the number of members returned",
    "Returns one or more random members from a sorted set."))
registry.read("zscan", parse_member_scan, zscan, row(
    -3, "readonly", ONE, "2.8.0",
    "O(1) for every call. O(N) for a complete iteration, including enough command calls "
    "for the cursor to return back to 0. N is the number of elements inside the collection.",
    "Iterates over members and scores of a sorted set."))
# fmt: on
plain_ops.plain("zadd", 4, zadd_plain)
