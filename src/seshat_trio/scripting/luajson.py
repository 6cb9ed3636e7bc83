"""The `cjson` library scripts see (lua-cjson 2.1, as Redis ships it), in Python.

cjson.encode: a table whose keys are exactly 1..n is an array (an empty table is `{}`),
any other table an object (number keys become strings; other key types are refused);
numbers print as `%.14g`; strings are escaped as lua-cjson does, `/` included.
cjson.decode: objects and arrays become tables (arrays from 1), `null` becomes
`cjson.null`. Nesting is limited to 1000 levels each way, as lua-cjson's default.
"""

from __future__ import annotations

import json
import math
from typing import Any

from lupa import lua51

MAX_DEPTH = 1000
_ESCAPES = {'"': '\\"', "\\": "\\\\", "/": "\\/", "\b": "\\b", "\f": "\\f", "\n": "\\n",
            "\r": "\\r", "\t": "\\t"}  # fmt: skip


class _Error(Exception):
    pass


def functions(lua: Any) -> dict[bytes, Any]:
    null = lua.table()

    def encode(value: Any) -> bytes:
        out: list[str] = []
        _encode(value, out, 0, null)
        return "".join(out).encode("utf-8", "surrogateescape")

    def decode(text: bytes) -> Any:
        try:
            parsed = json.loads(
                text.decode("utf-8", "surrogateescape"), parse_constant=_refuse_constant
            )
        except json.JSONDecodeError as exc:
            raise _Error(
                f"Expected value but found invalid token at character {exc.pos + 1}"
            ) from None
        except (ValueError, RecursionError):
            raise _Error("Found too many nested data structures") from None
        return _to_lua(lua, parsed, null, 0)

    return {b"encode": encode, b"decode": decode, b"null": null}


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"invalid number {name}")


def _to_lua(lua: Any, value: Any, null: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ValueError("Found too many nested data structures")
    if value is None:
        return null
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if isinstance(value, list):
        return lua.table_from([_to_lua(lua, item, null, depth + 1) for item in value])
    if isinstance(value, dict):
        return lua.table_from(
            {
                key.encode("utf-8", "surrogateescape"): _to_lua(lua, item, null, depth + 1)
                for key, item in value.items()
            }
        )
    return value


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isinf(value) or math.isnan(value):
        raise _Error("Cannot serialise number: must not be NaN or Inf")
    return f"{value:.14g}"


def _string(value: bytes) -> str:
    text = value.decode("utf-8", "surrogateescape")
    out = ['"']
    for char in text:
        escaped = _ESCAPES.get(char)
        if escaped is None and ord(char) < 0x20:
            escaped = f"\\u{ord(char):04x}"
        out.append(escaped or char)
    out.append('"')
    return "".join(out)


def _encode(value: Any, out: list[str], depth: int, null: Any) -> None:
    if value is None or value is null:
        out.append("null")
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    elif isinstance(value, int | float):
        out.append(_number(value))
    elif isinstance(value, bytes):
        out.append(_string(value))
    elif lua51.lua_type(value) == "table":
        if depth >= MAX_DEPTH:
            raise _Error("Cannot serialise, excessive nesting (1001)")
        items = list(value.items())
        keys = [key for key, _ in items]
        if items and all(isinstance(k, int) and k >= 1 for k in keys):
            size = max(keys)
            if size <= 2 * len(items) or size <= 10:  # lua-cjson's sparse array rule
                out.append("[")
                for index in range(1, size + 1):
                    if index > 1:
                        out.append(",")
                    _encode(value[index], out, depth + 1, null)
                out.append("]")
                return
            raise _Error("Cannot serialise table: excessively sparse array")
        out.append("{")
        for position, (key, item) in enumerate(items):
            if position:
                out.append(",")
            if isinstance(key, bytes):
                out.append(_string(key))
            elif isinstance(key, int | float) and not isinstance(key, bool):
                out.append('"' + _number(key) + '"')
            else:
                raise _Error("Cannot serialise table: table key must be a number or string")
            out.append(":")
            _encode(item, out, depth + 1, null)
        out.append("}")
    else:
        raise _Error(f"Cannot serialise {lua51.lua_type(value)}: type not supported")
