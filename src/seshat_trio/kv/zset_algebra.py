"""Sorted-set algebra: ZUNION, ZINTER, ZDIFF (and their STORE forms), ZINTERCARD.

As in Redis 7.0 (zunionInterDiffGenericCommand): inputs may be sorted sets or sets
(kv/sets.py; a set member scores 1); every input key is type-checked before the options
are parsed; the inputs are combined smallest first (a stable sort by size), so a SUM adds
in Redis's order; WEIGHTS multiply (0 * inf is 0), AGGREGATE SUM turns inf + -inf into 0.
ZINTER walks the smallest input and looks each member up in the others: O(N*K) for N
members of the smallest of K inputs. The STORE forms replace whatever the destination holds.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from seshat_trio.kv import registry, zsets
from seshat_trio.kv.collections import Collection, member_of, member_suffix
from seshat_trio.kv.parsing import NOT_INTEGER, SYNTAX_ERROR, parse_int
from seshat_trio.kv.registry import ONE, Args
from seshat_trio.kv.sets import SET
from seshat_trio.kv.types import WrongType
from seshat_trio.kv.view import KeyView, WritableView
from seshat_trio.kv.zset_ranges import parse_score
from seshat_trio.protocol import ErrorReply, Reply


@attrs.frozen(slots=True)
class Source:
    """One input: a sorted set, a set, or nothing (a missing key)."""

    collection: Collection | None
    weight: float

    def size(self) -> int:
        return 0 if self.collection is None else self.collection.count

    def items(self) -> Iterator[zsets.Entry]:
        c = self.collection
        if c is None:
            return iter(())
        if c.kind == SET:
            return ((member_of(suffix), 1.0) for suffix, _ in c.items())
        return zsets.entries(c)

    def find(self, member: bytes) -> float | None:
        c = self.collection
        if c is None:
            return None
        if c.kind == SET:
            return None if c.get(member_suffix(member)) is None else 1.0
        return zsets.score(c, member)


@attrs.frozen(slots=True)
class Algebra:
    op: str  # "union", "inter", "diff", "card"
    keys: tuple[bytes, ...]
    options: tuple[bytes, ...]  # parsed after the keys' types are checked, as Redis does
    dest: bytes | None


def _parser(op: str, *, store: bool) -> registry.Parser[Algebra]:
    command = {"union": "zunion", "inter": "zinter", "diff": "zdiff", "card": "zintercard"}[op]
    command += "store" if store else ""

    def parse(args: Args) -> Algebra | ErrorReply:
        dest, args = (args[0], args[1:]) if store else (None, args)
        numkeys = parse_int(args[0])
        if numkeys is None:
            return NOT_INTEGER
        if numkeys < 1:
            return ErrorReply(f"ERR at least 1 input key is needed for '{command}' command")
        if numkeys > len(args) - 1:
            return SYNTAX_ERROR
        return Algebra(op, args[1 : numkeys + 1], args[numkeys + 1 :], dest)

    return parse


@attrs.frozen(slots=True)
class Options:
    weights: tuple[float, ...] | None
    aggregate: str
    with_scores: bool
    limit: int


def _options(cmd: Algebra) -> Options | ErrorReply:
    weights: tuple[float, ...] | None = None
    aggregate, with_scores, limit = "sum", False, 0
    args, setnum, at = cmd.options, len(cmd.keys), 0
    combining = cmd.op in ("union", "inter")
    while at < len(args):
        option, left = args[at].lower(), len(args) - at
        if combining and option == b"weights" and left >= setnum + 1:
            parsed = [parse_score(arg) for arg in args[at + 1 : at + 1 + setnum]]
            for value in parsed:
                if value is None:
                    return ErrorReply("ERR weight value is not a float")
            weights = tuple(value for value in parsed if value is not None)
            at += 1 + setnum
        elif combining and option == b"aggregate" and left >= 2:
            aggregate = args[at + 1].lower().decode(errors="replace")
            if aggregate not in ("sum", "min", "max"):
                return SYNTAX_ERROR
            at += 2
        elif cmd.dest is None and cmd.op != "card" and option == b"withscores":
            with_scores = True
            at += 1
        elif cmd.op == "card" and option == b"limit" and left >= 2:
            parsed_limit = parse_int(args[at + 1])
            if parsed_limit is None or parsed_limit < 0:
                return ErrorReply("ERR LIMIT can't be negative")
            limit = parsed_limit
            at += 2
        else:
            return SYNTAX_ERROR
    return Options(weights, aggregate, with_scores, limit)


def _combine(total: float, value: float, aggregate: str) -> float:
    if aggregate == "sum":
        total += value
        return 0.0 if total != total else total  # inf + -inf: 0, as Redis  # noqa: PLR0124
    if aggregate == "min":
        return value if value < total else total
    return value if value > total else total


def _weighted(value: float, weight: float) -> float:
    product = value * weight
    return 0.0 if product != product else product  # noqa: PLR0124


def _union(sources: list[Source], aggregate: str) -> dict[bytes, float]:
    found: dict[bytes, float] = {}
    for source in sources:
        for member, value in source.items():
            weighted = _weighted(value, source.weight)
            current = found.get(member)
            found[member] = weighted if current is None else _combine(current, weighted, aggregate)
    return found


def _inter(sources: list[Source], aggregate: str, limit: int = 0) -> dict[bytes, float]:
    found: dict[bytes, float] = {}
    first, others = sources[0], sources[1:]
    for member, value in first.items():
        total = _weighted(value, first.weight)
        for other in others:
            there = other.find(member)
            if there is None:
                break
            total = _combine(total, there * other.weight, aggregate)
        else:
            found[member] = total
            if limit and len(found) >= limit:
                break
    return found


def _diff(sources: list[Source]) -> dict[bytes, float]:
    first, others = sources[0], sources[1:]
    return {
        member: value
        for member, value in first.items()
        if all(other.find(member) is None for other in others)
    }


def _sources(view: KeyView, keys: tuple[bytes, ...]) -> list[Source]:
    sources = []
    for key in keys:
        value = view.get(key)
        if value is not None and value.kind not in (zsets.ZSET, SET):
            raise WrongType
        collection = None if value is None else Collection(view, key, value.kind, value)
        sources.append(Source(collection, 1.0))
    return sources


def _compute(view: KeyView, cmd: Algebra) -> tuple[list[zsets.Entry], Options] | ErrorReply | int:
    sources = _sources(view, cmd.keys)
    options = _options(cmd)
    if isinstance(options, ErrorReply):
        return options
    if options.weights is not None:
        sources = [attrs.evolve(s, weight=w) for s, w in zip(sources, options.weights, strict=True)]
    if cmd.op == "diff":
        found = _diff(sources)
    else:
        sources.sort(key=Source.size)
        if cmd.op == "union":
            found = _union(sources, options.aggregate)
        else:
            found = _inter(sources, options.aggregate, options.limit)
            if cmd.op == "card":
                return len(found)
    ordered = sorted(found.items(), key=lambda item: (item[1], item[0]))
    return ordered, options


def read_algebra(view: KeyView, cmd: Algebra) -> Reply:
    result = _compute(view, cmd)
    if isinstance(result, ErrorReply | int):
        return result
    ordered, options = result
    return zsets.scores_reply(ordered, options.with_scores)


def store_algebra(view: WritableView, cmd: Algebra) -> Reply:
    assert cmd.dest is not None
    result = _compute(view, cmd)
    if isinstance(result, ErrorReply | int):
        return result
    return zsets.store(view, cmd.dest, result[0], b"z%sstore" % cmd.op.encode())


row = registry.rows("sorted_set")
_SUMMARY = {
    "union": "Returns the union of multiple sorted sets.",
    "inter": "Returns the intersect of multiple sorted sets.",
    "diff": "Returns the difference between multiple sorted sets.",
}
_STORE_SUMMARY = {
    "union": "Stores the union of multiple sorted sets in a key.",
    "inter": "Stores the intersect of multiple sorted sets in a key.",
    "diff": "Stores the difference of multiple sorted sets in a key.",
}
_COST = {
    "union": "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, "
    "and M being the number of elements in the resulting sorted set.",
    "inter": "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K "
    "being the number of input sorted sets and M being the number of elements in the "
    "resulting sorted set.",
    "diff": "O(L + (N-K)log(N)) worst case where L is the total number of elements in all "
    "the sets, N is the size of the first set, and K is the size of the result set.",
}
_SINCE = {"union": ("6.2.0", "2.0.0"), "inter": ("6.2.0", "2.0.0"), "diff": ("6.2.0", "6.2.0")}
for _op in ("union", "inter", "diff"):
    registry.read(f"z{_op}", _parser(_op, store=False), read_algebra, row(
        -3, "readonly movablekeys", (0, 0, 0), _SINCE[_op][0], _COST[_op], _SUMMARY[_op],
        keys_proc=zsets.numkeys_keys(1, "RO access")))  # fmt: skip
    registry.write(f"z{_op}store", _parser(_op, store=True), store_algebra, row(
        -4, "write denyoom movablekeys", ONE, _SINCE[_op][1], _COST[_op], _STORE_SUMMARY[_op],
        keys_proc=zsets.numkeys_keys(2, "RO access", dest="OW update")))  # fmt: skip
registry.read("zintercard", _parser("card", store=False), read_algebra, row(
    -3, "readonly movablekeys", (0, 0, 0), "7.0.0",
    "O(N*K) worst case with N being the smallest input sorted set, K being the number of "
    "input sorted sets.", "Returns the number of members of the intersect of multiple sorted "
    "sets.", keys_proc=zsets.numkeys_keys(1, "RO access")))  # fmt: skip
