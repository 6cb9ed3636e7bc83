"""The `struct` library scripts see (Roberto Ierusalimschy's lua-struct, as Redis 7.0 ships
it, on x86-64), in Python.

struct.pack(fmt, ...), struct.unpack(fmt, s [, pos]) (the values, then the position after
them) and struct.size(fmt). Format: `>` big and `<` little endian (little by default),
`![n]` alignment (a power of 2, 8 without n), `x` a zero byte, `b/B` signed/unsigned
char, `h/H` short (2), `l/L` long (8), `T` size_t (8), `i/I[n]` int of n bytes (4 by
default, at most 32), `f` float, `d` double, `c[n]` n chars (packing c0: the whole
string; unpacking c0: the previous number is the length), `s` a zero-terminated string,
spaces ignored. Integers are read into Lua numbers (doubles); like the C library, an
integer wider than 8 bytes keeps only 8 bytes of value. Errors carry the C library's
messages. Written from the library's documentation.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from seshat_trio.scripting.luamsgpack import LibraryError, to_number

MAX_INT_SIZE = 32
MAX_ALIGN = 8
INT_MAX = 2**31 - 1
MASK64 = (1 << 64) - 1
_SIZES = {"b": 1, "B": 1, "h": 2, "H": 2, "l": 8, "L": 8, "T": 8, "f": 4, "d": 8, "x": 1}
_INTEGERS = frozenset("bBhHlLTiI")


class _Format:
    """A cursor over a format string with the endianness and alignment it sets."""

    def __init__(self, text: bytes) -> None:
        self.text = text.decode("latin-1")
        self.pos = 0
        self.little = True
        self.align = 1

    def next(self) -> tuple[str, int] | None:
        """The next option and its size, or None at the end."""
        if self.pos >= len(self.text):
            return None
        opt = self.text[self.pos]
        self.pos += 1
        if opt in _SIZES:
            return opt, _SIZES[opt]
        if opt == "c":
            return opt, self.number(1)
        if opt in "iI":
            size = self.number(4)
            if size > MAX_INT_SIZE:
                raise LibraryError(f"integral size {size} is larger than limit of {MAX_INT_SIZE}")
            return opt, size
        return opt, 0

    def number(self, default: int) -> int:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos].isdigit():
            self.pos += 1
        if start == self.pos:
            return default
        value = int(self.text[start : self.pos])
        if value > INT_MAX:
            raise LibraryError("integral size overflow")
        return value

    def to_align(self, length: int, opt: str, size: int) -> int:
        if size == 0 or opt == "c":
            return 0
        size = min(size, self.align)
        return (size - (length & (size - 1))) & (size - 1)

    def control(self, opt: str, function: str) -> None:
        if opt == " ":
            return
        if opt in "><":
            self.little = opt == "<"
            return
        if opt == "!":
            align = self.number(MAX_ALIGN)
            if align <= 0 or align & (align - 1):
                raise LibraryError(f"alignment {align} is not a power of 2")
            self.align = align
            return
        raise LibraryError(f"bad argument #1 to '{function}' (invalid format option '{opt}')")


def _arg(args: tuple[Any, ...], index: int) -> tuple[bool, Any]:
    return (index < len(args), args[index] if index < len(args) else None)


def _check_number(args: tuple[Any, ...], index: int, function: str) -> float | int:
    present, value = _arg(args, index)
    number = to_number(value)
    if number is None:
        # pack's arguments read past the last one find the nil it pushed, as in C.
        got = _type_of(value) if present or function == "pack" else "no value"
        raise LibraryError(
            f"bad argument #{index + 1} to '{function}' (number expected, got {got})"
        )
    return number


def _check_string(args: tuple[Any, ...], index: int, function: str) -> bytes:
    present, value = _arg(args, index)
    if isinstance(value, bytes):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return b"%d" % value if isinstance(value, int) else b"%.14g" % value
    got = _type_of(value) if present or (function == "pack" and index > 0) else "no value"
    raise LibraryError(f"bad argument #{index + 1} to '{function}' (string expected, got {got})")


def _type_of(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, bytes):
        return "string"
    if isinstance(value, int | float):
        return "number"
    return "table"


def _integer_bytes(number: float, size: int, little: bool) -> bytes:
    value = int(number) & MASK64  # (unsigned long)(long)n, as the C library casts
    out = bytes((value >> (8 * i)) & 0xFF if i < 8 else 0 for i in range(size))
    return out if little else out[::-1]


def _read_integer(data: bytes, signed: bool, little: bool) -> float | int:
    raw = data if not little else data[::-1]  # most significant byte first
    value = 0
    for byte in raw:
        value = ((value << 8) | byte) & MASK64
    if signed:
        mask = (MASK64 << ((len(data) * 8 - 1) & 63)) & MASK64
        if value & mask:
            value |= mask
        if value >= 1 << 63:
            value -= 1 << 64
    return value if -(2**53) <= value <= 2**53 else float(value)


def pack(*args: Any) -> bytes:
    fmt = _Format(_check_string(args, 0, "pack"))
    out = bytearray()
    index = 1
    while (item := fmt.next()) is not None:
        opt, size = item
        out += bytes(fmt.to_align(len(out), opt, size))
        if opt in _INTEGERS:
            out += _integer_bytes(_check_number(args, index, "pack"), size, fmt.little)
            index += 1
        elif opt == "x":
            out.append(0)
        elif opt in "fd":
            number = float(_check_number(args, index, "pack"))
            index += 1
            code = ("<" if fmt.little else ">") + opt
            try:
                out += struct.pack(code, number)
            except OverflowError:  # a float out of range becomes infinity, as in C
                out += struct.pack(code, float("inf") if number > 0 else float("-inf"))
        elif opt in "cs":
            text = _check_string(args, index, "pack")
            index += 1
            length = size if size else len(text)
            if len(text) < length:
                raise LibraryError(f"bad argument #{index} to 'pack' (string too short)")
            out += text[:length]
            if opt == "s":
                out.append(0)
        else:
            fmt.control(opt, "pack")
    return bytes(out)


def unpack(*args: Any) -> tuple[Any, ...]:
    fmt = _Format(_check_string(args, 0, "unpack"))
    data = _check_string(args, 1, "unpack")
    _, start = _arg(args, 2)
    pos = 1 if start is None else int(_check_number(args, 2, "unpack"))
    if pos <= 0:
        raise LibraryError("bad argument #3 to 'unpack' (offset must be 1 or greater)")
    pos -= 1
    results: list[Any] = []
    while (item := fmt.next()) is not None:
        opt, size = item
        pos += fmt.to_align(pos, opt, size)
        if size > len(data) or pos > len(data) - size:
            raise LibraryError("bad argument #2 to 'unpack' (data string too short)")
        if opt in _INTEGERS:
            results.append(_read_integer(data[pos : pos + size], opt.islower(), fmt.little))
        elif opt in "fd":
            code = ("<" if fmt.little else ">") + opt
            results.append(struct.unpack(code, data[pos : pos + size])[0])
        elif opt == "c":
            if size == 0:
                if not results or to_number(results[-1]) is None:
                    raise LibraryError("format 'c0' needs a previous size")
                size = int(to_number(results.pop()) or 0)
                if size > len(data) or pos > len(data) - size:
                    raise LibraryError("bad argument #2 to 'unpack' (data string too short)")
            results.append(data[pos : pos + size])
        elif opt == "s":
            end = data.find(b"\0", pos)
            if end < 0:
                raise LibraryError("unfinished string in data")
            results.append(data[pos:end])
            size = end - pos + 1
        elif opt != "x":
            fmt.control(opt, "unpack")
        pos += size
    return (*results, pos + 1)


def size(*args: Any) -> int:
    fmt = _Format(_check_string(args, 0, "size"))
    pos = 0
    while (item := fmt.next()) is not None:
        opt, length = item
        pos += fmt.to_align(pos, opt, length)
        if opt == "s":
            raise LibraryError("bad argument #1 to 'size' (option 's' has no fixed size)")
        if opt == "c" and length == 0:
            raise LibraryError("bad argument #1 to 'size' (option 'c0' has no fixed size)")
        if not opt.isalnum():
            fmt.control(opt, "size")
        pos += length
    return pos


FUNCTIONS: dict[bytes, Callable[..., Any]] = {b"pack": pack, b"unpack": unpack, b"size": size}
