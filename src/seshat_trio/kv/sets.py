"""Set commands: SADD and friends, random picks, the algebra (SINTER, SUNION, SDIFF), SSCAN.

A set is a collection (kv/collections.py): one element record per member, the member's
`member_suffix` -> an empty value. SADD, SREM, SISMEMBER, SMISMEMBER and SMOVE read and
write only the members they name (plus the metadata record); SCARD reads the count. The
algebra reads whole sets, as Redis does: SINTER walks the smallest set and looks each
member up in the others. Replies and errors are Redis 7.0's (t_set.c), keyspace events
too. Members come back in member order (crc32 of the member), where Redis returns an
intset's in numeric order (docs/commands.md); set replies are RESP3 sets in a fixed order,
so a script that reads one at apply does the same on every node.

SPOP is a write: its picks come from `view.random()`, which at apply derives from the
entry's index, so every node pops the same members (kv/sampling.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import attrs

from seshat_trio.kv import plain_ops, registry, sampling
from seshat_trio.kv.collections import Collection, MutableCollection, member_of, member_suffix
from seshat_trio.kv.parsing import SYNTAX_ERROR, parse_int
from seshat_trio.kv.registry import ALL, NONE, ONE, Args, args_as_is
from seshat_trio.kv.scan import MemberScan, parse_member_scan, scan_members
from seshat_trio.kv.types import register_type, typed
from seshat_trio.kv.view import KeyView, WritableView
from seshat_trio.protocol import ErrorReply, OrderedSet, Reply
from seshat_trio.pubsub.notify import GENERIC
from seshat_trio.pubsub.notify import SET as SET_EVENTS

SET = 2
register_type(SET, "set", lambda value: b"hashtable", collection=True)

MEMBER = b""  # a member's element record: the suffix says it all
OUT_OF_RANGE = ErrorReply("ERR value is out of range, must be positive")


def _read(view: KeyView, key: bytes) -> Collection | None:
    return Collection.read(view, key, SET)


def _members(suffixes: Iterable[bytes]) -> OrderedSet[bytes]:
    return OrderedSet(member_of(suffix) for suffix in suffixes)


def _all(s: Collection | None) -> Iterator[bytes]:
    return iter(()) if s is None else (suffix for suffix, _ in s.items())


# -- SADD, SREM ---------------------------------------------------------------------------
def _add(s: MutableCollection, suffix: bytes) -> bool:
    if s.get(suffix) is not None:
        return False
    s.put(suffix, MEMBER, known_new=True)
    return True


def sadd(view: WritableView, args: Args) -> Reply:
    s = MutableCollection.open(view, args[0], SET)
    added = sum(_add(s, member_suffix(member)) for member in args[1:])
    if added:  # adding nothing changes nothing (WATCH included), as in Redis
        s.save()
        view.notify(SET_EVENTS, b"sadd", args[0])
    return added


def _removed(view: WritableView, s: MutableCollection, event: bytes) -> None:
    """Save `s` after removals (an emptied set is deleted) and raise Redis's events."""
    s.save()
    view.notify(SET_EVENTS, event, s.key)
    if s.count == 0:
        view.notify(GENERIC, b"del", s.key)


def srem(view: WritableView, args: Args) -> Reply:
    s = MutableCollection.existing(view, args[0], SET)
    if s is None:
        return 0
    removed = sum(s.delete(member_suffix(member)) for member in args[1:])
    if removed:
        _removed(view, s, b"srem")
    return removed


# -- reads --------------------------------------------------------------------------------
def scard(view: KeyView, args: Args) -> Reply:
    s = _read(view, args[0])
    return 0 if s is None else s.count


def sismember(view: KeyView, args: Args) -> Reply:
    s = _read(view, args[0])
    return int(s is not None and s.get(member_suffix(args[1])) is not None)


def smismember(view: KeyView, args: Args) -> Reply:
    s = _read(view, args[0])
    if s is None:
        return [0] * (len(args) - 1)
    return [int(s.get(member_suffix(member)) is not None) for member in args[1:]]


