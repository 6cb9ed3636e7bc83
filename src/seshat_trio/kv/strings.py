"""String commands: SET and its variants, GET and its variants, ranges, counters.

Every function here runs against a view (see kv/view.py); replies and errors are Redis
7.0's. A write validates everything before it changes anything, so an error reply means
the key is untouched. SET (and MSET, SETEX, ...) replaces a value of any type, as Redis;
every other command here answers WRONGTYPE on a key of another type. Writes raise Redis
7.0's keyspace notifications (t_string.c).
"""

from __future__ import annotations

from typing import Any

import attrs

from seshat_trio.kv import plain_ops, registry
from seshat_trio.kv.parsing import (
    LLONG_MAX,
    LLONG_MIN,
    NOT_FLOAT,
    NOT_INTEGER,
    SYNTAX_ERROR,
    add_decimals,
    format_decimal,
    is_representable,
    parse_decimal,
    parse_int,
)
from seshat_trio.kv.registry import ALL, ONE, Args, args_as_is
from seshat_trio.kv.types import register_type, typed
from seshat_trio.kv.values import (
    OK,
    PROTO_MAX_BULK_LEN,
    STRING,
    STRING_TOO_LONG,
    Expiry,
    invalid_expire,
    is_expiry_option,
    parse_expiry,
    store,
    too_large,
)
from seshat_trio.kv.view import KeyView, WritableView
from seshat_trio.protocol import ErrorReply, Reply
from seshat_trio.pubsub.notify import GENERIC
from seshat_trio.pubsub.notify import STRING as STRING_EVENTS
from seshat_trio.storage import StoredValue

# Stored as their bytes, whatever they hold (Redis's int and embstr are in-memory layouts).
register_type(STRING, "string", lambda value: b"raw", collection=False)


def _string(view: KeyView, key: bytes) -> StoredValue | None:
    return typed(view.get(key), STRING)


def _data(view: KeyView, key: bytes) -> bytes | None:
    value = typed(view.get(key), STRING)
    return None if value is None else value.data


# -- GET, MGET, STRLEN, GETRANGE -----------------------------------------------------------
def get(view: KeyView, args: Args) -> Reply:
    return _data(view, args[0])


def mget(view: KeyView, args: Args) -> Reply:
    # A key of another type reads as nil here, not WRONGTYPE (as Redis).
    values = (view.get(key) for key in args)
    return [None if v is None or v.kind != STRING else v.data for v in values]


def strlen(view: KeyView, args: Args) -> Reply:
    return len(_data(view, args[0]) or b"")


def parse_range(args: Args) -> tuple[bytes, int, int] | ErrorReply:
    start, end = parse_int(args[1]), parse_int(args[2])
    if start is None or end is None:
        return NOT_INTEGER
    return args[0], start, end


def getrange(view: KeyView, parsed: tuple[bytes, int, int]) -> Reply:
    key, start, end = parsed
    data = _data(view, key) or b""
    size = len(data)
    if start < 0 and end < 0 and start > end:
        return b""
    start = max(start + size if start < 0 else start, 0)
    end = max(end + size if end < 0 else end, 0)
    end = min(end, size - 1)
    return b"" if start > end or size == 0 else data[start : end + 1]


# -- SET -------------------------------------------------------------------------------
@attrs.frozen(slots=True)
class SetArgs:
    key: bytes
    value: bytes
    nx: bool = False
    xx: bool = False
    get: bool = False
    keepttl: bool = False
    expiry: Expiry | None = None
    command: str = "set"  # named in an expiry error (SETEX, PSETEX)


def check_set(args: Args) -> ErrorReply | None:
    """SET's check before proposing: a plain SET key value has nothing to refuse, so the
    leader builds no `SetArgs` (eight frozen fields) only to drop it."""
    if len(args) == 2:
        return None
    parsed = parse_set(args)
    return parsed if isinstance(parsed, ErrorReply) else None


