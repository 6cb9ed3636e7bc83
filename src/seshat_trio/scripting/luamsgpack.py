"""The `cmsgpack` library scripts see (lua-cmsgpack 0.4.0, as Redis 7.0 ships it), in Python.

cmsgpack.pack(v1, v2, ...) concatenates the MessagePack encoding of each value: nil (and
functions, userdata) as nil, booleans, numbers as the smallest integer encoding when they
hold an int64 value, else as a 32-bit float when that keeps the value exactly, else as a
double; strings as str8/16/32 (fixstr below 32 bytes); a table whose keys are exactly 1..n
as an array, any other as a map (keys in Lua's traversal order). Tables nested deeper than
16 levels are encoded as nil, so circular references end there.
cmsgpack.unpack(s) returns every value in `s`; unpack_one(s [, offset]) and
unpack_limit(s, limit [, offset]) also return the offset after what they read (-1 at the
end). Integers come back as Lua numbers (doubles), as in Redis's Lua 5.1 build.
Written from the MessagePack specification and the library's documented behaviour.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import Any

from lupa import lua51

MAX_NESTING = 16
INT_MAX = 2**31 - 1


class LibraryError(Exception):
    """An error a library function raises in the calling script (its message)."""


def functions(lua: Any) -> dict[bytes, Callable[..., Any]]:
    def pack(*values: Any) -> bytes:
        if not values:
            raise LibraryError("bad argument #0 to 'pack' (MessagePack pack needs input.)")
        out = bytearray()
        for value in values:
            _encode(value, out, 0)
        return bytes(out)

    def unpack_full(data: bytes, limit: int, offset: int, name: str) -> tuple[Any, ...]:
        decode_all = not limit and not offset
        if offset < 0 or limit < 0:
            raise LibraryError(
                f"Invalid request to unpack with offset of {offset} and limit of {len(data)}."
            )
        if offset > len(data):
            raise LibraryError(f"Start offset {offset} greater than input length {len(data)}.")
        if decode_all:
            limit = INT_MAX
        reader = _Reader(lua, data, offset)
        results: list[Any] = []
        while reader.pos < len(data) and len(results) < limit:
            results.append(reader.value())
        if decode_all:
            return tuple(results)
        return (-1 if reader.pos >= len(data) else reader.pos, *results)

    def unpack(*args: Any) -> tuple[Any, ...]:
        return unpack_full(_string_arg(args, 1, "unpack"), 0, 0, "unpack")

    def unpack_one(*args: Any) -> tuple[Any, ...]:
        data = _string_arg(args, 1, "unpack_one")
        return unpack_full(data, 1, _int_arg(args, 2, "unpack_one"), "unpack_one")

    def unpack_limit(*args: Any) -> tuple[Any, ...]:
        data = _string_arg(args, 1, "unpack_limit")
        limit = _int_arg(args, 2, "unpack_limit")
        return unpack_full(data, limit, _int_arg(args, 3, "unpack_limit"), "unpack_limit")

    return {
        b"pack": pack,
        b"unpack": unpack,
        b"unpack_one": unpack_one,
        b"unpack_limit": unpack_limit,
        b"_NAME": b"cmsgpack",  # type: ignore[dict-item]
        b"_VERSION": b"lua-cmsgpack 0.4.0",  # type: ignore[dict-item]
        b"_COPYRIGHT": b"Copyright (C) 2012, Salvatore Sanfilippo",  # type: ignore[dict-item]
        b"_DESCRIPTION": b"MessagePack C implementation for Lua",  # type: ignore[dict-item]
    }


def _string_arg(args: tuple[Any, ...], arg: int, name: str) -> bytes:
    """Lua's luaL_checklstring on argument `arg` (1-based): a string, or a number as text."""
    value = args[arg - 1] if len(args) >= arg else None
    if isinstance(value, bytes):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _number_text(value)
    got = "no value" if len(args) < arg else _type_name(value)
    raise LibraryError(f"bad argument #{arg} to '{name}' (string expected, got {got})")


def _int_arg(args: tuple[Any, ...], arg: int, name: str) -> int:
    """Lua's luaL_optinteger on argument `arg` (1-based): 0 when absent or nil."""
    value = args[arg - 1] if len(args) >= arg else None
    if value is None:
        return 0
    number = to_number(value)
    if number is None:
        raise LibraryError(
            f"bad argument #{arg} to '{name}' (number expected, got {_type_name(value)})"
        )
    return int(number)


