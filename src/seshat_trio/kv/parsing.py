"""Argument parsing and number formatting exactly as Redis 7.0 does it.

Integers follow Redis's string2ll (no sign '+', no leading zeros or spaces, 64-bit range).
Floats (INCRBYFLOAT, blocking timeouts) are read as strtold reads them, C99 hex floats
("0x1p3") included, and computed as x86's 80-bit long double computes them: each operand
and each result rounded to a 64-bit significand (to nearest even), in exact rational
arithmetic so every node agrees; they are printed like Redis's "%.17Lf" with trailing
zeros removed. Subnormal long doubles are not emulated (their precision is not reduced).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
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
_HEX_FLOAT = re.compile(rb"([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?[0-9]+))?")
# A long double's significand: 64 bits.
_LONG_DOUBLE_BITS = 64
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


def parse_multi_pop(
    args: Sequence[bytes], ends: tuple[bytes, bytes]
) -> tuple[tuple[bytes, ...], bytes, int] | ErrorReply:
    """`numkeys key... END [COUNT count]` (LMPOP and ZMPOP, BLMPOP and BZMPOP after their
    timeout): the keys, END lowered (one of `ends`, any case) and the count (1 if absent)."""
    numkeys = parse_int(args[0])
    if numkeys is None or numkeys < 1:
        return ErrorReply("ERR numkeys should be greater than 0")
    if numkeys + 1 >= len(args):
        return SYNTAX_ERROR
    end = args[numkeys + 1].lower()
    if end not in ends:
        return SYNTAX_ERROR
    count: int | None = None
    at = numkeys + 2
    while at < len(args):
        if count is not None or args[at].lower() != b"count" or at + 1 >= len(args):
            return SYNTAX_ERROR
        count = parse_int(args[at + 1])
        if count is None or count < 1:
            return ErrorReply("ERR count should be greater than 0")
        at += 2
    return tuple(args[1 : numkeys + 1]), end, count or 1


def parse_decimal(arg: bytes) -> Decimal | None:
    """A float argument as an exact decimal (infinities included), or None."""
    if len(arg) >= MAX_FLOAT_CHARS:
        return None
    if not _FLOAT.fullmatch(arg):
        return _parse_hex(arg)
    try:
        value = Decimal(arg.decode("ascii"))
    except InvalidOperation:
        return None
    if value.is_finite() and value and _out_of_range(value):
        return None  # "1e5000", "1e-5000": strtold's ERANGE, not infinity or zero
    return value


def _parse_hex(arg: bytes) -> Decimal | None:
    """A C99 hex float ("0x1.8p3") as strtold reads it: rounded to a long double's 64-bit
    significand (to nearest even), None on overflow or underflow (ERANGE)."""
    match = _HEX_FLOAT.fullmatch(arg)
    if match is None:
        return None
    sign, whole, fraction, exponent = match.groups(default=b"")
    digits = whole + fraction
    if not digits:
        return None  # "0x", "0x.p1": strtold reads only the "0"; Redis wants it all
    significand = int(digits, 16)
    if not significand:
        return Decimal("-0" if sign == b"-" else "0")
    if len(exponent.lstrip(b"+-")) > 6:
        return None  # beyond any long double (and int() refuses very long digit strings)
    power = int(exponent or b"0") - 4 * len(fraction)
    if not -16500 < significand.bit_length() + power < 16400:
        return None  # far outside the long double range: ERANGE, without the arithmetic
    excess = significand.bit_length() - _LONG_DOUBLE_BITS
    if excess > 0:  # keep 64 bits, rounding half to even
        kept, rest = divmod(significand, 1 << excess)
        half = 1 << (excess - 1)
        if rest > half or (rest == half and kept & 1):
            kept += 1
        significand, power = kept, power + excess
    exact = Fraction(significand) * Fraction(2) ** power
    if exact >= _OVERFLOW_FROM or exact <= _UNDERFLOW_UP_TO:
        return None
    value = _CONTEXT.divide(Decimal(exact.numerator), Decimal(exact.denominator))
    return -value if sign == b"-" else value


def _out_of_range(value: Decimal) -> bool:
    """Whether strtold would overflow to infinity or underflow to zero on `value` (not 0)."""
    magnitude = value.adjusted()  # floor(log10(|value|)); cheap for any exponent
    if -4950 <= magnitude <= 4931:
        return False
    if magnitude > 4932 or magnitude < -4951:
        return True
    exact = abs(Fraction(value))  # a narrow band: the exact comparison stays small
    return exact >= _OVERFLOW_FROM or exact <= _UNDERFLOW_UP_TO


def round_to_long_double(value: Fraction) -> Fraction:
    """`value` rounded to a long double's 64-bit significand, to nearest even."""
    if not value:
        return value
    magnitude = abs(value)
    exponent = magnitude.numerator.bit_length() - magnitude.denominator.bit_length()
    if Fraction(2) ** exponent > magnitude:
        exponent -= 1  # now 2**exponent <= magnitude < 2**(exponent + 1)
    scale = Fraction(2) ** (_LONG_DOUBLE_BITS - 1 - exponent)
    return Fraction(round(value * scale)) / scale  # round() of a Fraction: half to even


def add_decimals(a: Decimal, b: Decimal) -> Decimal:
    """`a + b` as Redis's `long double` addition gives it (both read by strtold)."""
    if not (a.is_finite() and b.is_finite()):
        return _CONTEXT.add(a, b)  # an infinite increment: refused by the caller
    total = round_to_long_double(
        round_to_long_double(Fraction(a)) + round_to_long_double(Fraction(b))
    )
    if not total:
        return _CONTEXT.add(a, b)  # a zero's sign: -0 + -0 is -0, x + -x is +0
    return _CONTEXT.divide(Decimal(total.numerator), Decimal(total.denominator))


def is_representable(value: Decimal) -> bool:
    """False for NaN and for what a long double would turn into infinity."""
    return value.is_finite() and abs(value) <= LONG_DOUBLE_MAX


def format_decimal(value: Decimal) -> bytes:
    """Redis's LD_STR_HUMAN: "%.17Lf", then trailing zeros (and a bare '.') removed."""
    text = format(_CONTEXT.quantize(value, _SEVENTEEN_PLACES), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return b"0" if text == "-0" else text.encode()  # Redis's ld2string turns "-0" into "0"
