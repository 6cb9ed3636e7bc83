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
from fractions import Fraction

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
# Redis's MAX_LONG_DOUBLE_CHARS, the size of string2ld's buffer: a float argument must be
# shorter than this.
MAX_FLOAT_CHARS = 5 * 1024
# The largest finite 80-bit long double; beyond it Redis's arithmetic gives infinity.
LONG_DOUBLE_MAX = Decimal("1.18973149535723176502e4932")
# strtold rounds to nearest: from the largest long double plus half an ulp up it overflows
# to infinity (ERANGE); at or below half the smallest subnormal it underflows to zero
# (ERANGE). Redis's string2ld refuses both.
_OVERFLOW_FROM = Fraction(2**16384 - 2**16319)
_UNDERFLOW_UP_TO = Fraction(1, 2**16446)
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
    if len(arg) >= MAX_FLOAT_CHARS or not _FLOAT.fullmatch(arg):
        return None
    try:
        value = Decimal(arg.decode("ascii"))
    except InvalidOperation:
        return None
    if value.is_finite() and value and _out_of_range(value):
        return None  # "1e5000", "1e-5000": strtold's ERANGE, not infinity or zero
    return value


def _out_of_range(value: Decimal) -> bool:
    """Whether strtold would overflow to infinity or underflow to zero on `value` (not 0)."""
    magnitude = value.adjusted()  # floor(log10(|value|)); cheap for any exponent
    if -4950 <= magnitude <= 4931:
        return False
    if magnitude > 4932 or magnitude < -4951:
        return True
    exact = abs(Fraction(value))  # a narrow band: the exact comparison stays small
    return exact >= _OVERFLOW_FROM or exact <= _UNDERFLOW_UP_TO


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
