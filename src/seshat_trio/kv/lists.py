"""List commands: pushes and pops at both ends, ranges, LSET/LINSERT/LREM/LTRIM, LPOS,
LMOVE, LMPOP, and the non-blocking forms of the blocking pops.

A list is a collection (kv/collections.py) whose elements sit at dense signed 64-bit
positions: the metadata's type tail holds `head` and `tail` (the first position and one past
the last), element i of the list is the record at position head + i (suffix: the position
biased by 2**63, 8 bytes big-endian, so records sort in list order). So a push or pop at
either end, LINDEX and LSET touch one element record; LRANGE and LPOP/RPOP COUNT read the
records they return; LTRIM deletes the records it removes. LINSERT and LREM keep positions
dense by moving the elements on the shorter side of the change, O(N) as in Redis. An
emptied list is deleted.

BLPOP, BRPOP, BLMOVE, BRPOPLPUSH and BLMPOP are registered here as what they do at apply
time: one non-blocking attempt (Redis's behaviour inside MULTI or a script), answering nil
when every list is empty. Blocking is the command layer's (seshat_trio.blocking): it waits
on the client's node and runs these attempts as ordinary writes.

Replies, errors and keyspace events are Redis 7.0's (t_list.c).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator

import attrs

from seshat_trio.kv import blocking, registry
from seshat_trio.kv.blocking import parse_timeout
from seshat_trio.kv.collections import Collection, MutableCollection
from seshat_trio.kv.parsing import LLONG_MIN, NOT_INTEGER, SYNTAX_ERROR, parse_int, parse_multi_pop
from seshat_trio.kv.registry import ONE, Args, args_as_is
from seshat_trio.kv.types import register_type
from seshat_trio.kv.values import OK
from seshat_trio.kv.view import KeyView, WritableView
from seshat_trio.protocol import NULL_ARRAY, ErrorReply, Reply
from seshat_trio.pubsub.notify import GENERIC
from seshat_trio.pubsub.notify import LIST as LIST_EVENTS
from seshat_trio.storage import Span

LIST = 1
register_type(LIST, "list", lambda value: b"quicklist", collection=True)

_ENDS = struct.Struct(">qq")  # head, tail
_POSITION = struct.Struct(">Q")
_BIAS = 1 << 63
LEFT, RIGHT = b"left", b"right"

NO_SUCH_KEY = ErrorReply("ERR no such key")
MUST_BE_POSITIVE = ErrorReply("ERR value is out of range, must be positive")


def _suffix(position: int) -> bytes:
    return _POSITION.pack(position + _BIAS)


class ListReader:
    """A list as a command reads it: element i is at position head + i."""

    __slots__ = ("c", "head", "tail")

    def __init__(self, c: Collection) -> None:
        self.c = c
        head: int
        tail: int
        head, tail = _ENDS.unpack(c.tail) if c.tail else (0, 0)
        self.head, self.tail = head, tail

    def __len__(self) -> int:
        return self.tail - self.head

    def at(self, index: int) -> bytes | None:
        """Element `index` (negative: from the end), None when out of range."""
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            return None
        return self.c.get(_suffix(self.head + index))

    def values(self, start: int, stop: int, *, reverse: bool = False) -> Iterator[bytes]:
        """Elements start <= i < stop (0 <= start <= stop <= len), backwards if `reverse`."""
        if start >= stop:
            return iter(())
        span = Span(_suffix(self.head + start), _suffix(self.head + stop), reverse)
        return (element for _, element in self.c.items(span))

    def indexed(self, start: int, stop: int, *, reverse: bool) -> Iterator[tuple[int, bytes]]:
        """(i, element i) for start <= i < stop, from `stop` down if `reverse`."""
        indexes = range(stop - 1, start - 1, -1) if reverse else range(start, stop)
        return zip(indexes, self.values(start, stop, reverse=reverse), strict=False)


class ListWriter(ListReader):
    """A list a write command changes (created empty, unsaved, when the key is absent)."""

    __slots__ = ("m",)

    def __init__(self, m: MutableCollection) -> None:
        super().__init__(m)
        self.m = m

    def _put(self, position: int, element: bytes) -> None:
        self.m.writer.put_element(self.m.key, self.m.version, _suffix(position), element)

    def _drop(self, position: int) -> None:
        self.m.writer.delete_element(self.m.key, self.m.version, _suffix(position))

    def push(self, where: bytes, element: bytes) -> None:
        if where == LEFT:
            self.head -= 1
            self._put(self.head, element)
        else:
            self._put(self.tail, element)
            self.tail += 1

    def pop(self, where: bytes) -> bytes:
        """Remove and return the element at one end (the list is not empty)."""
        position = self.head if where == LEFT else self.tail - 1
        element = self.m.get(_suffix(position))
        assert element is not None, "a list's positions are dense"
        self._drop(position)
        if where == LEFT:
            self.head += 1
        else:
            self.tail -= 1
        return element

    def pop_many(self, where: bytes, count: int) -> list[bytes]:
        """Up to `count` elements from one end, in the order they are popped."""
        count = min(count, len(self))
        if where == LEFT:
            popped = list(self.values(0, count))
            first = self.head
            self.head += count
        else:
            popped = list(self.values(len(self) - count, len(self), reverse=True))
            self.tail -= count
            first = self.tail
        if len(self):  # an emptied list's records go with its key at save
            for position in range(first, first + count):
                self._drop(position)
        return popped

    def set(self, index: int, element: bytes) -> None:
        self._put(self.head + index, element)

    def trim(self, left: int, right: int) -> None:
        """Remove `left` elements from the head and `right` from the tail."""
        if left + right >= len(self):
            self.tail = self.head  # the whole list goes with its key
            return
        for position in range(self.head, self.head + left):
            self._drop(position)
        for position in range(self.tail - right, self.tail):
            self._drop(position)
        self.head += left
        self.tail -= right

    def splice(self, start: int, stop: int, new: list[bytes]) -> None:
        """Replace elements start <= i < stop by `new`, moving the shorter side so that the
        positions stay dense (O(the elements moved))."""
        delta = len(new) - (stop - start)
        if start <= len(self) - stop:  # the part before moves
            moved = [*self.values(0, start), *new]
            old_head, self.head = self.head, self.head - delta
            for offset, element in enumerate(moved):
                self._put(self.head + offset, element)
            for position in range(old_head, self.head):  # shrunk: vacated positions
                self._drop(position)
        else:  # the part after moves
            moved = [*new, *self.values(stop, len(self))]
            for offset, element in enumerate(moved):
                self._put(self.head + start + offset, element)
            old_tail, self.tail = self.tail, self.tail + delta
            for position in range(self.tail, old_tail):
                self._drop(position)

    def save(self) -> None:
        self.m.count = len(self)
        self.m.tail = _ENDS.pack(self.head, self.tail)
        self.m.save()


def read_list(view: KeyView, key: bytes) -> ListReader | None:
    c = Collection.read(view, key, LIST)
    return None if c is None else ListReader(c)


def open_list(view: WritableView, key: bytes) -> ListWriter:
    """The list at `key`, new and empty if absent; WrongType if another type."""
    return ListWriter(MutableCollection.open(view, key, LIST))


def existing_list(view: WritableView, key: bytes) -> ListWriter | None:
    m = MutableCollection.existing(view, key, LIST)
    return None if m is None else ListWriter(m)


def _popped(view: WritableView, lst: ListWriter, where: bytes) -> None:
    """Save after a pop and raise its events (lpop/rpop, then del if it emptied the list)."""
    lst.save()
    key = lst.m.key
    view.notify(LIST_EVENTS, b"lpop" if where == LEFT else b"rpop", key)
    if not len(lst):
        view.notify(GENERIC, b"del", key)


def _end(arg: bytes) -> bytes | None:
    """LEFT or RIGHT (any case), as LEFT/RIGHT; None otherwise."""
    lowered = arg.lower()
    return lowered if lowered in (LEFT, RIGHT) else None


# -- pushes -------------------------------------------------------------------------------
def _push(where: bytes, *, only_existing: bool) -> Callable[[WritableView, Args], Reply]:
    event = b"lpush" if where == LEFT else b"rpush"

    def push(view: WritableView, args: Args) -> Reply:
        if only_existing:
            lst = existing_list(view, args[0])
            if lst is None:
                return 0
        else:
            lst = open_list(view, args[0])
        for element in args[1:]:
            lst.push(where, element)
        lst.save()
        view.notify(LIST_EVENTS, event, args[0])
        return len(lst)

    return push


# -- LPOP, RPOP ---------------------------------------------------------------------------
@attrs.frozen(slots=True)
class PopArgs:
    key: bytes
    count: int | None


def parse_pop(args: Args) -> PopArgs | ErrorReply:
    if len(args) == 1:
        return PopArgs(args[0], None)
    count = parse_int(args[1])
    if count is None or count < 0:
        return MUST_BE_POSITIVE
    return PopArgs(args[0], count)


def _pop(where: bytes) -> Callable[[WritableView, PopArgs], Reply]:
    def pop(view: WritableView, cmd: PopArgs) -> Reply:
        lst = existing_list(view, cmd.key)
        if lst is None:
            return None if cmd.count is None else NULL_ARRAY
        if cmd.count is None:
            element = lst.pop(where)
            _popped(view, lst, where)
            return element
        if cmd.count == 0:
            return []
        popped = lst.pop_many(where, cmd.count)
        _popped(view, lst, where)
        return popped

    return pop


# -- reads --------------------------------------------------------------------------------
def llen(view: KeyView, args: Args) -> Reply:
    lst = read_list(view, args[0])
    return 0 if lst is None else len(lst)


def parse_key_ints(args: Args) -> tuple[bytes, int, int] | ErrorReply:
    start, stop = parse_int(args[1]), parse_int(args[2])
    if start is None or stop is None:
        return NOT_INTEGER
    return args[0], start, stop


def _clamp(start: int, stop: int, length: int) -> tuple[int, int]:
    """Redis's range rules for inclusive indexes: (first, one past the last), empty if
    first >= that."""
    if start < 0:
        start += length
    if stop < 0:
        stop += length
    start = max(start, 0)
    if start > stop or start >= length:
        return 0, 0
    return start, min(stop, length - 1) + 1


def lrange(view: KeyView, parsed: tuple[bytes, int, int]) -> Reply:
    key, start, stop = parsed
    lst = read_list(view, key)
    if lst is None:
        return []
    return list(lst.values(*_clamp(start, stop, len(lst))))


def lindex(view: KeyView, args: Args) -> Reply:
    lst = read_list(view, args[0])
    if lst is None:
        return None
    index = parse_int(args[1])  # as Redis: read after the key and its type
    return NOT_INTEGER if index is None else lst.at(index)


# -- LSET, LINSERT, LREM, LTRIM -------------------------------------------------------------
def lset(view: WritableView, args: Args) -> Reply:
    key, index_arg, element = args
    lst = existing_list(view, key)
    if lst is None:
        return NO_SUCH_KEY
    index = parse_int(index_arg)  # as Redis: read after the key and its type
    if index is None:
        return NOT_INTEGER
    if index < 0:
        index += len(lst)
    if not 0 <= index < len(lst):
        return ErrorReply("ERR index out of range")
    lst.set(index, element)
    lst.save()
    view.notify(LIST_EVENTS, b"lset", key)
    return OK


def parse_linsert(args: Args) -> tuple[bytes, bool, bytes, bytes] | ErrorReply:
    where = args[1].lower()
    if where not in (b"before", b"after"):
        return SYNTAX_ERROR
    return args[0], where == b"after", args[2], args[3]


def linsert(view: WritableView, parsed: tuple[bytes, bool, bytes, bytes]) -> Reply:
    key, after, pivot, element = parsed
    lst = existing_list(view, key)
    if lst is None:
        return 0
    found = next((i for i, value in enumerate(lst.values(0, len(lst))) if value == pivot), None)
    if found is None:
        return -1
    at = found + after
    lst.splice(at, at, [element])
    lst.save()
    view.notify(LIST_EVENTS, b"linsert", key)
    return len(lst)


def parse_lrem(args: Args) -> tuple[bytes, int, bytes] | ErrorReply:
    count = parse_int(args[1])
    return NOT_INTEGER if count is None else (args[0], count, args[2])


def lrem(view: WritableView, parsed: tuple[bytes, int, bytes]) -> Reply:
    key, count, element = parsed
    lst = existing_list(view, key)
    if lst is None:
        return 0
    length = len(lst)
    limit = abs(count) or length
    # The removed indexes, found from the head (count >= 0) or from the tail.
    removed: list[int] = []
    for index, value in lst.indexed(0, length, reverse=count < 0):
        if value == element:
            removed.append(index)
            if len(removed) == limit:
                break
    if not removed:
        return 0
    first, last = min(removed), max(removed)
    gone = set(removed)
    kept = [v for i, v in enumerate(lst.values(first, last + 1), first) if i not in gone]
    lst.splice(first, last + 1, kept)
    lst.save()
    view.notify(LIST_EVENTS, b"lrem", key)
    if not len(lst):
        view.notify(GENERIC, b"del", key)
    return len(removed)


def ltrim(view: WritableView, parsed: tuple[bytes, int, int]) -> Reply:
    key, start, stop = parsed
    lst = existing_list(view, key)
    if lst is None:
        return OK
    first, end = _clamp(start, stop, len(lst))
    if first >= end:
        first = end = len(lst)
    lst.trim(first, len(lst) - end)
    lst.save()
    view.notify(LIST_EVENTS, b"ltrim", key)
    if not len(lst):
        view.notify(GENERIC, b"del", key)
    return OK


# -- LPOS -----------------------------------------------------------------------------------
@attrs.frozen(slots=True)
class LposArgs:
    key: bytes
    element: bytes
    rank: int
    count: int | None  # None: one index (or nil); 0: every match
    maxlen: int


def _non_negative(arg: bytes, error: str) -> int | ErrorReply:
    value = parse_int(arg)
    return ErrorReply(error) if value is None or value < 0 else value


def parse_lpos(args: Args) -> LposArgs | ErrorReply:
    rank, count, maxlen = 1, None, 0
    i = 2
    while i < len(args):
        option = args[i].lower()
        if i + 1 >= len(args) or option not in (b"rank", b"count", b"maxlen"):
            return SYNTAX_ERROR
        arg = args[i + 1]
        i += 2
        if option == b"rank":
            value = parse_int(arg)
            if value is None:
                return NOT_INTEGER
            if value == 0:
                return ErrorReply(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the "
                    "second ... or use negative to start from the end of the list"
                )
            rank = value
        elif option == b"count":
            parsed = _non_negative(arg, "ERR COUNT can't be negative")
            if isinstance(parsed, ErrorReply):
                return parsed
            count = parsed
        else:
            parsed = _non_negative(arg, "ERR MAXLEN can't be negative")
            if isinstance(parsed, ErrorReply):
                return parsed
            maxlen = parsed
    return LposArgs(args[0], args[1], rank, count, maxlen)


def lpos(view: KeyView, cmd: LposArgs) -> Reply:
    lst = read_list(view, cmd.key)
    if lst is None:
        return None if cmd.count is None else []
    length = len(lst)
    examined = min(cmd.maxlen or length, length)
    wanted = 1 if cmd.count is None else cmd.count or length
    skip = abs(cmd.rank) - 1
    if cmd.rank == LLONG_MIN:  # Redis negates it and overflows: every match counts
        skip, wanted = 0, 1 if cmd.count is None else length
    found: list[int] = []
    if cmd.rank > 0:
        scan = lst.indexed(0, examined, reverse=False)
    else:
        scan = lst.indexed(length - examined, length, reverse=True)
    for index, value in scan:
        if value != cmd.element:
            continue
        if skip:
            skip -= 1
            continue
        found.append(index)
        if len(found) == wanted:
            break
    if cmd.count is None:
        return found[0] if found else None
    return found


# -- LMOVE, RPOPLPUSH -------------------------------------------------------------------------
@attrs.frozen(slots=True)
class MoveArgs:
    source: bytes
    dest: bytes
    wherefrom: bytes
    whereto: bytes


def parse_lmove(args: Args) -> MoveArgs | ErrorReply:
    wherefrom, whereto = _end(args[2]), _end(args[3])
    if wherefrom is None or whereto is None:
        return SYNTAX_ERROR
    return MoveArgs(args[0], args[1], wherefrom, whereto)


def parse_rpoplpush(args: Args) -> MoveArgs | ErrorReply:
    return MoveArgs(args[0], args[1], RIGHT, LEFT)


def lmove(view: WritableView, cmd: MoveArgs) -> Reply:
    source = existing_list(view, cmd.source)
    if source is None:
        return None
    # As Redis: the destination's type is checked before anything moves.
    dest = source if cmd.dest == cmd.source else open_list(view, cmd.dest)
    element = source.pop(cmd.wherefrom)
    dest.push(cmd.whereto, element)
    dest.save()
    view.notify(LIST_EVENTS, b"lpush" if cmd.whereto == LEFT else b"rpush", cmd.dest)
    if dest is not source:
        _popped(view, source, cmd.wherefrom)
    else:
        view.notify(LIST_EVENTS, b"lpop" if cmd.wherefrom == LEFT else b"rpop", cmd.source)
    return element


# -- LMPOP ----------------------------------------------------------------------------------
@attrs.frozen(slots=True)
class MpopArgs:
    keys: tuple[bytes, ...]
    where: bytes
    count: int


def parse_mpop_tail(args: Args) -> MpopArgs | ErrorReply:
    """`numkeys key... LEFT|RIGHT [COUNT count]` (LMPOP's arguments, BLMPOP's after the
    timeout)."""
    parsed = parse_multi_pop(args, (LEFT, RIGHT))
    return parsed if isinstance(parsed, ErrorReply) else MpopArgs(*parsed)


def mpop_keys(first: int) -> registry.KeysProc:
    """Key positions of `numkeys key...` starting at argv[first] (LMPOP 1, BLMPOP 2)."""

    def keys(argv: list[bytes]) -> list[tuple[int, str]]:
        numkeys = parse_int(argv[first]) if len(argv) > first else None
        if numkeys is None or numkeys <= 0 or first + numkeys >= len(argv):
            return []
        return [(pos, "RW access delete") for pos in range(first + 1, first + 1 + numkeys)]

    return keys


def lmpop(view: WritableView, cmd: MpopArgs) -> Reply:
    for key in cmd.keys:
        lst = existing_list(view, key)
        if lst is not None:
            popped = lst.pop_many(cmd.where, cmd.count)
            _popped(view, lst, cmd.where)
            return [key, popped]
    return NULL_ARRAY


# -- the blocking pops, as one non-blocking attempt -------------------------------------------
@attrs.frozen(slots=True)
class BpopArgs:
    keys: tuple[bytes, ...]
    where: bytes


def _parse_bpop(where: bytes) -> registry.Parser[BpopArgs]:
    def parse(args: Args) -> BpopArgs | ErrorReply:
        timeout = parse_timeout(args[-1])
        if isinstance(timeout, ErrorReply):
            return timeout
        return BpopArgs(args[:-1], where)

    return parse


def bpop(view: WritableView, cmd: BpopArgs) -> Reply:
    """BLPOP/BRPOP once: [key, element] from the first non-empty list, or a nil array."""
    for key in cmd.keys:
        lst = existing_list(view, key)
        if lst is not None:
            element = lst.pop(cmd.where)
            _popped(view, lst, cmd.where)
            return [key, element]
    return NULL_ARRAY


def parse_blmove(args: Args) -> MoveArgs | ErrorReply:
    parsed = parse_lmove(args[:4])
    if isinstance(parsed, ErrorReply):
        return parsed
    timeout = parse_timeout(args[4])
    return timeout if isinstance(timeout, ErrorReply) else parsed


def parse_brpoplpush(args: Args) -> MoveArgs | ErrorReply:
    timeout = parse_timeout(args[2])
    return timeout if isinstance(timeout, ErrorReply) else MoveArgs(args[0], args[1], RIGHT, LEFT)


def parse_blmpop(args: Args) -> MpopArgs | ErrorReply:
    parsed = parse_mpop_tail(args[1:])  # as Redis: the timeout is read last
    if isinstance(parsed, ErrorReply):
        return parsed
    timeout = parse_timeout(args[0])
    return timeout if isinstance(timeout, ErrorReply) else parsed


def _blmpop_keys(args: Args) -> tuple[bytes, ...]:
    parsed = parse_mpop_tail(args[1:])
    return () if isinstance(parsed, ErrorReply) else parsed.keys


row = registry.rows("list")
_PUSH = "O(1) for each element added, so O(N) to add N elements when the command is called " \
    "with multiple arguments."  # fmt: skip
_MOVE_KEYS = ("RW access delete", "RW insert")
# fmt: off
registry.write("lpush", args_as_is, _push(LEFT, only_existing=False), row(
    -3, "write denyoom fast", ONE, "1.0.0", _PUSH, "Prepend one or multiple elements to a list",
    access=("RW insert",)))
registry.write("rpush", args_as_is, _push(RIGHT, only_existing=False), row(
    -3, "write denyoom fast", ONE, "1.0.0", _PUSH, "Append one or multiple elements to a list",
    access=("RW insert",)))
registry.write("lpushx", args_as_is, _push(LEFT, only_existing=True), row(
    -3, "write denyoom fast", ONE, "2.2.0", _PUSH,
    "Prepend an element to a list, only if the list exists", access=("RW insert",)))
registry.write("rpushx", args_as_is, _push(RIGHT, only_existing=True), row(
    -3, "write denyoom fast", ONE, "2.2.0", _PUSH,
    "Append an element to a list, only if the list exists", access=("RW insert",)))
registry.write("lpop", parse_pop, _pop(LEFT), row(
    -2, "write fast", ONE, "1.0.0", "O(N) where N is the number of elements returned",
    "Remove and get the first elements in a list", access=("RW access delete",)))
registry.write("rpop", parse_pop, _pop(RIGHT), row(
    -2, "write fast", ONE, "1.0.0", "O(N) where N is the number of elements returned",
    "Remove and get the last elements in a list", access=("RW access delete",)))
registry.read("llen", args_as_is, llen, row(
    2, "readonly fast", ONE, "1.0.0", "O(1)", "Get the length of a list", access=("RO",)))
registry.read("lrange", parse_key_ints, lrange, row(
    4, "readonly", ONE, "1.0.0",
    "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest "
    "end (HEAD or TAIL) for large lists; and N is the number of elements in the specified "
    "range.", "Get a range of elements from a list"))
registry.read("lindex", args_as_is, lindex, row(
    3, "readonly", ONE, "1.0.0",
    "O(N) where N is the number of elements to traverse to get to the element at index. This "
    "makes asking for the first or the last element of the list O(1).",
    "Get an element from a list by its index"))
registry.write("lset", args_as_is, lset, row(
    4, "write denyoom", ONE, "1.0.0",
    "O(N) where N is the length of the list. Setting either the first or the last element of "
    "the list is O(1).", "Set the value of an element in a list by its index",
    access=("RW update",)))
registry.write("linsert", parse_linsert, linsert, row(
    5, "write denyoom", ONE, "2.2.0",
    "O(N) where N is the number of elements to traverse before seeing the value pivot. This "
    "means that inserting somewhere on the left end on the list (head) can be considered O(1) "
    "and inserting somewhere on the right end (tail) is O(N).",
    "Insert an element before or after another element in a list", access=("RW insert",)))
registry.write("lrem", parse_lrem, lrem, row(
    4, "write", ONE, "1.0.0",
    "O(N+M) where N is the length of the list and M is the number of elements removed.",
    "Remove elements from a list", access=("RW delete",)))
registry.write("ltrim", parse_key_ints, ltrim, row(
    4, "write", ONE, "1.0.0",
    "O(N) where N is the number of elements to be removed by the operation.",
    "Trim a list to the specified range", access=("RW delete",)))
registry.read("lpos", parse_lpos, lpos, row(
    -3, "readonly", ONE, "6.0.6",
    "O(N) where N is the number of elements in the list, for the average case. When searching "
    "for elements near the head or the tail of the list, or when the MAXLEN option is "
    "provided, the command may run in constant time.",
    "Return the index of matching elements on a list"))
registry.write("lmove", parse_lmove, lmove, row(
    5, "write denyoom", (1, 2, 1), "6.2.0", "O(1)",
    "Pop an element from a list, push it to another list and return it", access=_MOVE_KEYS))
registry.write("rpoplpush", parse_rpoplpush, lmove, row(
    3, "write denyoom", (1, 2, 1), "1.2.0", "O(1)",
    "Remove the last element in a list, prepend it to another list and return it",
    access=_MOVE_KEYS))
registry.write("lmpop", parse_mpop_tail, lmpop, row(
    -4, "write movablekeys", (0, 0, 0), "7.0.0",
    "O(N+M) where N is the number of provided keys and M is the number of elements returned.",
    "Pop elements from a list", keys_proc=mpop_keys(1)))
registry.write("blpop", _parse_bpop(LEFT), bpop, row(
    -3, "write noscript blocking", (1, -2, 1), "2.0.0",
    "O(N) where N is the number of provided keys.",
    "Remove and get the first element in a list, or block until one is available",
    access=("RW access delete",)))
registry.write("brpop", _parse_bpop(RIGHT), bpop, row(
    -3, "write noscript blocking", (1, -2, 1), "2.0.0",
    "O(N) where N is the number of provided keys.",
    "Remove and get the last element in a list, or block until one is available",
    access=("RW access delete",)))
registry.write("blmove", parse_blmove, lmove, row(
    6, "write denyoom noscript blocking", (1, 2, 1), "6.2.0", "O(1)",
    "Pop an element from a list, push it to another list and return it; or block until one "
    "is available", access=_MOVE_KEYS))
registry.write("brpoplpush", parse_brpoplpush, lmove, row(
    4, "write denyoom noscript blocking", (1, 2, 1), "2.2.0", "O(1)",
    "Pop an element from a list, push it to another list and return it; or block until one "
    "is available", access=_MOVE_KEYS))
registry.write("blmpop", parse_blmpop, lmpop, row(
    -5, "write blocking movablekeys", (0, 0, 0), "7.0.0",
    "O(N+M) where N is the number of provided keys and M is the number of elements returned.",
    "Pop elements from a list, or block until one is available", keys_proc=mpop_keys(2)))
# fmt: on

# Once blocked, each waits on the keys holding lists (Redis times all of them out with a nil
# array: the default).
blocking.register("blpop", timeout_at=-1, keys=lambda args: args[:-1], kind=LIST,
                  retarget=blocking.keys_then_timeout)  # fmt: skip
blocking.register("brpop", timeout_at=-1, keys=lambda args: args[:-1], kind=LIST,
                  retarget=blocking.keys_then_timeout)  # fmt: skip
blocking.register("blmove", timeout_at=4, keys=lambda args: args[:1], kind=LIST,
                  retarget=blocking.one_key, destination=lambda args: args[1])  # fmt: skip
blocking.register("brpoplpush", timeout_at=2, keys=lambda args: args[:1], kind=LIST,
                  retarget=blocking.one_key, destination=lambda args: args[1])  # fmt: skip
blocking.register("blmpop", timeout_at=0, keys=_blmpop_keys, kind=LIST,
                  retarget=blocking.timeout_numkeys_keys)  # fmt: skip
