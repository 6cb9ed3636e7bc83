"""Sorted-set scores and ranges, parsed as Redis 7.0 parses them, and their storage order.

Two float syntaxes, as in Redis: a score or weight (ZADD, ZINCRBY, WEIGHTS) is strict
(string2d: no leading space, nothing after the number, no NaN, no overflow to infinity or
underflow to zero; "inf", "-inf", "+inf", "infinity" and C99 hex floats accepted); a range
bound (ZRANGEBYSCORE, ZCOUNT, ...) is a bare strtod (leading spaces allowed, "" is 0, an
overflow is infinity), with '(' for an exclusive bound. Lexicographic bounds are '[' or '('
and a string, or '-' / '+' for the smallest and largest string.

Storage order: a score is encoded as 8 bytes that sort as the doubles do (`order_bytes`);
-0.0 is stored as 0.0, as Redis's listpack encoding does (ZADD z -0 m; ZSCORE answers 0).
"""

from __future__ import annotations

import math
import re
import struct

import attrs

from seshat_trio.protocol import ErrorReply

NOT_A_RANGE = ErrorReply("ERR min or max is not a float")
NOT_A_LEX_RANGE = ErrorReply("ERR min or max not valid string range item")

_U64 = struct.Struct(">Q")
_DOUBLE = struct.Struct(">d")
_SIGN = 1 << 63
_ALL_BITS = (1 << 64) - 1

_DECIMAL = re.compile(rb"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_HEX = re.compile(
    rb"([+-]?)0[xX]((?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?)"
)
_INFINITY = re.compile(rb"[+-]?inf(?:inity)?", re.IGNORECASE)
_NAN = re.compile(rb"[+-]?nan", re.IGNORECASE)
_C_SPACE = b" \t\n\v\f\r"
# Fewer decimal digits than this are a finite double (10**308 < DBL_MAX), never an overflow.
_FINITE_DIGITS = 300


def _strtod(text: bytes) -> tuple[float, bool] | None:
    """C's strtod over the whole of `text` (no leading space): (value, out of range), or
    None if `text` is not entirely one number. NaN comes back as NaN."""
    if _DECIMAL.fullmatch(text):
        value = float(text)
        mantissa = re.split(rb"[eE]", text)[0]
        return value, math.isinf(value) or (value == 0 and bool(mantissa.strip(b"+-0.")))
    hexa = _HEX.fullmatch(text)
    if hexa:
        try:
            value = float.fromhex(hexa.group(2).decode())
        except OverflowError:
            return (-math.inf if hexa.group(1) == b"-" else math.inf), True
        value = -value if hexa.group(1) == b"-" else value
        mantissa = re.split(rb"[pP]", hexa.group(2))[0]
        return value, value == 0 and bool(mantissa.strip(b"0."))
    if _INFINITY.fullmatch(text):
        return (-math.inf if text.startswith(b"-") else math.inf), False
    if _NAN.fullmatch(text):
        return math.nan, False
    return None


def parse_score(arg: bytes) -> float | None:
    """A score, increment or weight (Redis's string2d), or None: "ERR value is not a valid
    float" (or the command's own message)."""
    if arg.isdigit() and len(arg) < _FINITE_DIGITS:
        return float(arg)  # the usual score: plain digits, which cannot overflow
    if not arg or arg[0] in _C_SPACE:
        return None
    parsed = _strtod(arg)
    if parsed is None or parsed[1] or math.isnan(parsed[0]):
        return None
    return parsed[0]


def _range_bound(arg: bytes) -> tuple[float, bool] | None:
    """A score range bound: (value, exclusive), or None."""
    exclusive = arg.startswith(b"(")
    text = arg[1:] if exclusive else arg
    if not text:
        return 0.0, exclusive  # strtod of "" converts nothing and stops at the end
    stripped = text.lstrip(_C_SPACE)
    parsed = _strtod(stripped) if stripped else None
    if parsed is None or math.isnan(parsed[0]):
        return None
    return parsed[0], exclusive


