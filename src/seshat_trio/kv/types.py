"""Value types: a key holds one value of one type, and this module knows them all.

Each type module (kv/strings.py, kv/hashes.py, ...) registers its type here once: the kind
id stored in the key's metadata record (StoredValue.kind, persisted: never reuse one), the
name TYPE and SCAN TYPE answer, the encoding OBJECT ENCODING reports, whether its
elements live in records of their own (a collection, kv/collections.py), and which of those
records only range scans read (kept out of the value cache: a sorted set's order records).

The WRONGTYPE rule lives here and nowhere else: a command reaches a key's value only
through `typed`, which raises `WrongType` when the key holds another type; the registry
turns that into Redis's error reply. A command looks up every key it touches before it
writes anything (as Redis does), so the error always leaves the data untouched.

Kind ids follow Redis's OBJ_* numbering: 0 string, 1 list, 2 set, 3 zset, 4 hash, 6 stream.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from seshat_trio.protocol import ErrorReply
from seshat_trio.storage import StoredValue

WRONGTYPE = ErrorReply("WRONGTYPE Operation against a key holding the wrong kind of value")


class WrongType(Exception):
    """A command met a key holding another type (answered as WRONGTYPE)."""


@attrs.frozen(slots=True)
class ValueType:
    kind: int
    name: bytes
    # OBJECT ENCODING: the name of the encoding that describes how the value is stored.
    encoding: Callable[[StoredValue], bytes]
    collection: bool
    # The first byte of element suffixes that only range scans read (never one by one):
    # their writes stay out of the value cache (b"": none).
    scanned: bytes


TYPES: dict[int, ValueType] = {}


def register_type(
    kind: int,
    name: str,
    encoding: Callable[[StoredValue], bytes],
    *,
    collection: bool,
    scanned: bytes = b"",
) -> ValueType:
    if kind in TYPES:
        raise ValueError(f"value type kind {kind} is already {TYPES[kind].name!r}")
    if len(scanned) > 1:
        raise ValueError(f"scanned element suffixes are named by one byte, not {scanned!r}")
    value_type = TYPES[kind] = ValueType(kind, name.encode(), encoding, collection, scanned)
    return value_type


def typed(value: StoredValue | None, kind: int) -> StoredValue | None:
    """`value` if it is of `kind` (None stays None); WrongType otherwise."""
    if value is not None and value.kind != kind:
        raise WrongType
    return value


def type_name(value: StoredValue) -> bytes:
    return TYPES[value.kind].name