def to_number(value: Any) -> float | int | None:
    """Lua's lua_tonumber: numbers, and strings that read as one (decimal or 0x hex)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if not isinstance(value, bytes):
        return None
    text = value.strip(b" \t\n\r\f\v").decode("latin-1")
    try:
        if text.lower().startswith(("0x", "-0x", "+0x")):
            return int(text, 16)
        number = float(text)
    except ValueError:
        return None
    if text.lower().lstrip("+-") in ("inf", "infinity", "nan"):
        return None
    return int(number) if number.is_integer() and abs(number) < 2**63 else number


def _type_name(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, bytes):
        return "string"
    return str(lua51.lua_type(value))


def _number_text(value: float) -> bytes:
    return b"%d" % value if isinstance(value, int) else (b"%.14g" % value)


def _encode(value: Any, out: bytearray, level: int) -> None:
    if value is None or value is False or value is True:
        out.append(0xC0 if value is None else 0xC3 if value else 0xC2)
    elif isinstance(value, int | float):
        _encode_number(value, out)
    elif isinstance(value, bytes):
        _encode_bytes(value, out)
    elif lua51.lua_type(value) == "table" and level < MAX_NESTING:
        _encode_table(value, out, level)
    else:  # functions, userdata, threads, tables past the nesting limit
        out.append(0xC0)


def _encode_bytes(data: bytes, out: bytearray) -> None:
    n = len(data)
    if n < 32:
        out.append(0xA0 | n)
    elif n <= 0xFF:
        out += b"\xd9" + bytes((n,))
    elif n <= 0xFFFF:
        out += b"\xda" + struct.pack(">H", n)
    else:
        out += b"\xdb" + struct.pack(">I", n & 0xFFFFFFFF)
    out += data


def _encode_number(number: float, out: bytearray) -> None:
    if isinstance(number, int) or (
        not math.isinf(number) and number.is_integer() and -(2**63) <= number < 2**63
    ):
        _encode_int(int(number), out)
        return
    try:
        single = struct.unpack("<f", struct.pack("<f", number))[0]
    except OverflowError:  # beyond a float's range: only a double holds it
        single = None
    if single == number:  # exactly a 32-bit float (never NaN)
        out += b"\xca" + struct.pack(">f", number)
    else:
        out += b"\xcb" + struct.pack(">d", number)


def _encode_int(n: int, out: bytearray) -> None:
    if n >= 0:
        if n <= 0x7F:
            out.append(n)
        elif n <= 0xFF:
            out += b"\xcc" + bytes((n,))
        elif n <= 0xFFFF:
            out += b"\xcd" + struct.pack(">H", n)
        elif n <= 0xFFFFFFFF:
            out += b"\xce" + struct.pack(">I", n)
        else:
            out += b"\xcf" + struct.pack(">Q", n & 0xFFFFFFFFFFFFFFFF)
    elif n >= -32:
        out.append(n & 0xFF)
    elif n >= -128:
        out += b"\xd0" + struct.pack(">b", n)
    elif n >= -32768:
        out += b"\xd1" + struct.pack(">h", n)
    elif n >= -(2**31):
        out += b"\xd2" + struct.pack(">i", n)
    else:
        out += b"\xd3" + struct.pack(">q", max(n, -(2**63)))


def _encode_table(table: Any, out: bytearray, level: int) -> None:
    items = list(table.items())  # Lua's own traversal order (lua_next)
    count = len(items)
    is_array = all(
        isinstance(key, int | float) and not isinstance(key, bool) and key > 0
        and float(key).is_integer() and key <= INT_MAX
        for key, _ in items
    ) and (not items or max(key for key, _ in items) == count)  # fmt: skip
    if is_array:
        _header(out, count, 0x90, b"\xdc", b"\xdd")
        for index in range(1, count + 1):
            _encode(table[index], out, level + 1)
        return
    _header(out, count, 0x80, b"\xde", b"\xdf")
    for key, value in items:
        _encode(key, out, level + 1)
        _encode(value, out, level + 1)


def _header(out: bytearray, n: int, fix: int, sixteen: bytes, thirty_two: bytes) -> None:
    if n <= 15:
        out.append(fix | n)
    elif n <= 0xFFFF:
        out += sixteen + struct.pack(">H", n)
    else:
        out += thirty_two + struct.pack(">I", n & 0xFFFFFFFF)


class _Reader:
    def __init__(self, lua: Any, data: bytes, pos: int) -> None:
        self.lua = lua
        self.data = data
        self.pos = pos

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise LibraryError("Missing bytes in input.")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def number(self, fmt: str, size: int) -> Any:
        value = struct.unpack(fmt, self.take(size))[0]
        return value if -(2**63) <= value < 2**63 else float(value)

    def value(self) -> Any:
        first = self.take(1)[0]
        if first <= 0x7F:
            return first
        if first >= 0xE0:
            return first - 0x100
        if 0xA0 <= first <= 0xBF:
            return self.take(first & 0x1F)
        if 0x90 <= first <= 0x9F:
            return self.array(first & 0x0F)
        if 0x80 <= first <= 0x8F:
            return self.map(first & 0x0F)
        simple = {0xC0: None, 0xC2: False, 0xC3: True}
        if first in simple:
            return simple[first]
        numbers = {
            0xCC: (">B", 1), 0xCD: (">H", 2), 0xCE: (">I", 4), 0xCF: (">Q", 8),
            0xD0: (">b", 1), 0xD1: (">h", 2), 0xD2: (">i", 4), 0xD3: (">q", 8),
            0xCA: (">f", 4), 0xCB: (">d", 8),
        }  # fmt: skip
        if first in numbers:
            fmt, size = numbers[first]
            if first == 0xCF:  # read as Redis does: an int64, so huge ones wrap negative
                return struct.unpack(">q", self.take(8))[0]
            return self.number(fmt, size)
        lengths = {0xD9: (">B", 1), 0xDA: (">H", 2), 0xDB: (">I", 4)}
        if first in lengths:
            fmt, size = lengths[first]
            return self.take(struct.unpack(fmt, self.take(size))[0])
        containers = {0xDC: (">H", 2, False), 0xDD: (">I", 4, False),
                      0xDE: (">H", 2, True), 0xDF: (">I", 4, True)}  # fmt: skip
        if first in containers:
            fmt, size, is_map = containers[first]
            n = struct.unpack(fmt, self.take(size))[0]
            return self.map(n) if is_map else self.array(n)
        raise LibraryError("Bad data format in input.")

    def array(self, n: int) -> Any:
        table = self.lua.table()
        for index in range(1, n + 1):
            table[index] = self.value()
        return table

    def map(self, n: int) -> Any:
        table = self.lua.table()
        for _ in range(n):
            key = self.value()
            value = self.value()
            if key is None:
                raise LibraryError("table index is nil")
            table[key] = value
        return table