def order_bytes(score: float) -> bytes:
    """8 bytes that sort (as unsigned big-endian) the way the scores do; -0.0 as 0.0."""
    # int.from_bytes and to_bytes: half the cost of a second struct here (every ZADD).
    bits = int.from_bytes(_DOUBLE.pack(score + 0.0), "big")
    return (bits ^ _ALL_BITS if bits & _SIGN else bits | _SIGN).to_bytes(8, "big")


def score_of_order(data: bytes, offset: int = 0) -> float:
    (bits,) = _U64.unpack_from(data, offset)
    bits = bits ^ _SIGN if bits & _SIGN else bits ^ _ALL_BITS
    score: float = _DOUBLE.unpack(_U64.pack(bits))[0]
    return score


def after(order: bytes) -> bytes:
    """The 8 bytes just after `order` (the first order key past every member of a score)."""
    return _U64.pack(_U64.unpack(order)[0] + 1)


@attrs.frozen(slots=True)
class ScoreRange:
    low: float
    high: float
    low_exclusive: bool
    high_exclusive: bool

    @classmethod
    def parse(cls, low: bytes, high: bytes) -> ScoreRange | ErrorReply:
        first, last = _range_bound(low), _range_bound(high)
        if first is None or last is None:
            return NOT_A_RANGE
        return cls(first[0], last[0], first[1], last[1])

    def empty(self) -> bool:
        return self.low > self.high or (
            self.low == self.high and (self.low_exclusive or self.high_exclusive)
        )

    def order_bounds(self) -> tuple[bytes, bytes]:
        """[start, stop) of the order bytes of the scores in range (not `empty()`)."""
        low, high = order_bytes(self.low), order_bytes(self.high)
        return (after(low) if self.low_exclusive else low), (
            high if self.high_exclusive else after(high)
        )

    def has(self, score: float) -> bool:
        above = score > self.low if self.low_exclusive else score >= self.low
        below = score < self.high if self.high_exclusive else score <= self.high
        return above and below


# A lexicographic bound: (-1, b"") is '-', (1, b"") is '+', (0, s) a string.
Bound = tuple[int, bytes]
_SMALLEST: Bound = (-1, b"")
_LARGEST: Bound = (1, b"")


def _lex_bound(arg: bytes) -> tuple[Bound, bool] | None:
    if arg == b"+":
        return _LARGEST, True
    if arg == b"-":
        return _SMALLEST, True
    if arg[:1] in (b"(", b"["):
        return (0, arg[1:]), arg[:1] == b"("
    return None


def compare(a: Bound, b: Bound) -> int:
    """Redis's sdscmplex: '-' below every string, '+' above every string."""
    return 0 if a == b else -1 if a < b else 1


@attrs.frozen(slots=True)
class LexRange:
    low: Bound
    high: Bound
    low_exclusive: bool
    high_exclusive: bool

    @classmethod
    def parse(cls, low: bytes, high: bytes) -> LexRange | ErrorReply:
        first, last = _lex_bound(low), _lex_bound(high)
        if first is None or last is None:
            return NOT_A_LEX_RANGE
        return cls(first[0], last[0], first[1], last[1])

    def empty(self) -> bool:
        order = compare(self.low, self.high)
        return order > 0 or (order == 0 and (self.low_exclusive or self.high_exclusive))

    def above_low(self, member: bytes) -> bool:
        order = compare((0, member), self.low)
        return order > 0 if self.low_exclusive else order >= 0

    def below_high(self, member: bytes) -> bool:
        order = compare((0, member), self.high)
        return order < 0 if self.high_exclusive else order <= 0

    def member_bounds(self, prefix: bytes, prefix_end: bytes) -> tuple[bytes, bytes]:
        """[start, stop) of `prefix` + member for the members in range, the members of one
        score sorting after `prefix` and before `prefix_end`."""
        kind, low = self.low
        start = prefix if kind < 0 else prefix_end if kind > 0 else prefix + low
        if kind == 0 and self.low_exclusive:
            start += b"\x00"
        kind, high = self.high
        stop = prefix if kind < 0 else prefix_end if kind > 0 else prefix + high
        if kind == 0 and not self.high_exclusive:
            stop += b"\x00"
        return start, stop
