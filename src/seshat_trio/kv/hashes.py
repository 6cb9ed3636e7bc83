"""Hash commands: HSET and friends, reads, counters, HRANDFIELD, HSCAN.

A hash is a collection (kv/collections.py): one element record per field, the field's
`member_suffix` -> its value. Every command costs what it touches: HSET, HGET, HDEL and
HINCRBY read and write only their fields (plus the metadata record), never the whole hash.
Replies and errors are Redis 7.0's; fields come back in hash order (crc32 of the field),
where Redis returns a small hash's fields in insertion order (docs/commands.md). Writes
raise Redis 7.0's keyspace notifications (t_hash.c).
"""

from __future__ import annotations

from collections.abc import Iterable

from seshat_trio.kv import plain_ops, registry, sampling
from seshat_trio.kv.collections import (
    Collection,
    MutableCollection,
    member_of,
    member_suffix,
)
from seshat_trio.kv.parsing import (
    LLONG_MAX,
    LLONG_MIN,
    NOT_FLOAT,
    NOT_INTEGER,
    add_decimals,
    format_decimal,
    is_representable,
    parse_decimal,
    parse_int,
)
from seshat_trio.kv.registry import ONE, Args, args_as_is
from seshat_trio.kv.scan import MemberScan, parse_member_scan, scan_members
from seshat_trio.kv.types import register_type
from seshat_trio.kv.values import OK, too_large
from seshat_trio.kv.view import KeyView, WritableView
from seshat_trio.protocol import ErrorReply, Pairs, Reply
from seshat_trio.pubsub.notify import GENERIC
from seshat_trio.pubsub.notify import HASH as HASH_EVENTS

HASH = 4
register_type(HASH, "hash", lambda value: b"hashtable", collection=True)


def _read(view: KeyView, key: bytes) -> Collection | None:
    return Collection.read(view, key, HASH)


# -- HSET, HMSET, HSETNX -----------------------------------------------------------------
def _parse_pairs(command: str) -> registry.Parser[Args]:
    def parse(args: Args) -> Args | ErrorReply:
        if len(args) % 2 == 0:
            return ErrorReply(f"ERR wrong number of arguments for '{command}' command")
        return args

    return parse


def _set_fields(view: WritableView, args: Args) -> int:
    h = MutableCollection.open(view, args[0], HASH)
    added = sum(h.put(member_suffix(args[i]), args[i + 1]) for i in range(1, len(args), 2))
    h.save()
    view.notify(HASH_EVENTS, b"hset", args[0])
    return added


def hset(view: WritableView, args: Args) -> Reply:
    return _set_fields(view, args)


def hmset(view: WritableView, args: Args) -> Reply:
    _set_fields(view, args)
    return OK


def hsetnx(view: WritableView, args: Args) -> Reply:
    key, field, value = args
    h = MutableCollection.open(view, key, HASH)
    suffix = member_suffix(field)
    if h.get(suffix) is not None:
        return 0
    h.put(suffix, value, known_new=True)
    h.save()
    view.notify(HASH_EVENTS, b"hset", key)
    return 1


# -- reads -------------------------------------------------------------------------------
def hget(view: KeyView, args: Args) -> Reply:
    h = _read(view, args[0])
    return None if h is None else h.get(member_suffix(args[1]))


def hmget(view: KeyView, args: Args) -> Reply:
    h = _read(view, args[0])
    if h is None:
        return [None] * (len(args) - 1)
    return [h.get(member_suffix(field)) for field in args[1:]]


def hexists(view: KeyView, args: Args) -> Reply:
    h = _read(view, args[0])
    return int(h is not None and h.get(member_suffix(args[1])) is not None)


def hlen(view: KeyView, args: Args) -> Reply:
    h = _read(view, args[0])
    return 0 if h is None else h.count


def hstrlen(view: KeyView, args: Args) -> Reply:
    h = _read(view, args[0])
    value = None if h is None else h.get(member_suffix(args[1]))
    return 0 if value is None else len(value)


