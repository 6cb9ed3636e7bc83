"""Redis's encoding parameters: accepted by CONFIG SET and GET, with no effect here.

hash-max-listpack-entries/-value, list-max-listpack-size, set-max-intset-entries and
zset-max-listpack-entries/-value (and their old *-ziplist-* names) choose when Redis turns
a small collection's compact encoding into its general one. This store keeps one record per
element whatever the size (docs/storage.md), so there is nothing to tune; clients and test
suites set them anyway, so they are validated as Redis validates them and remembered per
node, as tunables (seshat_trio/tunables.py), like any CONFIG SET in Redis (not replicated).
"""

from __future__ import annotations

import re

import attrs

_LONG_MAX = 2**63 - 1
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_MEMORY = re.compile(rb"([0-9]+)(b|k|kb|m|mb|g|gb)?", re.IGNORECASE)
_UNITS = {b"": 1, b"b": 1, b"k": 1000, b"kb": 1024, b"m": 1000**2, b"mb": 1024**2}
_UNITS |= {b"g": 1000**3, b"gb": 1024**3}
_INTEGER = re.compile(rb"0|-?[1-9][0-9]*")


@attrs.frozen(slots=True)
class Parameter:
    name: str
    alias: str | None
    default: int
    low: int
    high: int
    memory: bool  # accepts units (64kb), as Redis's MEMORY_CONFIG


PARAMETERS = (
    Parameter("hash-max-listpack-entries", "hash-max-ziplist-entries", 512, 0, _LONG_MAX, False),
    Parameter("hash-max-listpack-value", "hash-max-ziplist-value", 64, 0, _LONG_MAX, True),
    Parameter("list-max-listpack-size", "list-max-ziplist-size", -2, _INT_MIN, _INT_MAX, False),
    Parameter("set-max-intset-entries", None, 512, 0, _LONG_MAX, False),
    Parameter("zset-max-listpack-entries", "zset-max-ziplist-entries", 128, 0, _LONG_MAX, False),
    Parameter("zset-max-listpack-value", "zset-max-ziplist-value", 64, 0, _LONG_MAX, True),
)
BY_NAME = {name: p for p in PARAMETERS for name in (p.name, p.alias) if name is not None}


DEFAULTS = {p.name: p.default for p in PARAMETERS}


def parse(parameter: Parameter, text: str) -> int:
    """The value of `text` for `parameter`; ValueError with Redis's reason otherwise."""
    raw = text.encode(errors="surrogateescape")
    value: int | None = None
    if parameter.memory:
        match = _MEMORY.fullmatch(raw)
        if match is None:
            raise ValueError("argument must be a memory value")
        value = int(match[1]) * _UNITS[(match[2] or b"").lower()]
    elif _INTEGER.fullmatch(raw) and len(raw) <= 20:
        value = int(raw)
    if value is None or not -(2**63) <= value <= _LONG_MAX:
        raise ValueError("argument couldn't be parsed into an integer")
    if not parameter.low <= value <= parameter.high:
        raise ValueError(f"argument must be between {parameter.low} and {parameter.high} inclusive")
    return value