def _takes_expiry(option: bytes, taken: bytes | None) -> bool:
    """Whether expiry `option` may come now: Redis refuses mixing EX, PX, EXAT and PXAT,
    but the same one again is accepted and the last one counts."""
    return is_expiry_option(option) and taken in (None, option)


def parse_set(args: Args) -> SetArgs | ErrorReply:
    if len(args) == 2:  # the common case, applied on every node: no options to parse
        return SetArgs(args[0], args[1])
    flags = {"nx": False, "xx": False, "get": False, "keepttl": False}
    # As Redis: every option is checked for syntax first, the expiry's number only then.
    expiry_option: bytes | None = None
    expiry_arg = b""
    i = 2
    while i < len(args):
        option = args[i].lower()
        if option == b"nx" and not flags["xx"]:
            flags["nx"] = True
        elif option == b"xx" and not flags["nx"]:
            flags["xx"] = True
        elif option == b"get":
            flags["get"] = True
        elif option == b"keepttl" and expiry_option is None:
            flags["keepttl"] = True
        elif _takes_expiry(option, expiry_option) and not flags["keepttl"] and i + 1 < len(args):
            expiry_option, expiry_arg = option, args[i + 1]
            i += 1
        else:
            return SYNTAX_ERROR
        i += 1
    expiry: Expiry | None = None
    if expiry_option is not None:
        parsed = parse_expiry(expiry_option, expiry_arg, "set")
        if isinstance(parsed, ErrorReply):
            return parsed
        expiry = parsed
    return SetArgs(
        args[0],
        args[1],
        nx=flags["nx"],
        xx=flags["xx"],
        get=flags["get"],
        keepttl=flags["keepttl"],
        expiry=expiry,
    )


def set_(view: WritableView, cmd: SetArgs) -> Reply:
    # A plain SET (the common case, applied on every node) does not depend on the old value.
    needs_current = cmd.nx or cmd.xx or cmd.get or cmd.keepttl
    current = view.get(cmd.key) if needs_current else None
    if cmd.get:
        typed(current, STRING)  # SET ... GET of another type answers WRONGTYPE, sets nothing
    expires_at_ms = 0
    if cmd.expiry is not None:
        when = cmd.expiry.at(view.time_ms)
        if when is None:
            return invalid_expire(cmd.command)
        expires_at_ms = when
    elif cmd.keepttl and current is not None:
        expires_at_ms = current.expires_at_ms
    old = None if current is None else current.data
    if (cmd.nx and current is not None) or (cmd.xx and current is None):
        return old if cmd.get else None
    store(view, cmd.key, cmd.value, expires_at_ms)
    view.notify(STRING_EVENTS, b"set", cmd.key)
    if cmd.expiry is not None:
        view.notify(GENERIC, b"expire", cmd.key)
    return old if cmd.get else OK


def plain_set(view: WritableView, args: Args, _value: Any = tuple.__new__) -> Reply:
    """SET key value without an option (kv/plain_ops.py): `set_`'s one write, unparsed."""
    key, value = args
    # StoredValue(STRING, value, 0), made without the named tuple's __new__ (a Python
    # function: ~80 ns more for every SET on every node).
    view.put(key, _value(StoredValue, (STRING, value, 0, 0)))
    view.notify(STRING_EVENTS, b"set", key)
    return OK


def parse_setnx(args: Args) -> SetArgs | ErrorReply:
    return SetArgs(args[0], args[1], nx=True)


def setnx(view: WritableView, cmd: SetArgs) -> Reply:
    return int(set_(view, cmd) == OK)


def _parse_setex(command: str, unit_ms: int) -> registry.Parser[SetArgs]:
    def parse(args: Args) -> SetArgs | ErrorReply:
        amount = parse_int(args[1])
        if amount is None:
            return NOT_INTEGER
        if amount <= 0 or amount > LLONG_MAX // unit_ms:
            return invalid_expire(command)
        expiry = Expiry(amount, unit_ms, absolute=False)
        return SetArgs(args[0], args[2], expiry=expiry, command=command)

    return parse


