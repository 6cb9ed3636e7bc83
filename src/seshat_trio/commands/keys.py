"""The table rows of the data commands (strings, keys, expiry), as Redis 7.0 describes them.

Each row's handler is generic (commands/data.py): the command itself is implemented once,
in seshat_trio.kv, and whether it reads or writes comes from there.
"""

from __future__ import annotations

from seshat_trio.commands.data import build_write, run_read
from seshat_trio.commands.table import CommandSpec, KeyFlags, KeysProc, key_flags, register
from seshat_trio.kv import expire, keyspace, pure, strings  # noqa: F401  (registration)
from seshat_trio.kv.registry import READS, WRITES


# Positional on purpose: each row below reads like a row of Redis's command table.
def data(  # noqa: PLR0917
    name: str,
    arity: int,
    flags: str,
    keys: tuple[int, int, int],
    group: str,
    since: str,
    complexity: str,
    summary: str,
    *,
    access: tuple[str, ...] = (),
    keys_proc: KeysProc | None = None,
    acl: str = "",
) -> CommandSpec:
    """`access`: key-spec flags per key position where they differ from what `flags`
    imply; `acl`: ACL categories Redis lists beyond those of the group and flags."""
    first, last, step = keys
    key = name.encode()
    if key not in READS and key not in WRITES:
        raise ValueError(f"{name}: no implementation in seshat_trio.kv")
    return CommandSpec(
        name,
        arity,
        frozenset(flags.split()),
        first,
        last,
        step,
        group,
        summary,
        since,
        complexity,
        run=run_read if key in READS else None,
        build=build_write if key in WRITES else None,
        key_flags=tuple(map(key_flags, access)),
        keys_proc=keys_proc,
        acl_categories=frozenset(acl.split()),
    )


SET_KEY = key_flags("OW update")
SET_GET_KEY = key_flags("RW access update")


def set_keys(argv: list[bytes]) -> list[tuple[int, KeyFlags]]:
    """SET reads its key only with GET (Redis's variable_flags key spec)."""
    reads = any(arg.lower() == b"get" for arg in argv[3:])
    return [(1, SET_GET_KEY if reads else SET_KEY)]


