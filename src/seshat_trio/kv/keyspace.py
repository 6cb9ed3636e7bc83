"""Commands on keys regardless of their type: existence, renames, copies, listing, flushing.

Also `purge`, the internal command that carries the leader's expiry decisions: it deletes
only the keys that are still expired at the operation's time, so a key set again after the
leader chose to purge it survives.
"""

from __future__ import annotations

import attrs

from seshat_trio.glob import compile_glob
from seshat_trio.kv import registry
from seshat_trio.kv.parsing import NOT_INTEGER, SYNTAX_ERROR, parse_int
from seshat_trio.kv.registry import Args, args_as_is
from seshat_trio.kv.values import OK
from seshat_trio.kv.view import KeyView, WritableView, is_expired
from seshat_trio.protocol import ErrorReply, Reply, SimpleString
from seshat_trio.pubsub.notify import EXPIRED, GENERIC

TYPE_NAMES = {0: b"string"}
NO_SUCH_KEY = ErrorReply("ERR no such key")
# SCAN cursors carry the next key to examine: the integer whose big-endian bytes are this
# marker followed by the key (so a key with leading zero bytes survives the round trip).
_CURSOR_MARK = b"\x01"


def delete(view: WritableView, args: Args) -> Reply:
    deleted = 0
    for key in args:
        if view.delete(key):
            view.notify(GENERIC, b"del", key)
            deleted += 1
    return deleted


def exists(view: KeyView, args: Args) -> Reply:
    return sum(1 for key in args if view.get(key) is not None)


def type_(view: KeyView, args: Args) -> Reply:
    value = view.get(args[0])
    return SimpleString("none" if value is None else TYPE_NAMES[value.kind].decode())


def _parse_rename(nx: bool) -> registry.Parser[tuple[bytes, bytes, bool]]:
    def parse(args: Args) -> tuple[bytes, bytes, bool] | ErrorReply:
        return args[0], args[1], nx

    return parse


def rename(view: WritableView, parsed: tuple[bytes, bytes, bool]) -> Reply:
    source, dest, nx = parsed
    value = view.get(source)
    if value is None:
        return NO_SUCH_KEY
    if source == dest:
        return 0 if nx else OK
    if nx and view.get(dest) is not None:
        return 0
    view.delete(dest)  # as Redis: the destination is replaced, so it is a new key
    view.put(dest, value)
    view.delete(source)
    view.notify(GENERIC, b"rename_from", source)
    view.notify(GENERIC, b"rename_to", dest)
    return 1 if nx else OK


@attrs.frozen(slots=True)
class CopyArgs:
    source: bytes
    dest: bytes
    replace: bool


def parse_copy(args: Args) -> CopyArgs | ErrorReply:
    replace = False
    i = 2
    while i < len(args):
        option = args[i].lower()
        if option == b"replace":
            replace = True
        elif option == b"db" and i + 1 < len(args):
            db = parse_int(args[i + 1])
            if db is None:
                return NOT_INTEGER
            if db != 0:
                return ErrorReply("ERR DB index is out of range")
            i += 1
        else:
            return SYNTAX_ERROR
        i += 1
    if args[0] == args[1]:
        return ErrorReply("ERR source and destination objects are the same")
    return CopyArgs(args[0], args[1], replace)


def copy(view: WritableView, cmd: CopyArgs) -> Reply:
    value = view.get(cmd.source)
    if value is None or (not cmd.replace and view.get(cmd.dest) is not None):
        return 0
    view.delete(cmd.dest)  # as Redis: the destination is replaced, so it is a new key
    view.put(cmd.dest, value)
    view.notify(GENERIC, b"copy_to", cmd.dest)
    return 1


def keys(view: KeyView, args: Args) -> Reply:
    if args[0] == b"*":  # Redis's shortcut: every key, even the empty one
        return [key for key, _ in view.items()]
    glob = compile_glob(args[0])
    return [key for key, _ in view.items() if glob.match(key)]


@attrs.frozen(slots=True)
class ScanArgs:
    start: bytes
    pattern: bytes
    count: int
    type_name: bytes | None


def parse_scan(args: Args) -> ScanArgs | ErrorReply:
    cursor = parse_cursor(args[0])
    if cursor is None:
        return ErrorReply("ERR invalid cursor")
    pattern, count, type_name = b"*", 10, None
    i = 1
    while i < len(args):
        option = args[i].lower()
        if i + 1 >= len(args):
            return SYNTAX_ERROR
        if option == b"count":
            parsed = parse_int(args[i + 1])
            if parsed is None:
                return NOT_INTEGER
            if parsed < 1:
                return SYNTAX_ERROR
            count = parsed
        elif option == b"match":
            pattern = args[i + 1]
        elif option == b"type":
            type_name = args[i + 1].lower()
        else:
            return SYNTAX_ERROR
        i += 2
    return ScanArgs(cursor, pattern, count, type_name)


def parse_cursor(arg: bytes) -> bytes | None:
    """The next key a cursor points at (b"" for cursor 0), or None if it is not ours."""
    if not arg.isdigit():
        return None
    number = int(arg)
    if number == 0:
        return b""
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return raw[1:] if raw[:1] == _CURSOR_MARK else None


def make_cursor(key: bytes) -> bytes:
    return b"%d" % int.from_bytes(_CURSOR_MARK + key, "big")


def scan(view: KeyView, cmd: ScanArgs) -> Reply:
    found: list[bytes] = []
    examined = 0
    # Redis's shortcut: `*` is every key, even the empty one.
    glob = None if cmd.pattern == b"*" else compile_glob(cmd.pattern)
    for key, value in view.items(cmd.start):
        if examined == cmd.count:
            return [make_cursor(key), found]
        examined += 1
        if cmd.type_name is not None and TYPE_NAMES.get(value.kind) != cmd.type_name:
            continue
        if glob is None or glob.match(key):
            found.append(key)
    return [b"0", found]


def randomkey(view: KeyView, args: Args) -> Reply:
    count = sum(1 for _ in view.items())
    if count == 0:
        return None
    chosen = view.pick(count)
    for i, (key, _) in enumerate(view.items()):
        if i == chosen:
            return key
    return None  # the keyspace cannot shrink between the two passes of one command


def dbsize(view: KeyView, args: Args) -> Reply:
    return view.stored_count()


def parse_flush(args: Args) -> Args | ErrorReply:
    if len(args) > 1 or (args and args[0].lower() not in (b"async", b"sync")):
        return SYNTAX_ERROR
    return args


def flush(view: WritableView, args: Args) -> Reply:
    view.clear()
    return OK


def purge(view: WritableView, args: Args) -> Reply:
    """Delete the keys in `args` that are expired at the operation's time (internal)."""
    purged = 0
    for key in args:
        value = view.raw(key)
        if value is not None and is_expired(value, view.time_ms):
            view.delete(key)
            view.notify(EXPIRED, b"expired", key)
            purged += 1
    return purged


registry.read("exists", args_as_is, exists)
registry.read("touch", args_as_is, exists)
registry.read("type", args_as_is, type_)
registry.read("keys", args_as_is, keys)
registry.read("scan", parse_scan, scan)
registry.read("randomkey", args_as_is, randomkey)
registry.read("dbsize", args_as_is, dbsize)
registry.write("del", args_as_is, delete)
registry.write("unlink", args_as_is, delete)
registry.write("rename", _parse_rename(nx=False), rename)
registry.write("renamenx", _parse_rename(nx=True), rename)
registry.write("copy", parse_copy, copy)
registry.write("flushdb", parse_flush, flush)
registry.write("flushall", parse_flush, flush)
registry.write("purge", args_as_is, purge)
