"""The operation format: what a data-group log entry carries.

An operation is one or more commands (several for MULTI/EXEC) that apply atomically at one
log index, plus the proposer's wall-clock time in milliseconds. Relative times (TTLs) are
resolved against that time at apply, so every node computes the same absolute expiry.

Encoding (version 1, all integers big-endian)::

    u8  version (= 1)
    i64 time_ms
    u16 number of commands
    per command: u16 argc, then per argument: u32 length, bytes

The first argument of a command is its lower-cased name. The format is hand-framed rather
than Cap'n Proto because it sits inside an already versioned log record and is decoded on
every apply on every node; a capnp list reader costs ~2 us per element here.
"""

from __future__ import annotations

import struct

import attrs

FORMAT_VERSION = 1

_HEADER = struct.Struct(">BqH")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")


class OperationDecodeError(ValueError):
    """Raised for bytes that are not a valid operation of a known version."""


@attrs.frozen(slots=True)
class Operation:
    """Commands that apply atomically at one log index, with the proposer's time."""

    time_ms: int
    commands: tuple[tuple[bytes, ...], ...]


def encode_operation(op: Operation) -> bytes:
    parts = [_HEADER.pack(FORMAT_VERSION, op.time_ms, len(op.commands))]
    for command in op.commands:
        parts.append(_U16.pack(len(command)))
        for arg in command:
            parts.append(_U32.pack(len(arg)))
            parts.append(arg)
    return b"".join(parts)


def decode_operation(data: bytes) -> Operation:
    if len(data) < _HEADER.size:
        raise OperationDecodeError(f"operation too short ({len(data)} bytes)")
    version, time_ms, count = _HEADER.unpack_from(data, 0)
    if version != FORMAT_VERSION:
        raise OperationDecodeError(
            f"operation format version {version} is not supported (this build reads "
            f"version {FORMAT_VERSION}); upgrade seshat-trio"
        )
    pos = _HEADER.size
    commands: list[tuple[bytes, ...]] = []
    try:
        for _ in range(count):
            (argc,) = _U16.unpack_from(data, pos)
            pos += 2
            args: list[bytes] = []
            for _ in range(argc):
                (length,) = _U32.unpack_from(data, pos)
                pos += 4
                if pos + length > len(data):
                    raise OperationDecodeError("operation argument runs past the end")
                args.append(data[pos : pos + length])
                pos += length
            commands.append(tuple(args))
    except struct.error as exc:
        raise OperationDecodeError(f"truncated operation: {exc}") from exc
    if pos != len(data):
        raise OperationDecodeError(f"{len(data) - pos} trailing bytes after operation")
    return Operation(time_ms=time_ms, commands=tuple(commands))