def getset(view: WritableView, args: Args) -> Reply:
    old = _data(view, args[0])
    store(view, args[0], args[1])
    view.notify(STRING_EVENTS, b"set", args[0])
    return old


def getdel(view: WritableView, args: Args) -> Reply:
    old = _data(view, args[0])
    if old is not None:
        view.delete(args[0])
        view.notify(GENERIC, b"del", args[0])
    return old


# -- GETEX -----------------------------------------------------------------------------
@attrs.frozen(slots=True)
class GetexArgs:
    key: bytes
    expiry_option: bytes | None  # b"ex", b"px", b"exat" or b"pxat"; its number unparsed
    expiry_arg: bytes
    persist: bool


def parse_getex(args: Args) -> GetexArgs | ErrorReply:
    """The options' syntax only: Redis looks the key up before it checks the expiry's
    number, so a missing key answers nil whatever that number is (see `getex`)."""
    expiry_option: bytes | None = None
    expiry_arg = b""
    persist = False
    i = 1
    while i < len(args):
        option = args[i].lower()
        if option == b"persist" and expiry_option is None:
            persist = True  # PERSIST PERSIST is accepted, as in Redis
        elif _takes_expiry(option, expiry_option) and not persist and i + 1 < len(args):
            expiry_option, expiry_arg = option, args[i + 1]
            i += 1
        else:
            return SYNTAX_ERROR
        i += 1
    return GetexArgs(args[0], expiry_option, expiry_arg, persist)


def getex(view: WritableView, cmd: GetexArgs) -> Reply:
    current = _string(view, cmd.key)
    if current is None:
        return None
    if cmd.expiry_option is not None:
        expiry = parse_expiry(cmd.expiry_option, cmd.expiry_arg, "getex")
        if isinstance(expiry, ErrorReply):
            return expiry
        when = expiry.at(view.time_ms)
        if when is None:
            return invalid_expire("getex")
        store(view, cmd.key, current.data, when)
        # An absolute time already passed deletes the key: Redis says so with "del".
        passed = cmd.expiry_option in (b"exat", b"pxat") and when <= view.time_ms
        view.notify(GENERIC, b"del" if passed else b"expire", cmd.key)
    elif cmd.persist and current.expires_at_ms:
        store(view, cmd.key, current.data)
        view.notify(GENERIC, b"persist", cmd.key)
    return current.data


# -- MSET, MSETNX ----------------------------------------------------------------------
def _parse_pairs(command: str) -> registry.Parser[Args]:
    def parse(args: Args) -> Args | ErrorReply:
        if len(args) % 2:
            return ErrorReply(f"ERR wrong number of arguments for '{command}' command")
        return args

    return parse


def mset(view: WritableView, args: Args) -> Reply:
    for i in range(0, len(args), 2):
        store(view, args[i], args[i + 1])
        view.notify(STRING_EVENTS, b"set", args[i])
    return OK


def msetnx(view: WritableView, args: Args) -> Reply:
    if any(view.get(args[i]) is not None for i in range(0, len(args), 2)):
        return 0
    mset(view, args)
    return 1


# -- APPEND, SETRANGE ------------------------------------------------------------------
def append(view: WritableView, args: Args) -> Reply:
    key, suffix = args
    current = _string(view, key)
    data = b"" if current is None else current.data
    error = too_large(view, len(data) + len(suffix))
    if error is not None:
        return error
    store(view, key, data + suffix, 0 if current is None else current.expires_at_ms)
    view.notify(STRING_EVENTS, b"append", key)
    return len(data) + len(suffix)


