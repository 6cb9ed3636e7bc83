"""The `bit` library scripts see (LuaBitOp 1.0, as Redis ships it), in Python.

Every operand is first normalised to a signed 32-bit integer the way LuaBitOp's tobit does
(the number modulo 2^32, read as two's complement); results are signed 32-bit numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def tobit(x: float) -> int:
    value = int(x) & 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def _fold(op: Callable[[int, int], int]) -> Callable[..., int]:
    def run(x: float, *rest: float) -> int:
        result = tobit(x)
        for y in rest:
            result = op(result, tobit(y))
        return tobit(result)

    return run


def _shift(op: Callable[[int, int], int]) -> Callable[[float, float], int]:
    return lambda x, n: tobit(op(tobit(x) & 0xFFFFFFFF, int(n) & 31))


def tohex(x: float, n: float = 8) -> bytes:
    digits = int(n)
    upper = digits < 0
    digits = min(abs(digits), 8) or 8
    text = f"{tobit(x) & ((1 << (4 * digits)) - 1):0{digits}x}"
    return (text.upper() if upper else text).encode()


def _rol(x: int, n: int) -> int:
    return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF if n else x


FUNCTIONS: dict[bytes, Any] = {
    b"tobit": tobit,
    b"tohex": tohex,
    b"bnot": lambda x: tobit(~tobit(x)),
    b"band": _fold(lambda a, b: a & b),
    b"bor": _fold(lambda a, b: a | b),
    b"bxor": _fold(lambda a, b: a ^ b),
    b"lshift": _shift(lambda x, n: x << n),
    b"rshift": _shift(lambda x, n: x >> n),
    b"arshift": lambda x, n: tobit(tobit(x) >> (int(n) & 31)),
    b"rol": _shift(_rol),
    b"ror": _shift(lambda x, n: _rol(x, (32 - n) & 31)),
    b"bswap": lambda x: tobit(int.from_bytes((tobit(x) & 0xFFFFFFFF).to_bytes(4, "little"), "big")),
}
