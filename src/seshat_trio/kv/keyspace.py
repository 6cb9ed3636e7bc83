"""Commands on keys regardless of their type: existence, renames, copies, listing, flushing.

Also `purge`, the internal command that carries the leader's expiry decisions: it deletes
only the keys that are still expired at the operation's time, so a key set again after the
leader chose to purge it survives.
"""

from __future__ import annotations

import attrs

from seshat_trio.glob import compile_glob
from seshat_trio.kv import registry
from seshat_trio.kv.collections import copy_value
from seshat_trio.kv.parsing import NOT_INTEGER, SYNTAX_ERROR, parse_int
from seshat_trio.kv.registry import ALL, NONE, ONE, Args, args_as_is
from seshat_trio.kv.scan import INVALID_CURSOR, ScanOptions, page, parse_cursor, parse_options
from seshat_trio.kv.types import TYPES, type_name
from seshat_trio.kv.values import OK
from seshat_trio.kv.view import KeyView, WritableView, is_expired
from seshat_trio.protocol import ErrorReply, Reply, SimpleString
from seshat_trio.pubsub.notify import EXPIRED, GENERIC
from seshat_trio.storage import StoredValue, position
from seshat_trio.storage.keys import POSITION_END

NO_SUCH_KEY = ErrorReply("ERR no such key")


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
    return SimpleString("none" if value is None else type_name(value).decode())


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
    moved = copy_value(view, source, value, dest)
    view.delete(dest)  # as Redis: the destination is replaced, so it is a new key
    view.put(dest, moved)
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
    copied = copy_value(view, cmd.source, value, cmd.dest)
    view.delete(cmd.dest)  # as Redis: the destination is replaced, so it is a new key
    view.put(cmd.dest, copied)
    view.notify(GENERIC, b"copy_to", cmd.dest)
    return 1


def keys(view: KeyView, args: Args) -> Reply:
    if args[0] == b"*":  # Redis's shortcut: every key, even the empty one
        return [key for key, _ in view.items()]
    glob = compile_glob(args[0])
    return [key for key, _ in view.items() if glob.match(key)]


@attrs.frozen(slots=True)
class ScanArgs:
    cursor: int
    options: ScanOptions


def parse_scan(args: Args) -> ScanArgs | ErrorReply:
    cursor = parse_cursor(args[0])
    if cursor is None:
        return INVALID_CURSOR
    options = parse_options(args[1:], with_type=True)
    if isinstance(options, ErrorReply):
        return options
    return ScanArgs(cursor, options)


def _key_position(item: tuple[bytes, StoredValue]) -> int:
    return position(item[0])


def scan(view: KeyView, cmd: ScanArgs) -> Reply:
    if cmd.cursor >= POSITION_END:
        return [b"0", []]
    cursor, examined = page(view.items(cmd.cursor), _key_position, cmd.options.count)
    wanted_type, pattern = cmd.options.type_name, cmd.options.pattern
    glob = None if pattern is None else compile_glob(pattern)
    found = [
        key
        for key, value in examined
        if (wanted_type is None or type_name(value) == wanted_type)
        and (glob is None or glob.match(key))
    ]
    return [b"%d" % cursor, found]


def randomkey(view: KeyView, args: Args) -> Reply:
    count = sum(1 for _ in view.items())
    if count == 0:
        return None
    chosen = view.random().randrange(count)
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


# -- OBJECT ----------------------------------------------------------------------------
OBJECT_KEY_SUBCOMMANDS = (b"encoding", b"freq", b"idletime", b"refcount")
OBJECT_HELP = [
    SimpleString(line)
    for line in (
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    )
]
# Redis's reply under a policy that does not count accesses (ours: noeviction).
FREQ_NOT_TRACKED = ErrorReply(
    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note "
    "that when switching between policies at runtime LRU and LFU data will take some time "
    "to adjust."
)
# Reads never reach the log, so no node could say when a key was last accessed.
IDLETIME_NOT_TRACKED = ErrorReply(
    "ERR idle time not tracked: seshat-trio does not record when a key was last accessed"
)


def parse_object(args: Args) -> tuple[bytes, bytes] | ErrorReply:
    sub = args[0].lower()
    if sub == b"help" or sub in OBJECT_KEY_SUBCOMMANDS:
        if len(args) != (1 if sub == b"help" else 2):
            return ErrorReply(f"ERR wrong number of arguments for 'object|{sub.decode()}' command")
        return sub, args[-1]
    name = args[0][:128].decode(errors="replace")
    return ErrorReply(f"ERR unknown subcommand '{name}'. Try OBJECT HELP.")