def smembers(view: KeyView, args: Args) -> Reply:
    return _members(_all(_read(view, args[0])))


# -- SRANDMEMBER, SPOP ----------------------------------------------------------------------
@attrs.frozen(slots=True)
class CountArgs:
    key: bytes
    count: int | None  # None: one member, as a bulk string


def parse_srandmember(args: Args) -> CountArgs | ErrorReply:
    if len(args) == 1:
        return CountArgs(args[0], None)
    if len(args) > 2:
        return SYNTAX_ERROR
    count = sampling.parse_count(args[1])
    if isinstance(count, ErrorReply):
        return count
    return sampling.check_repeats(count) or CountArgs(args[0], count)


def srandmember(view: KeyView, cmd: CountArgs) -> Reply:
    s = _read(view, cmd.key)
    if cmd.count is None:
        if s is None:
            return None
        ((suffix, _),) = sampling.random_items(s, view.random(), 1)
        return member_of(suffix)
    if s is None or cmd.count == 0:
        return []
    # Arrays, not sets, even in RESP3 (Redis 7.0's replies).
    if cmd.count < 0:  # repeats allowed
        picks = sampling.random_items(s, view.random(), -cmd.count)
    elif cmd.count >= s.count:
        return [member_of(suffix) for suffix in _all(s)]
    else:
        picks = sampling.distinct_items(s, view.random(), cmd.count)
    return [member_of(suffix) for suffix, _ in picks]


def parse_spop(args: Args) -> CountArgs | ErrorReply:
    if len(args) == 1:
        return CountArgs(args[0], None)
    if len(args) > 2:
        return SYNTAX_ERROR
    count = parse_int(args[1])
    if count is None or count < 0:
        return OUT_OF_RANGE  # for a non-number too, as Redis
    return CountArgs(args[0], count)


def spop(view: WritableView, cmd: CountArgs) -> Reply:
    s = MutableCollection.existing(view, cmd.key, SET)
    if cmd.count is None:
        if s is None:
            return None
        ((suffix, _),) = sampling.random_items(s, view.random(), 1)
        s.delete(suffix)
        _removed(view, s, b"spop")
        return member_of(suffix)
    if s is None or cmd.count == 0:
        return OrderedSet(())
    if cmd.count >= s.count:  # the whole set
        popped = _members(_all(s))
        view.delete(cmd.key)
        view.notify(SET_EVENTS, b"spop", cmd.key)
        view.notify(GENERIC, b"del", cmd.key)
        return popped
    picks = [suffix for suffix, _ in sampling.distinct_items(s, view.random(), cmd.count)]
    for suffix in picks:
        s.delete(suffix)
    _removed(view, s, b"spop")
    return _members(picks)


# -- SMOVE ----------------------------------------------------------------------------------
def smove(view: WritableView, args: Args) -> Reply:
    source, destination, member = args
    if view.get(source) is None:
        return 0  # before any type check, as Redis
    src = MutableCollection.open(view, source, SET)
    typed(view.get(destination), SET)
    suffix = member_suffix(member)
    if source == destination:
        return int(src.get(suffix) is not None)
    if not src.delete(suffix):
        return 0
    _removed(view, src, b"srem")
    dst = MutableCollection.open(view, destination, SET)
    added = _add(dst, suffix)
    dst.save()  # Redis signals the destination modified either way (WATCH sees it)
    if added:
        view.notify(SET_EVENTS, b"sadd", destination)
    return 1


# -- SINTER, SUNION, SDIFF and their STORE and CARD forms ----------------------------------
def _sets(view: KeyView, keys: Iterable[bytes]) -> list[Collection | None]:
    """Every set named (None for a missing key); WrongType if any key is another type."""
    return [_read(view, key) for key in keys]


def _intersection(sets: list[Collection | None], limit: int = 0) -> Iterator[bytes]:
    """The members in every set (at most `limit`, 0: no limit), walking the smallest."""
    present = [s for s in sets if s is not None]
    if len(present) < len(sets):
        return
    ordered = sorted({s.key: s for s in present}.values(), key=lambda s: s.count)
    smallest, others = ordered[0], ordered[1:]
    found = 0
    for suffix, _ in smallest.items():
        if all(other.get(suffix) is not None for other in others):
            yield suffix
            found += 1
            if found == limit:
                return