def parse_setrange(args: Args) -> tuple[bytes, int, bytes] | ErrorReply:
    offset = parse_int(args[1])
    if offset is None:
        return NOT_INTEGER
    if offset < 0:
        return ErrorReply("ERR offset is out of range")
    if offset + len(args[2]) > PROTO_MAX_BULK_LEN and args[2]:
        return STRING_TOO_LONG
    return args[0], offset, args[2]


def setrange(view: WritableView, parsed: tuple[bytes, int, bytes]) -> Reply:
    key, offset, patch = parsed
    current = _string(view, key)
    data = b"" if current is None else current.data
    if not patch:
        return len(data)
    end = offset + len(patch)
    error = too_large(view, max(len(data), end))
    if error is not None:
        return error
    padded = data + bytes(max(0, offset - len(data)))
    result = padded[:offset] + patch + padded[end:]
    store(view, key, result, 0 if current is None else current.expires_at_ms)
    view.notify(STRING_EVENTS, b"setrange", key)
    return len(result)


# -- counters --------------------------------------------------------------------------
def _parse_by(sign: int) -> registry.Parser[tuple[bytes, int]]:
    def parse(args: Args) -> tuple[bytes, int] | ErrorReply:
        by = parse_int(args[1])
        if by is None:
            return NOT_INTEGER
        if sign < 0 and by == LLONG_MIN:
            return ErrorReply("ERR decrement would overflow")
        return args[0], sign * by

    return parse


def _parse_step(step: int) -> registry.Parser[tuple[bytes, int]]:
    def parse(args: Args) -> tuple[bytes, int] | ErrorReply:
        return args[0], step

    return parse


def incrby(view: WritableView, parsed: tuple[bytes, int]) -> Reply:
    key, by = parsed
    current = _string(view, key)
    value = 0 if current is None else parse_int(current.data)
    if value is None:
        return NOT_INTEGER
    result = value + by
    if not LLONG_MIN <= result <= LLONG_MAX:
        return ErrorReply("ERR increment or decrement would overflow")
    store(view, key, b"%d" % result, 0 if current is None else current.expires_at_ms)
    view.notify(STRING_EVENTS, b"incrby", key)
    return result


def parse_incrbyfloat(args: Args) -> tuple[bytes, bytes] | ErrorReply:
    if parse_decimal(args[1]) is None:
        return NOT_FLOAT
    return args[0], args[1]


def incrbyfloat(view: WritableView, parsed: tuple[bytes, bytes]) -> Reply:
    key, by_text = parsed
    by = parse_decimal(by_text)
    current = _string(view, key)
    value = parse_decimal(b"0" if current is None else current.data)
    if value is None or by is None:
        return NOT_FLOAT
    result = add_decimals(value, by)
    if not (is_representable(value) and is_representable(by) and is_representable(result)):
        return ErrorReply("ERR increment would produce NaN or Infinity")
    text = format_decimal(result)
    error = too_large(view, len(text))
    if error is not None:
        return error
    store(view, key, text, 0 if current is None else current.expires_at_ms)
    view.notify(STRING_EVENTS, b"incrbyfloat", key)
    return text


def set_keys(argv: list[bytes]) -> list[tuple[int, str]]:
    """SET reads its key only with GET (Redis's variable_flags key spec)."""
    if len(argv) <= 3:
        return [(1, "OW update")]  # a plain SET, routed on every write: no options to scan
    reads = any(arg.lower() == b"get" for arg in argv[3:])
    return [(1, "RW access update" if reads else "OW update")]


row = registry.rows("string")
# fmt: off
registry.read("get", args_as_is, get, row(
    2, "readonly fast", ONE, "1.0.0", "O(1)", "Returns the string value of a key."))
registry.read("mget", args_as_is, mget, row(
    -2, "readonly fast", ALL, "1.0.0", "O(N) where N is the number of keys",
    "Atomically returns the string values of one or more keys."))
