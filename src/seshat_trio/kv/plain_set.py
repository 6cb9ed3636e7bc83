"""The apply of plain SETs, the most common write, in one specialised routine.

A log entry whose every operation is exactly one `SET key value` (no option, the current
operation format) is read straight from its bytes by `plain_sets` and applied by
`apply_plain_set`, instead of being decoded into `Operation` objects and run through the
command registry, `parse_set`, a savepoint and the generic `set_`. What a plain SET does is
the same either way (`strings.set_` with no option): the key gets the string, with no
expiry, whatever it held before; it raises the `new` (through `Transaction.put`) and `set`
keyspace events; the reply is OK. The write still goes through the run's `Transaction`, so
a later operation of the run sees it and the flush (key count, garbage of an overwritten
collection, expiry index, value cache, listeners) is unchanged.

No savepoint is needed: the overlay write is the operation's only change and comes last
(`Transaction.put` raises the `new` event, then writes), so a plain SET cannot fail half-way.
If it fails unexpectedly (a bug), its events are dropped and it answers the same internal
error as any failed operation, on every node alike.

Anything else (options, another command, several commands, a MULTI/EXEC, an older format,
bytes that do not parse) makes `plain_sets` answer None and the entry takes the general path,
which also refuses malformed entries: this routine never accepts what the decoder would not.
"""

from __future__ import annotations

import struct

from seshat_trio.kv.operations import BATCH_VERSION, FORMAT_VERSION
from seshat_trio.kv.transaction import Transaction
from seshat_trio.kv.values import STRING
from seshat_trio.pubsub.notify import STRING as STRING_EVENTS
from seshat_trio.storage import StoredValue

# One operation holding one three-argument command, up to the first argument's length:
# version, time_ms, max_value_bytes, command count (1), argc (3), len(b"set").
_PLAIN_HEAD = struct.Struct(">BqIHHI")
_U32 = struct.Struct(">I")
_BATCH_HEADER = struct.Struct(">BI")
_NAME_END = _PLAIN_HEAD.size + 3

PlainSet = tuple[int, bytes, bytes]  # (time_ms, key, value)


def _plain_set(data: bytes, start: int, end: int) -> PlainSet | None:
    """The (time_ms, key, value) of the operation in data[start:end] if it is a plain SET."""
    if end - start < _NAME_END + 8:
        return None
    version, time_ms, _, count, argc, name_length = _PLAIN_HEAD.unpack_from(data, start)
    name_end = start + _NAME_END
    if (
        version != FORMAT_VERSION
        or count != 1
        or argc != 3
        or name_length != 3
        or data[name_end - 3 : name_end] != b"set"
    ):
        return None
    (key_length,) = _U32.unpack_from(data, name_end)
    key_start = name_end + 4
    key_end = key_start + key_length
    if key_end + 4 > end:
        return None
    (value_length,) = _U32.unpack_from(data, key_end)
    value_start = key_end + 4
    if value_start + value_length != end:
        return None
    return time_ms, data[key_start:key_end], data[value_start:end]


def plain_sets(data: bytes) -> list[PlainSet] | None:
    """The plain SETs an entry holds (one, or a batch's), or None if anything in it is not
    a plain SET."""
    end = len(data)
    if not data or data[0] != BATCH_VERSION:
        one = _plain_set(data, 0, end)
        return None if one is None else [one]
    if end < _BATCH_HEADER.size:
        return None
    _, count = _BATCH_HEADER.unpack_from(data, 0)
    pos = _BATCH_HEADER.size
    sets: list[PlainSet] = []
    for _ in range(count):
        if pos + 4 > end:
            return None
        (length,) = _U32.unpack_from(data, pos)
        pos += 4
        if pos + length > end:
            return None
        one = _plain_set(data, pos, pos + length)
        if one is None:
            return None
        sets.append(one)
        pos += length
    return sets if pos == end else None


def apply_plain_set(tx: Transaction, key: bytes, value: bytes) -> None:
    """`strings.set_` for a SET without options, against the run's transaction (its
    `time_ms` set to the operation's); the reply is `OK`."""
    tx.put(key, StoredValue(STRING, value, 0))
    tx.notify(STRING_EVENTS, b"set", key)
