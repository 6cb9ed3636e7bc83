"""Argument parsing and number formatting exactly as Redis 7.0 does it.

Integers follow Redis's string2ll (no sign '+', no leading zeros or spaces, 64-bit range).
Floats for INCRBYFLOAT are computed in exact decimal arithmetic and printed like Redis's
"%.17Lf" with trailing zeros removed; Redis uses an 80-bit long double, so results agree
with Redis to 17 decimal places for every value a long double represents exactly and can
differ beyond a long double's precision (see docs/commands.md).
"""

from __future__ import annotations

import re
from decimal import Context, Decimal, InvalidOperation

from seshat_trio.protocol import ErrorReply

LLONG_MAX = 2**63 - 1
LLONG_MIN = -(2**63)

NOT_INTEGER = ErrorReply("ERR value is not an integer or out of range")
NOT_FLOAT = ErrorReply("ERR value is not a valid float")
SYNTAX_ERROR = ErrorReply("ERR syntax error")

_INTEGER = re.compile(rb"0|-?[1-9][0-9]{0,19}")
_FLOAT = re.compile(
    rb"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf(?:inity)?)", re.IGNORECASE
)
# Redis's MAX_LONG_DOUBLE_CHARS: longer float arguments are refused.
MAX_FLOAT_CHARS = 5 * 1024
# The largest finite 80-bit long double; beyond it Redis's arithmetic gives infinity.
LONG_DOUBLE_MAX = Decimal("1.18973149535723176502e4932")
_CONTEXT = Context(prec=12_000, Emax=10**6, Emin=-(10**6))
_SEVENTEEN_PLACES = Decimal("1e-17")


def parse_int(arg: bytes) -> int | None:
    """A 64-bit signed integer in Redis's strict syntax, or None."""
    if not _INTEGER.fullmatch(arg):
        return None
    value = int(arg)
    return value if LLONG_MIN <= value <= LLONG_MAX else None


def parse_decimal(arg: bytes) -> Decimal | None:
    """A float argument as an exact decimal (infinities included), or None."""
    if len(arg) > MAX_FLOAT_CHARS or not _FLOAT.fullmatch(arg):
        return None
    try:
        return Decimal(arg.decode("ascii"))
    except InvalidOperation:
        return None


def add_decimals(a: Decimal, b: Decimal) -> Decimal:
    return _CONTEXT.add(a, b)


def is_representable(value: Decimal) -> bool:
    """False for NaN and for what a long double would turn into infinity."""
    return value.is_finite() and abs(value) <= LONG_DOUBLE_MAX


def format_decimal(value: Decimal) -> bytes:
    """Redis's LD_STR_HUMAN: "%.17Lf", then trailing zeros (and a bare '.') removed."""
    text = format(_CONTEXT.quantize(value, _SEVENTEEN_PLACES), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.encode()