def _union(sets: list[Collection | None]) -> Iterator[bytes]:
    seen: set[bytes] = set()
    for s in sets:
        for suffix in _all(s):
            if suffix not in seen:
                seen.add(suffix)
                yield suffix


def _difference(sets: list[Collection | None]) -> Iterator[bytes]:
    first, rest = sets[0], [s for s in sets[1:] if s is not None]
    if first is None:
        return
    if any(s.key == first.key for s in rest):
        return
    # Redis's choice: look each member of the first set up in the others, or, when the
    # others are much smaller, remove their members from a copy of the first.
    if first.count * len(rest) // 2 <= sum(s.count for s in rest):
        for suffix, _ in first.items():
            if all(s.get(suffix) is None for s in rest):
                yield suffix
        return
    remaining = dict.fromkeys(_all(first))
    for s in rest:
        for suffix in _all(s):
            remaining.pop(suffix, None)
    yield from remaining


def sinter(view: KeyView, args: Args) -> Reply:
    return _members(_intersection(_sets(view, args)))


def sunion(view: KeyView, args: Args) -> Reply:
    return _members(_union(_sets(view, args)))


def sdiff(view: KeyView, args: Args) -> Reply:
    return _members(_difference(_sets(view, args)))


def _store(view: WritableView, destination: bytes, suffixes: list[bytes], event: bytes) -> int:
    """Replace `destination` (of any type, its expiry too) with a set of `suffixes`, as
    Redis's setKey (no "new" event for a key that existed); nothing: delete it."""
    if not suffixes:
        if view.delete(destination):
            view.notify(GENERIC, b"del", destination)
        return 0
    s = MutableCollection(view, destination, SET, None)  # a new version over what was there
    for suffix in suffixes:
        s.put(suffix, MEMBER, known_new=True)
    s.save()
    view.notify(SET_EVENTS, event, destination)
    return len(suffixes)


def sinterstore(view: WritableView, args: Args) -> Reply:
    return _store(view, args[0], list(_intersection(_sets(view, args[1:]))), b"sinterstore")


def sunionstore(view: WritableView, args: Args) -> Reply:
    return _store(view, args[0], list(_union(_sets(view, args[1:]))), b"sunionstore")


def sdiffstore(view: WritableView, args: Args) -> Reply:
    return _store(view, args[0], list(_difference(_sets(view, args[1:]))), b"sdiffstore")


@attrs.frozen(slots=True)
class CardArgs:
    keys: tuple[bytes, ...]
    limit: int  # 0: no limit


def parse_sintercard(args: Args) -> CardArgs | ErrorReply:
    numkeys = parse_int(args[0])
    if numkeys is None or numkeys < 1:
        return ErrorReply("ERR numkeys should be greater than 0")
    if numkeys > len(args) - 1:
        return ErrorReply("ERR Number of keys can't be greater than number of args")
    limit, i = 0, 1 + numkeys
    while i < len(args):
        if args[i].lower() != b"limit" or i + 1 >= len(args):
            return SYNTAX_ERROR
        parsed = parse_int(args[i + 1])
        if parsed is None or parsed < 0:
            return ErrorReply("ERR LIMIT can't be negative")
        limit, i = parsed, i + 2
    return CardArgs(args[1 : 1 + numkeys], limit)


def sintercard(view: KeyView, cmd: CardArgs) -> Reply:
    return sum(1 for _ in _intersection(_sets(view, cmd.keys), cmd.limit))


def sintercard_keys(argv: list[bytes]) -> list[tuple[int, str]]:
    """SINTERCARD's keys: the `numkeys` arguments after it (none if it is not a number)."""
    numkeys = parse_int(argv[1]) if len(argv) > 1 else None
    if numkeys is None or numkeys < 1:
        return []
    return [(pos, "RO access") for pos in range(2, min(2 + numkeys, len(argv)))]


