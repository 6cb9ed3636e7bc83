"""The operation format: what a data-group log entry carries.

An operation is one or more commands (several for MULTI/EXEC) that apply atomically at one
log index, plus the proposer's wall-clock time in milliseconds and the value size limit the
proposer enforces. Relative times (TTLs) are resolved against that time at apply, so every
node computes the same absolute expiry; the limit travels with the operation for the same
reason: a value's growth (APPEND, SETRANGE, ...) is judged identically on every node even if
their configurations differ.

Encoding (version 2, all integers big-endian)::

    u8  version (= 2)
    i64 time_ms
    u32 max_value_bytes (0 = unbounded)
    u16 number of commands
    per command: u16 argc, then per argument: u32 length, bytes

Version 1 (no max_value_bytes field) is still read, as unbounded: logs written by an older
build replay unchanged.

A log entry carries one operation, or a batch of them (the leader merges the writes
proposed in one pass of its Raft loop into one entry, so the log record, replication and
apply bookkeeping are paid once per batch rather than once per write)::

    u8  batch version (= 3)
    u32 number of operations
    per operation: u32 length, then one operation encoded as above (never a batch)

The first argument of a command is its lower-cased name. The format is hand-framed rather
than Cap'n Proto because it sits inside an already versioned log record and is decoded on
every apply on every node; a capnp list reader costs ~2 us per element here.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import NamedTuple

FORMAT_VERSION = 2
BATCH_VERSION = 3

_BATCH_HEADER = struct.Struct(">BI")
_HEADER = struct.Struct(">BqIH")
_HEADER_V1 = struct.Struct(">BqH")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")

#: The encoding's u16 counts bound the arguments of a command and the commands of an
#: operation; requests beyond them are refused before they are encoded.
MAX_COMMAND_ARGS = 0xFFFF
MAX_OPERATION_COMMANDS = 0xFFFF


def command_bytes(argc: int, arg_bytes: int) -> int:
    """The bytes a command of `argc` arguments, `arg_bytes` long together, takes in an
    encoded operation (the caller has summed them already)."""
    return _U16.size + _U32.size * argc + arg_bytes


class OperationDecodeError(ValueError):
    """Raised for bytes that are not a valid operation of a known version."""


class Operation(NamedTuple):
    """Commands that apply atomically at one log index, with the proposer's time.

    A named tuple, not a frozen attrs class: the leader makes one per write, and a frozen
    attrs instance sets each field through `object.__setattr__` (0.67 vs 0.36 us, timeit)."""

    time_ms: int
    commands: tuple[tuple[bytes, ...], ...]
    max_value_bytes: int = 0


def encode_operation(op: Operation) -> bytes:
    parts = [_HEADER.pack(FORMAT_VERSION, op.time_ms, op.max_value_bytes, len(op.commands))]
    for command in op.commands:
        parts.append(_U16.pack(len(command)))
        for arg in command:
            parts.append(_U32.pack(len(arg)))
            parts.append(arg)
    return b"".join(parts)


def decode_operation(data: bytes) -> Operation:
    if len(data) < _HEADER_V1.size:
        raise OperationDecodeError(f"operation too short ({len(data)} bytes)")
    version = data[0]
    if version == FORMAT_VERSION and len(data) >= _HEADER.size:
        _, time_ms, max_value_bytes, count = _HEADER.unpack_from(data, 0)
        pos = _HEADER.size
    elif version == 1:
        _, time_ms, count = _HEADER_V1.unpack_from(data, 0)
        max_value_bytes, pos = 0, _HEADER_V1.size
    elif version == FORMAT_VERSION:
        raise OperationDecodeError(f"operation too short ({len(data)} bytes)")
    else:
        raise OperationDecodeError(
            f"operation format version {version} is not supported (this build reads "
            f"versions 1 to {FORMAT_VERSION}); upgrade seshat-trio"
        )
    commands: list[tuple[bytes, ...]] = []
    end = len(data)
    # Locals: this runs for every operation on every node (a slice past the end would only
    # be short, so the bound is checked once per command, before anything is kept).
    u16, u32 = _U16.unpack_from, _U32.unpack_from
    try:
        for _ in range(count):
            argc = u16(data, pos)[0]
            pos += 2
            args: list[bytes] = []
            for _ in range(argc):
                length = u32(data, pos)[0]
                pos += 4
                args.append(data[pos : pos + length])
                pos += length
            if pos > end:
                raise OperationDecodeError("operation argument runs past the end")
            commands.append(tuple(args))
    except struct.error as exc:
        raise OperationDecodeError(f"truncated operation: {exc}") from exc
    if pos != end:
        raise OperationDecodeError(f"{end - pos} trailing bytes after operation")
    return Operation(time_ms, tuple(commands), max_value_bytes)


def encode_batch(operations: Sequence[bytes]) -> bytes:
    """One entry's bytes for several encoded operations, applied in this order."""
    parts = [_BATCH_HEADER.pack(BATCH_VERSION, len(operations))]
    for data in operations:
        parts.append(_U32.pack(len(data)))
        parts.append(data)
    return b"".join(parts)


def decode_entry(data: bytes) -> list[Operation]:
    """The operations of one log entry: a single operation or a batch of them."""
    if not data or data[0] != BATCH_VERSION:
        return [decode_operation(data)]
    if len(data) < _BATCH_HEADER.size:
        raise OperationDecodeError(f"operation batch too short ({len(data)} bytes)")
    _, count = _BATCH_HEADER.unpack_from(data, 0)
    pos, end = _BATCH_HEADER.size, len(data)
    operations: list[Operation] = []
    for _ in range(count):
        if pos + 4 > end:
            raise OperationDecodeError("operation batch truncated in a length")
        (length,) = _U32.unpack_from(data, pos)
        pos += 4
        if pos + length > end:
            raise OperationDecodeError("operation batch runs past the end")
        operations.append(decode_operation(data[pos : pos + length]))
        pos += length
    if pos != end:
        raise OperationDecodeError(f"{end - pos} trailing bytes after operation batch")
    return operations