registry.read("strlen", args_as_is, strlen, row(
    2, "readonly fast", ONE, "2.2.0", "O(1)", "Returns the length of a string value.",
    access=("RO",)))
registry.read("getrange", parse_range, getrange, row(
    4, "readonly", ONE, "2.4.0", "O(N) where N is the length of the returned string",
    "Returns a substring of the string stored at a key."))
registry.read("substr", parse_range, getrange, row(
    4, "readonly", ONE, "1.0.0", "O(N) where N is the length of the returned string",
    "Returns a substring from a string value."))
registry.write("set", parse_set, set_, row(
    -3, "write denyoom", ONE, "1.0.0", "O(1)", "Sets the string value of a key.",
    keys_proc=set_keys), check=check_set)
registry.write("setnx", parse_setnx, setnx, row(
    3, "write denyoom fast", ONE, "1.0.0", "O(1)",
    "Set the string value of a key only when the key doesn't exist.", access=("OW insert",)))
registry.write("setex", _parse_setex("setex", 1000), set_, row(
    4, "write denyoom", ONE, "2.0.0", "O(1)",
    "Sets the string value and expiration time of a key.", access=("OW update",)))
registry.write("psetex", _parse_setex("psetex", 1), set_, row(
    4, "write denyoom", ONE, "2.6.0", "O(1)",
    "Sets both string value and expiration time in milliseconds of a key.",
    access=("OW update",)))
registry.write("getset", args_as_is, getset, row(
    3, "write denyoom fast", ONE, "1.0.0", "O(1)",
    "Returns the previous string value of a key after setting it to a new value."))
registry.write("getdel", args_as_is, getdel, row(
    2, "write fast", ONE, "6.2.0", "O(1)",
    "Returns the string value of a key after deleting the key."))
registry.write("getex", parse_getex, getex, row(
    -2, "write fast", ONE, "6.2.0", "O(1)",
    "Returns the string value of a key after setting its expiration time."))
registry.write("mset", _parse_pairs("mset"), mset, row(
    -3, "write denyoom", (1, -1, 2), "1.0.1", "O(N) where N is the number of keys to set",
    "Atomically creates or modifies the string values of one or more keys.",
    access=("OW update",)))
registry.write("msetnx", _parse_pairs("msetnx"), msetnx, row(
    -3, "write denyoom", (1, -1, 2), "1.0.1", "O(N) where N is the number of keys to set",
    "Atomically modifies the string values of one or more keys only when all keys "
    "don't exist.", access=("OW insert",)))
registry.write("append", args_as_is, append, row(
    3, "write denyoom fast", ONE, "2.0.0", "O(1)",
    "Appends a string to the value of a key. Creates the key if it doesn't exist.",
    access=("RW insert",)))
registry.write("setrange", parse_setrange, setrange, row(
    4, "write denyoom", ONE, "2.2.0", "O(1)",
    "Overwrites a part of a string value with another by an offset.", access=("RW update",)))
registry.write("incr", _parse_step(1), incrby, row(
    2, "write denyoom fast", ONE, "1.0.0", "O(1)",
    "Increments the integer value of a key by one."))
registry.write("decr", _parse_step(-1), incrby, row(
    2, "write denyoom fast", ONE, "1.0.0", "O(1)",
    "Decrements the integer value of a key by one."))
registry.write("incrby", _parse_by(1), incrby, row(
    3, "write denyoom fast", ONE, "1.0.0", "O(1)",
    "Increments the integer value of a key by a number."))
registry.write("decrby", _parse_by(-1), incrby, row(
    3, "write denyoom fast", ONE, "1.0.0", "O(1)",
    "Decrements a number from the integer value of a key."))
registry.write("incrbyfloat", parse_incrbyfloat, incrbyfloat, row(
    3, "write denyoom fast", ONE, "2.6.0", "O(1)",
    "Increment the floating point value of a key by a number."))
# fmt: on
plain_ops.plain("set", 3, plain_set, atomic=True)