# -- SSCAN ----------------------------------------------------------------------------------
def sscan(view: KeyView, cmd: MemberScan) -> Reply:
    return scan_members(_read(view, cmd.key), cmd, with_values=False)


row = registry.rows("set")
_ALGEBRA = "O(N) where N is the total number of elements in all given sets."
_INTER = (
    "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets."
)
# fmt: off
registry.write("sadd", args_as_is, sadd, row(
    -3, "write denyoom fast", ONE, "1.0.0",
    "O(1) for each element added, so O(N) to add N elements when the command is called with "
    "multiple arguments.", "Add one or more members to a set", access=("RW insert",)))
registry.write("srem", args_as_is, srem, row(
    -3, "write fast", ONE, "1.0.0", "O(N) where N is the number of members to be removed.",
    "Remove one or more members from a set", access=("RW delete",)))
registry.read("scard", args_as_is, scard, row(
    2, "readonly fast", ONE, "1.0.0", "O(1)", "Get the number of members in a set",
    access=("RO",)))
registry.read("sismember", args_as_is, sismember, row(
    3, "readonly fast", ONE, "1.0.0", "O(1)", "Determine if a given value is a member of a set",
    access=("RO",)))
registry.read("smismember", args_as_is, smismember, row(
    -3, "readonly fast", ONE, "6.2.0",
    "O(N) where N is the number of elements being checked for membership",
    "Returns the membership associated with the given elements for a set"))
registry.read("smembers", args_as_is, smembers, row(
    2, "readonly", ONE, "1.0.0", "O(N) where N is the set cardinality.",
    "Get all the members in a set"))
registry.read("srandmember", parse_srandmember, srandmember, row(
    -2, "readonly", ONE, "1.0.0",
    "Without the count argument O(1), otherwise O(N) where N is the absolute value of the "
    "passed count.", "Get one or multiple random members from a set"))
registry.write("spop", parse_spop, spop, row(
    -2, "write fast", ONE, "1.0.0",
    "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.",
    "Remove and return one or multiple random members from a set",
    access=("RW access delete",)))
registry.write("smove", args_as_is, smove, row(
    4, "write fast", (1, 2, 1), "1.0.0", "O(1)", "Move a member from one set to another",
    access=("RW access delete", "RW insert")))
registry.read("sinter", args_as_is, sinter, row(
    -2, "readonly", ALL, "1.0.0", _INTER, "Intersect multiple sets"))
registry.read("sintercard", parse_sintercard, sintercard, row(
    -3, "readonly movablekeys", NONE, "7.0.0", _INTER,
    "Intersect multiple sets and return the cardinality of the result",
    keys_proc=sintercard_keys))
registry.write("sinterstore", args_as_is, sinterstore, row(
    -3, "write denyoom", ALL, "1.0.0", _INTER,
    "Intersect multiple sets and store the resulting set in a key",
    access=("RW update", "RO access")))
registry.read("sunion", args_as_is, sunion, row(
    -2, "readonly", ALL, "1.0.0", _ALGEBRA, "Add multiple sets"))
registry.write("sunionstore", args_as_is, sunionstore, row(
    -3, "write denyoom", ALL, "1.0.0", _ALGEBRA,
    "Add multiple sets and store the resulting set in a key",
    access=("OW update", "RO access")))
registry.read("sdiff", args_as_is, sdiff, row(
    -2, "readonly", ALL, "1.0.0", _ALGEBRA, "Subtract multiple sets"))
registry.write("sdiffstore", args_as_is, sdiffstore, row(
    -3, "write denyoom", ALL, "1.0.0", _ALGEBRA,
    "Subtract multiple sets and store the resulting set in a key",
    access=("OW update", "RO access")))
registry.read("sscan", parse_member_scan, sscan, row(
    -3, "readonly", ONE, "2.8.0",
    "O(1) for every call. O(N) for a complete iteration, including enough command calls "
    "for the cursor to return back to 0. N is the number of elements inside the collection..",
    "Incrementally iterate Set elements"))
# fmt: on
plain_ops.plain("sadd", 3, sadd)