def object_keys(argv: list[bytes]) -> list[tuple[int, str]]:
    """The key of OBJECT ENCODING/FREQ/IDLETIME/REFCOUNT (HELP has none)."""
    return [(2, "RO")] if len(argv) == 3 and argv[1].lower() in OBJECT_KEY_SUBCOMMANDS else []


def object_(view: KeyView, parsed: tuple[bytes, bytes]) -> Reply:
    sub, key = parsed
    if sub == b"help":
        return OBJECT_HELP
    value = view.get(key)
    if value is None:
        return None
    if sub == b"encoding":
        return TYPES[value.kind].encoding(value)
    if sub == b"refcount":
        return 1
    return FREQ_NOT_TRACKED if sub == b"freq" else IDLETIME_NOT_TRACKED


row = registry.rows("keyspace")
server_row = registry.rows("server")
# fmt: off
registry.read("exists", args_as_is, exists, row(
    -2, "readonly fast", ALL, "1.0.0", "O(N) where N is the number of keys",
    "Determines whether one or more keys exist.", access=("RO",)))
registry.read("touch", args_as_is, exists, row(
    -2, "readonly fast", ALL, "3.2.1", "O(N) where N is the number of keys",
    "Returns the number of existing keys out of those specified.", access=("RO",)))
registry.read("type", args_as_is, type_, row(
    2, "readonly fast", ONE, "1.0.0", "O(1)", "Determines the type of value stored at a key.",
    access=("RO",)))
registry.read("keys", args_as_is, keys, row(
    2, "readonly", NONE, "1.0.0", "O(N) with N being the number of keys",
    "Returns all key names that match a pattern.", acl="dangerous"))
registry.read("scan", parse_scan, scan, row(
    -2, "readonly", NONE, "2.8.0", "O(1) for every call. O(N) for a complete iteration.",
    "Iterates over the key names in the database."))
registry.read("randomkey", args_as_is, randomkey, row(
    1, "readonly", NONE, "1.0.0", "O(N) where N is the number of keys",
    "Returns a random key name from the database."))
registry.read("dbsize", args_as_is, dbsize, server_row(
    1, "readonly fast", NONE, "1.0.0", "O(1)", "Returns the number of keys in the database.",
    acl="keyspace"))
registry.read("object", parse_object, object_, row(
    -2, "", NONE, "2.2.3", "Depends on subcommand.",
    "A container for object introspection commands.", keys_proc=object_keys,
    subcommands=(("encoding", 3, "readonly"), ("freq", 3, "readonly"),
                 ("help", 2, "loading stale"), ("idletime", 3, "readonly"),
                 ("refcount", 3, "readonly"))))
registry.write("del", args_as_is, delete, row(
    -2, "write", ALL, "1.0.0",
    "O(N) where N is the number of keys (a collection's elements are removed later, in the "
    "background)", "Deletes one or more keys.", access=("RM delete",)))
registry.write("unlink", args_as_is, delete, row(
    -2, "write fast", ALL, "4.0.0", "O(N) where N is the number of keys",
    "Asynchronously deletes one or more keys.", access=("RM delete",)))
registry.write("rename", _parse_rename(nx=False), rename, row(
    3, "write", (1, 2, 1), "1.0.0", "O(1) for strings, O(N) for a collection of N elements",
    "Renames a key and overwrites the destination.",
    access=("RW access delete", "OW update")))
registry.write("renamenx", _parse_rename(nx=True), rename, row(
    3, "write fast", (1, 2, 1), "1.0.0",
    "O(1) for strings, O(N) for a collection of N elements",
    "Renames a key only when the target key name doesn't exist.",
    access=("RW access delete", "OW insert")))
registry.write("copy", parse_copy, copy, row(
    -3, "write denyoom", (1, 2, 1), "6.2.0",
    "O(1) for strings, O(N) for a collection of N elements",
    "Copies the value of a key to a new key.", access=("RO access", "OW update")))
registry.write("flushdb", parse_flush, flush, server_row(
    -1, "write", NONE, "1.0.0", "O(1): the keyspace is dropped at once",
    "Removes all keys from the database.", acl="keyspace dangerous"))
registry.write("flushall", parse_flush, flush, server_row(
    -1, "write", NONE, "1.0.0", "O(1): the keyspace is dropped at once",
    "Removes all keys from all databases.", acl="keyspace dangerous"))
# Internal: the leader's expiry decisions (commands/expiry.py); no client may send it.
registry.write("purge", args_as_is, purge, None)
# fmt: on