ONE = (1, 1, 1)
ALL = (1, -1, 1)
NONE = (0, 0, 0)
S, K = "string", "keyspace"
register(
    data("get", 2, "readonly fast", ONE, S, "1.0.0", "O(1)", "Returns the string value of a key."),
    data("set", -3, "write denyoom", ONE, S, "1.0.0", "O(1)", "Sets the string value of a key.",
         keys_proc=set_keys),
    data("setnx", 3, "write denyoom fast", ONE, S, "1.0.0", "O(1)",
         "Set the string value of a key only when the key doesn't exist.",
         access=("OW insert",)),
    data("setex", 4, "write denyoom", ONE, S, "2.0.0", "O(1)",
         "Sets the string value and expiration time of a key.",
         access=("OW update",)),
    data("psetex", 4, "write denyoom", ONE, S, "2.6.0", "O(1)",
         "Sets both string value and expiration time in milliseconds of a key.",
         access=("OW update",)),
    data("getset", 3, "write denyoom fast", ONE, S, "1.0.0", "O(1)",
         "Returns the previous string value of a key after setting it to a new value."),
    data("getdel", 2, "write fast", ONE, S, "6.2.0", "O(1)",
         "Returns the string value of a key after deleting the key."),
    data("getex", -2, "write fast", ONE, S, "6.2.0", "O(1)",
         "Returns the string value of a key after setting its expiration time."),
    data("mget", -2, "readonly fast", ALL, S, "1.0.0", "O(N) where N is the number of keys",
         "Atomically returns the string values of one or more keys."),
    data("mset", -3, "write denyoom", (1, -1, 2), S, "1.0.1",
         "O(N) where N is the number of keys to set",
         "Atomically creates or modifies the string values of one or more keys.",
         access=("OW update",)),
    data("msetnx", -3, "write denyoom", (1, -1, 2), S, "1.0.1",
         "O(N) where N is the number of keys to set",
         "Atomically modifies the string values of one or more keys only when all keys "
         "don't exist.",
         access=("OW insert",)),
    data("append", 3, "write denyoom fast", ONE, S, "2.0.0", "O(1)",
         "Appends a string to the value of a key. Creates the key if it doesn't exist.",
         access=("RW insert",)),
    data("strlen", 2, "readonly fast", ONE, S, "2.2.0", "O(1)",
         "Returns the length of a string value.",
         access=("RO",)),
    data("getrange", 4, "readonly", ONE, S, "2.4.0",
         "O(N) where N is the length of the returned string",
         "Returns a substring of the string stored at a key."),
    data("substr", 4, "readonly", ONE, S, "1.0.0",
         "O(N) where N is the length of the returned string",
         "Returns a substring from a string value."),
    data("setrange", 4, "write denyoom", ONE, S, "2.2.0", "O(1)",
         "Overwrites a part of a string value with another by an offset.",
         access=("RW update",)),
    data("incr", 2, "write denyoom fast", ONE, S, "1.0.0", "O(1)",
         "Increments the integer value of a key by one."),
    data("decr", 2, "write denyoom fast", ONE, S, "1.0.0", "O(1)",
         "Decrements the integer value of a key by one."),
    data("incrby", 3, "write denyoom fast", ONE, S, "1.0.0", "O(1)",
         "Increments the integer value of a key by a number."),
    data("decrby", 3, "write denyoom fast", ONE, S, "1.0.0", "O(1)",
         "Decrements a number from the integer value of a key."),
    data("incrbyfloat", 3, "write denyoom fast", ONE, S, "2.6.0", "O(1)",
         "Increment the floating point value of a key by a number."),
    data("del", -2, "write", ALL, K, "1.0.0", "O(N) where N is the number of keys",
         "Deletes one or more keys.",
         access=("RM delete",)),
    data("unlink", -2, "write fast", ALL, K, "4.0.0", "O(N) where N is the number of keys",
         "Asynchronously deletes one or more keys.",
         access=("RM delete",)),
    data("exists", -2, "readonly fast", ALL, K, "1.0.0", "O(N) where N is the number of keys",
         "Determines whether one or more keys exist.",
         access=("RO",)),
    data("touch", -2, "readonly fast", ALL, K, "3.2.1", "O(N) where N is the number of keys",
         "Returns the number of existing keys out of those specified.",
         access=("RO",)),
    data("type", 2, "readonly fast", ONE, K, "1.0.0", "O(1)",
         "Determines the type of value stored at a key.",
         access=("RO",)),
    data("rename", 3, "write", (1, 2, 1), K, "1.0.0", "O(1)",
         "Renames a key and overwrites the destination.",
         access=("RW access delete", "OW update")),
    data("renamenx", 3, "write fast", (1, 2, 1), K, "1.0.0", "O(1)",
         "Renames a key only when the target key name doesn't exist.",
         access=("RW access delete", "OW insert")),
    data("copy", -3, "write denyoom", (1, 2, 1), K, "6.2.0", "O(1) for string values",
         "Copies the value of a key to a new key.",
         access=("RO access", "OW update")),
    data("keys", 2, "readonly", NONE, K, "1.0.0", "O(N) with N being the number of keys",
         "Returns all key names that match a pattern.",
         acl="dangerous"),
    data("scan", -2, "readonly", NONE, K, "2.8.0",
         "O(1) for every call. O(N) for a complete iteration.",
         "Iterates over the key names in the database."),
    data("randomkey", 1, "readonly", NONE, K, "1.0.0", "O(N) where N is the number of keys",
         "Returns a random key name from the database."),
    data("dbsize", 1, "readonly fast", NONE, "server", "1.0.0", "O(1)",
         "Returns the number of keys in the database.",
         acl="keyspace"),
    data("flushdb", -1, "write", NONE, "server", "1.0.0",
         "O(1): the keyspace is dropped at once", "Removes all keys from the database.",
         acl="keyspace dangerous"),
    data("flushall", -1, "write", NONE, "server", "1.0.0",
         "O(1): the keyspace is dropped at once", "Removes all keys from all databases.",
         acl="keyspace dangerous"),
    data("expire", -3, "write fast", ONE, K, "1.0.0", "O(1)",
         "Sets the expiration time of a key in seconds.",
         access=("RW update",)),
    data("pexpire", -3, "write fast", ONE, K, "2.6.0", "O(1)",
         "Sets the expiration time of a key in milliseconds.",
         access=("RW update",)),
    data("expireat", -3, "write fast", ONE, K, "1.2.0", "O(1)",
         "Sets the expiration time of a key to a Unix timestamp.",
         access=("RW update",)),
    data("pexpireat", -3, "write fast", ONE, K, "2.6.0", "O(1)",
         "Sets the expiration time of a key to a Unix milliseconds timestamp.",
         access=("RW update",)),
    data("ttl", 2, "readonly fast", ONE, K, "1.0.0", "O(1)",
         "Returns the expiration time in seconds of a key."),
    data("pttl", 2, "readonly fast", ONE, K, "2.6.0", "O(1)",
         "Returns the expiration time in milliseconds of a key."),
    data("expiretime", 2, "readonly fast", ONE, K, "7.0.0", "O(1)",
         "Returns the expiration time of a key as a Unix timestamp."),
    data("pexpiretime", 2, "readonly fast", ONE, K, "7.0.0", "O(1)",
         "Returns the expiration time of a key as a Unix milliseconds timestamp."),
    data("persist", 2, "write fast", ONE, K, "2.2.0", "O(1)",
         "Removes the expiration time of a key.",
         access=("RW update",)),
)  # fmt: skip
