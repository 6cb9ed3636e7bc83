"""Helpers shared by the data commands: building string values, expiry options, size limits."""

from __future__ import annotations

import attrs

from seshat_trio.kv.parsing import LLONG_MAX, NOT_INTEGER, parse_int
from seshat_trio.kv.view import WritableView
from seshat_trio.protocol import ErrorReply, SimpleString
from seshat_trio.storage import StoredValue

STRING = 0
OK = SimpleString("OK")
# Redis's default proto-max-bulk-len: no string may grow beyond it (SETRANGE, APPEND).
PROTO_MAX_BULK_LEN = 512 * 1024 * 1024
STRING_TOO_LONG = ErrorReply("ERR string exceeds maximum allowed size (proto-max-bulk-len)")


def invalid_expire(command: str) -> ErrorReply:
    return ErrorReply(f"ERR invalid expire time in '{command}' command")


def too_large(view: WritableView, length: int) -> ErrorReply | None:
    """The error for a value of `length` bytes, if it breaks a limit."""
    if length > PROTO_MAX_BULK_LEN:
        return STRING_TOO_LONG
    limit = view.max_value_bytes
    if limit and length > limit:
        return ErrorReply(f"ERR value too large (max {limit} bytes)")
    return None


def store(view: WritableView, key: bytes, data: bytes, expires_at_ms: int = 0) -> None:
    """Write a string; one that is already expired at the operation's time is deleted."""
    if expires_at_ms and expires_at_ms <= view.time_ms:
        view.delete(key)
    else:
        view.put(key, StoredValue(STRING, data, expires_at_ms))


@attrs.frozen(slots=True)
class Expiry:
    """An expiry option: `amount` in `unit_ms` units, relative to the op's time or absolute."""

    amount: int
    unit_ms: int
    absolute: bool

    def at(self, time_ms: int) -> int | None:
        """The absolute expiry in ms, or None when it overflows 64 bits."""
        when = self.amount * self.unit_ms + (0 if self.absolute else time_ms)
        return when if 0 < when <= LLONG_MAX else None


_EXPIRY_UNITS = {b"ex": (1000, False), b"px": (1, False), b"exat": (1000, True), b"pxat": (1, True)}


def parse_expiry(option: bytes, arg: bytes, command: str) -> Expiry | ErrorReply:
    """EX/PX/EXAT/PXAT `arg` (SET, GETEX): positive, and in range once in milliseconds."""
    unit_ms, absolute = _EXPIRY_UNITS[option]
    amount = parse_int(arg)
    if amount is None:
        return NOT_INTEGER
    if amount <= 0 or amount > LLONG_MAX // unit_ms:
        return invalid_expire(command)
    return Expiry(amount, unit_ms, absolute)


def is_expiry_option(option: bytes) -> bool:
    return option in _EXPIRY_UNITS