def hkeys(view: KeyView, args: Args) -> Reply:
    h = _read(view, args[0])
    return [] if h is None else [member_of(suffix) for suffix, _ in h.items()]


def hvals(view: KeyView, args: Args) -> Reply:
    h = _read(view, args[0])
    return [] if h is None else [value for _, value in h.items()]


def hgetall(view: KeyView, args: Args) -> Reply:
    h = _read(view, args[0])
    return {} if h is None else {member_of(suffix): value for suffix, value in h.items()}


# -- HDEL ---------------------------------------------------------------------------------
def hdel(view: WritableView, args: Args) -> Reply:
    h = MutableCollection.existing(view, args[0], HASH)
    if h is None:
        return 0
    deleted = sum(h.delete(member_suffix(field)) for field in dict.fromkeys(args[1:]))
    if deleted:
        h.save()  # an emptied hash is deleted
        view.notify(HASH_EVENTS, b"hdel", args[0])
        if h.count == 0:
            view.notify(GENERIC, b"del", args[0])
    return deleted


# -- HINCRBY, HINCRBYFLOAT ------------------------------------------------------------------
def parse_hincrby(args: Args) -> tuple[bytes, bytes, int] | ErrorReply:
    by = parse_int(args[2])
    if by is None:
        return NOT_INTEGER
    return args[0], args[1], by


def hincrby(view: WritableView, parsed: tuple[bytes, bytes, int]) -> Reply:
    key, field, by = parsed
    h = MutableCollection.open(view, key, HASH)
    suffix = member_suffix(field)
    current = h.get(suffix)
    value = 0 if current is None else parse_int(current)
    if value is None:
        return ErrorReply("ERR hash value is not an integer")
    result = value + by
    if not LLONG_MIN <= result <= LLONG_MAX:
        return ErrorReply("ERR increment or decrement would overflow")
    h.put(suffix, b"%d" % result, known_new=current is None)
    h.save()
    view.notify(HASH_EVENTS, b"hincrby", key)
    return result


def parse_hincrbyfloat(args: Args) -> tuple[bytes, bytes, bytes] | ErrorReply:
    by = parse_decimal(args[2])
    if by is None:
        return NOT_FLOAT
    if not by.is_finite():
        return ErrorReply("ERR value is NaN or Infinity")
    return args[0], args[1], args[2]


def hincrbyfloat(view: WritableView, parsed: tuple[bytes, bytes, bytes]) -> Reply:
    key, field, by_text = parsed
    by = parse_decimal(by_text)
    h = MutableCollection.open(view, key, HASH)
    suffix = member_suffix(field)
    current = h.get(suffix)
    value = parse_decimal(b"0" if current is None else current)
    if value is None or by is None:
        return ErrorReply("ERR hash value is not a float")
    result = add_decimals(value, by)
    if not (is_representable(value) and is_representable(result)):
        return ErrorReply("ERR increment would produce NaN or Infinity")
    text = format_decimal(result)
    error = too_large(view, len(text))
    if error is not None:
        return error
    h.put(suffix, text, known_new=current is None)
    h.save()
    view.notify(HASH_EVENTS, b"hincrbyfloat", key)
    return text


# -- HRANDFIELD -----------------------------------------------------------------------------
def parse_hrandfield(args: Args) -> sampling.RandArgs | ErrorReply:
    return sampling.parse_random(args, b"withvalues")


def _fields_reply(items: Iterable[tuple[bytes, bytes]], with_values: bool) -> Reply:
    if with_values:
        return Pairs((member_of(suffix), value) for suffix, value in items)
    return [member_of(suffix) for suffix, _ in items]


def hrandfield(view: KeyView, cmd: sampling.RandArgs) -> Reply:
    h = _read(view, cmd.key)
    if cmd.count is None:
        if h is None:
            return None
        ((suffix, _),) = sampling.random_items(h, view.random(), 1)
        return member_of(suffix)
    if h is None or cmd.count == 0:
        return []
    if cmd.count < 0:
        return _fields_reply(sampling.random_items(h, view.random(), -cmd.count), cmd.with_pairs)
    if cmd.count >= h.count:
        return _fields_reply(h.items(), cmd.with_pairs)
    return _fields_reply(sampling.distinct_items(h, view.random(), cmd.count), cmd.with_pairs)


