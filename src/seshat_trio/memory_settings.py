"""`timeout`, `maxmemory`, `maxmemory-policy` and `maxmemory-clients`: Redis's syntax, sans-IO.

Each parser takes the text redis.conf or CONFIG SET would carry and returns the value, or
raises ValueError with Redis's reason. Sizes use Redis's memory units (`2gb`, `512mb`,
`100k`, plain bytes); `maxmemory-clients` may also be a percentage of `maxmemory` (`10%`),
which, as in Redis, means no cap while `maxmemory` is 0.
"""

from __future__ import annotations

import attrs

from seshat_trio.output_limits import memtoull

POLICIES = ("noeviction",)


@attrs.frozen(slots=True)
class ClientsCap:
    """maxmemory-clients: a size in bytes, or a percentage of maxmemory."""

    value: int
    percent: bool = False

    def bytes_for(self, maxmemory: int) -> int:
        """The cap in bytes (0: no cap)."""
        return maxmemory * self.value // 100 if self.percent else self.value

    def __str__(self) -> str:
        return f"{self.value}%" if self.percent else str(self.value)


#: The default cap (the [redis] default "256mb"): what 64 clients each uploading the
#: largest write hold at once.
DEFAULT_CLIENTS_CAP = ClientsCap(256 << 20)


def parse_timeout(text: str) -> int:
    value = text.strip()
    if not value.isdigit():
        raise ValueError("argument couldn't be parsed into an integer")
    return int(value)


def parse_memory(text: str) -> int:
    value = memtoull(text.strip())
    if value is None:
        raise ValueError("argument must be a memory value")
    return value


def parse_clients_cap(text: str) -> ClientsCap:
    value = text.strip()
    if value.endswith("%"):
        digits = value[:-1]
        if not digits.isdigit() or int(digits) > 100:
            raise ValueError("argument must be a memory or percent value")
        return ClientsCap(int(digits), percent=True)
    size = memtoull(value)
    if size is None:
        raise ValueError("argument must be a memory or percent value")
    return ClientsCap(size)


def parse_policy(text: str) -> str:
    value = text.strip().lower()
    if value not in POLICIES:
        raise ValueError(
            "argument(s) must be one of the following: noeviction (a replicated store never "
            "evicts data on its own)"
        )
    return value
