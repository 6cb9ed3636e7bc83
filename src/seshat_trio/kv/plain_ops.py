"""The apply of the most common writes (plain operations), read straight from their bytes.

A plain operation is an operation of the current format holding exactly one command whose
name and argument count are a row of `PLAIN` (SET key value, ZADD key score member, HSET
key field value, SADD key member: the type modules add their rows next to the command's
registration). An entry whose every operation is plain is read by `plain_operations`
straight from its bytes and each operation is applied by its row's `apply`, instead of
being decoded into `Operation` objects and run through the command registry's executor and
the general savepoint loop. What a plain operation does is what the registered command
does with the same arguments (the same writes, versions, events and reply, WRONGTYPE
included); a row's `apply` may answer from a shorter path (ZADD without a flag skips the
flag parsing) only where the result is the same. The writes still go through the run's
`Transaction`, so a later operation of the run sees them and the flush (key count, garbage
of an overwritten collection, expiry index, value cache, listeners) is unchanged.

Each operation applies inside a savepoint, as in the general path, unless its row is
`atomic`: its one overlay write comes last (SET: `Transaction.put` raises the `new` event,
then writes), so it cannot fail half-way. If an operation fails unexpectedly (a bug), its
writes and events are undone and it answers the same internal error as any failed operation,
on every node alike.

Anything else (another command or argument count, several commands, a MULTI/EXEC, an older
format, bytes that do not parse) makes `plain_operations` answer None and the entry takes
the general path, which also refuses malformed entries: this routine never accepts what the
decoder would not.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import attrs

from seshat_trio.kv.operations import BATCH_VERSION, FORMAT_VERSION
from seshat_trio.kv.registry import WRITES, Args
from seshat_trio.kv.view import WritableView
from seshat_trio.protocol import Reply

# An operation of one command, up to its name: version, time_ms, max_value_bytes, command
# count (1), argc, length of the name.
_HEAD = struct.Struct(">BqIHHI")
_FRAMED_HEAD = struct.Struct(">IBqIHHI")  # a batch's operation: its length, then _HEAD
_U32 = struct.Struct(">I")
_BATCH_HEADER = struct.Struct(">BI")
_BATCH = bytes([BATCH_VERSION])


@attrs.frozen(slots=True)
class PlainRow:
    name: bytes
    argc: int  # with the name
    # Runs the command against the run's transaction; WrongType answers WRONGTYPE.
    apply: Callable[[WritableView, Args], Reply]
    atomic: bool  # one overlay write, the last thing it does: no savepoint needed


PLAIN: dict[bytes, PlainRow] = {}


def plain(
    name: str, argc: int, apply: Callable[[WritableView, Args], Reply], *, atomic: bool = False
) -> None:
    """Apply `name` with `argc` arguments (its name included) through `apply`, which must
    answer and write as the registered command does."""
    key = name.encode()
    if key not in WRITES or key in PLAIN:
        raise ValueError(f"plain row {name!r}: not a registered write, or registered twice")
    PLAIN[key] = PlainRow(key, argc, apply, atomic)


# (time_ms, max_value_bytes, row, arguments after the name)
PlainOperation = tuple[int, int, PlainRow, Args]


def plain_operations(data: bytes) -> list[PlainOperation] | None:
    """The plain operations an entry holds (one, or a batch's), or None if anything in it
    is not a plain operation."""
    # One loop over the operations, each read inline with locals bound: every SET on every
    # node comes here (a call per operation cost ~1 us of ~7 under cProfile).
    end = len(data)
    framed = data[:1] == _BATCH
    if framed:
        if end < _BATCH_HEADER.size:
            return None
        count = _BATCH_HEADER.unpack_from(data, 0)[1]
        pos = _BATCH_HEADER.size
    else:
        count, pos = 1, 0
    head, head_size, u32, rows = _HEAD.unpack_from, _HEAD.size, _U32.unpack_from, PLAIN.get
    framed_head = _FRAMED_HEAD.unpack_from
    operations: list[PlainOperation] = []
    append = operations.append
    try:
        for _ in range(count):
            # Too short for a head: `struct.error`, as the operation cannot be plain.
            if framed:  # a batch's operation: u32 length, then the operation
                size, version, time_ms, max_value_bytes, commands, argc, length = framed_head(
                    data, pos
                )
                pos += 4
                stop = pos + size
                if stop > end:
                    return None
            else:
                version, time_ms, max_value_bytes, commands, argc, length = head(data, pos)
                stop = end
            if pos + head_size > stop:
                return None
            if version != FORMAT_VERSION or commands != 1:
                return None
            pos += head_size
            row = rows(data[pos : pos + length])
            if row is None or row.argc != argc:
                return None
            pos += length
            args = []
            for _ in range(1, argc):
                length = u32(data, pos)[0]
                pos += 4 + length
                args.append(data[pos - length : pos])
            # Past `stop` only if the lengths are wrong: then `pos` cannot come out at `stop`.
            if pos != stop:
                return None
            append((time_ms, max_value_bytes, row, tuple(args)))
    except struct.error:  # past the end of `data`
        return None
    return operations if pos == end else None
