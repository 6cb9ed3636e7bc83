"""Integer parsing with the exact rules of Redis's string2ll (util.c).

Accepted: ``0``, or an optional ``-`` then a digit 1-9 then digits; fewer than 21 bytes;
within the signed 64-bit range. So ``+1``, ``01``, ``-0``, `` 1`` and ``1_0`` are invalid.
"""

from __future__ import annotations

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_LONG_STR_SIZE = 21

# Request headers are dominated by small numbers: one dict lookup instead of int() + checks.
SMALL_INTS: dict[bytes, int] = {str(i).encode(): i for i in range(-1, 10000)}


def parse_ll(text: bytes) -> int | None:
    """The value of `text` as Redis's string2ll reads it, or None if Redis rejects it."""
    value = SMALL_INTS.get(text)
    if value is not None:
        return value
    if not 0 < len(text) < _LONG_STR_SIZE:
        return None
    try:
        value = int(text)
    except ValueError:
        return None
    # int() also takes blanks, '+', '_' and leading zeros; the canonical spelling is the
    # only one as short as str(value), and exactly the one string2ll accepts.
    if len(str(value)) != len(text) or not INT64_MIN <= value <= INT64_MAX:
        return None
    return value