# -- HSCAN ----------------------------------------------------------------------------------
def hscan(view: KeyView, cmd: MemberScan) -> Reply:
    return scan_members(_read(view, cmd.key), cmd, with_values=True)


row = registry.rows("hash")
# fmt: off
registry.write("hset", _parse_pairs("hset"), hset, row(
    -4, "write denyoom fast", ONE, "2.0.0",
    "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the "
    "command is called with multiple field/value pairs.",
    "Creates or modifies the value of a field in a hash.", access=("RW update",)))
registry.write("hmset", _parse_pairs("hmset"), hmset, row(
    -4, "write denyoom fast", ONE, "2.0.0", "O(N) where N is the number of fields being set.",
    "Sets the values of multiple fields.", access=("RW update",)))
registry.write("hsetnx", args_as_is, hsetnx, row(
    4, "write denyoom fast", ONE, "2.0.0", "O(1)",
    "Sets the value of a field in a hash only when the field doesn't exist.",
    access=("RW insert",)))
registry.read("hget", args_as_is, hget, row(
    3, "readonly fast", ONE, "2.0.0", "O(1)", "Returns the value of a field in a hash."))
registry.read("hmget", args_as_is, hmget, row(
    -3, "readonly fast", ONE, "2.0.0", "O(N) where N is the number of fields being requested.",
    "Returns the values of all fields in a hash."))
registry.read("hexists", args_as_is, hexists, row(
    3, "readonly fast", ONE, "2.0.0", "O(1)", "Determines whether a field exists in a hash.",
    access=("RO",)))
registry.read("hlen", args_as_is, hlen, row(
    2, "readonly fast", ONE, "2.0.0", "O(1)", "Returns the number of fields in a hash.",
    access=("RO",)))
registry.read("hstrlen", args_as_is, hstrlen, row(
    3, "readonly fast", ONE, "3.2.0", "O(1)", "Returns the length of the value of a field.",
    access=("RO",)))
registry.read("hkeys", args_as_is, hkeys, row(
    2, "readonly", ONE, "2.0.0", "O(N) where N is the size of the hash.",
    "Returns all fields in a hash."))
registry.read("hvals", args_as_is, hvals, row(
    2, "readonly", ONE, "2.0.0", "O(N) where N is the size of the hash.",
    "Returns all values in a hash."))
registry.read("hgetall", args_as_is, hgetall, row(
    2, "readonly", ONE, "2.0.0", "O(N) where N is the size of the hash.",
    "Returns all fields and values in a hash."))
registry.write("hdel", args_as_is, hdel, row(
    -3, "write fast", ONE, "2.0.0", "O(N) where N is the number of fields to be removed.",
    "Deletes one or more fields and their values from a hash. Deletes the hash if no fields "
    "remain.", access=("RW delete",)))
registry.write("hincrby", parse_hincrby, hincrby, row(
    4, "write denyoom fast", ONE, "2.0.0", "O(1)",
    "Increments the integer value of a field in a hash by a number. Uses 0 as initial value "
    "if the field doesn't exist."))
registry.write("hincrbyfloat", parse_hincrbyfloat, hincrbyfloat, row(
    4, "write denyoom fast", ONE, "2.6.0", "O(1)",
    "Increments the floating point value of a field by a number. Uses 0 as initial value if "
    "the field doesn't exist."))
registry.read("hrandfield", parse_hrandfield, hrandfield, row(
    -2, "readonly", ONE, "6.2.0", "O(N) where N is the number of fields returned",
    "Returns one or more random fields from a hash."))
registry.read("hscan", parse_member_scan, hscan, row(
    -3, "readonly", ONE, "2.8.0",
    "O(1) for every call. O(N) for a complete iteration, including enough command calls "
    "for the cursor to return back to 0. N is the number of elements inside the collection.",
    "Iterates over fields and values of a hash."))
# fmt: on
plain_ops.plain("hset", 4, hset)
