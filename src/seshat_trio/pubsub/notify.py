"""Keyspace notifications: `notify-keyspace-events` flags and the events they select.

The flags and their letters are Redis 7.0's (notify.c): K and E choose the channels
(`__keyspace@0__:<key>` carries the event, `__keyevent@0__:<event>` carries the key), the
other letters choose classes of events; `A` is every class but key-miss (m) and new-key (n).
Parsing and formatting reproduce Redis exactly, including its quirk that `n` is not shown
next to `A`.
"""

from __future__ import annotations

from collections.abc import Iterator

KEYSPACE = 1 << 0  # K
KEYEVENT = 1 << 1  # E
GENERIC = 1 << 2  # g
STRING = 1 << 3  # $
LIST = 1 << 4  # l
SET = 1 << 5  # s
HASH = 1 << 6  # h
ZSET = 1 << 7  # z
EXPIRED = 1 << 8  # x
EVICTED = 1 << 9  # e
STREAM = 1 << 10  # t
KEY_MISS = 1 << 11  # m
MODULE = 1 << 13  # d
NEW = 1 << 14  # n
ALL = GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE

_LETTERS = {
    "A": ALL, "g": GENERIC, "$": STRING, "l": LIST, "s": SET, "h": HASH, "z": ZSET,
    "x": EXPIRED, "e": EVICTED, "K": KEYSPACE, "E": KEYEVENT, "t": STREAM, "m": KEY_MISS,
    "d": MODULE, "n": NEW,
}  # fmt: skip
# The class letters in the order Redis prints them when not all of A is set.
_CLASS_ORDER = "g$lshzxetdn"

INVALID = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."

DB = b"0"
KEYSPACE_PREFIX = b"__keyspace@" + DB + b"__:"
KEYEVENT_PREFIX = b"__keyevent@" + DB + b"__:"


def parse_flags(text: str) -> int:
    """The flags `text` names; ValueError (Redis's message) for an unknown letter."""
    flags = 0
    for letter in text:
        bit = _LETTERS.get(letter)
        if bit is None:
            raise ValueError(INVALID)
        flags |= bit
    return flags


def format_flags(flags: int) -> str:
    if flags & ALL == ALL:
        text = "A"
    else:
        text = "".join(letter for letter in _CLASS_ORDER if flags & _LETTERS[letter])
    for letter in "KEm":
        if flags & _LETTERS[letter]:
            text += letter
    return text


def wanted(flags: int, event_class: int) -> bool:
    """Whether an event of `event_class` is published at all under `flags`."""
    return bool(flags & event_class) and bool(flags & (KEYSPACE | KEYEVENT))


def messages(flags: int, event: bytes, key: bytes) -> Iterator[tuple[bytes, bytes]]:
    """The (channel, message) pairs one event publishes, in Redis's order."""
    if flags & KEYSPACE:
        yield KEYSPACE_PREFIX + key, event
    if flags & KEYEVENT:
        yield KEYEVENT_PREFIX + event, key
