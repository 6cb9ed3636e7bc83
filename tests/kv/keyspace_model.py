"""The key commands of the collection model tests (test_*_model.py): DEL, SET, RENAME,
COPY, TYPE and FLUSHALL over a model keyspace of key -> bytes (a string) or a collection
(a Python dict, set, ...), as Redis 7.0 answers them."""

from __future__ import annotations

import copy
from typing import Any

from seshat_trio.protocol import ErrorReply, Reply, SimpleString

OK = SimpleString("OK")
NO_SUCH_KEY = ErrorReply("ERR no such key")


def key_command(data: dict[bytes, Any], name: bytes, args: tuple[bytes, ...], kind: str) -> Reply:
    """Run key command `name` on `data`, whose collections are of type `kind`."""
    if name == b"del":
        return int(data.pop(args[0], None) is not None)
    if name == b"set":
        data[args[0]] = args[1]
        return OK
    if name in (b"rename", b"copy"):
        if name == b"copy" and args[0] == args[1]:
            return ErrorReply("ERR source and destination objects are the same")
        if args[0] not in data:
            return NO_SUCH_KEY if name == b"rename" else 0
        if name == b"copy" and args[1] in data:
            return 0
        value = data[args[0]]
        if name == b"rename":
            del data[args[0]]
        data[args[1]] = copy.copy(value)
        return OK if name == b"rename" else 1
    if name == b"type":
        value = data.get(args[0])
        return SimpleString(
            "none" if value is None else "string" if isinstance(value, bytes) else kind
        )
    assert name == b"flushall"
    data.clear()
    return OK
