"""SCAN-family cursors and paging: SCAN, and HSCAN/SSCAN/ZSCAN over a collection.

A cursor is an unsigned 64-bit decimal integer, as in Redis: the *position* of the next
item to examine. Items are kept in position order: keys by (hash slot, crc32 of the key),
a 46-bit number (storage.position); members of a collection by the crc32 of the member
(kv/collections.py). Several items can share a position (a checksum collision), so a page
never ends inside such a run: the cursor then resumes exactly after the page, and a full
iteration returns every item present from its start to its end exactly once (Redis
promises "at least once"). Cursor 0 starts an iteration and ends it.

Cursor parsing is Redis's (strtoul, base 10): an optional sign ("-1" is 2**64 - 1), no
leading space, nothing after the digits, at most 2**64 - 1; the empty string is 0.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TypeVar

import attrs

from seshat_trio.glob import compile_glob
from seshat_trio.kv.collections import Collection, from_position, member_of, member_position
from seshat_trio.kv.parsing import NOT_INTEGER, SYNTAX_ERROR, parse_int
from seshat_trio.protocol import ErrorReply, Reply

T = TypeVar("T")

INVALID_CURSOR = ErrorReply("ERR invalid cursor")
_CURSOR = re.compile(rb"([+-]?)([0-9]*)")
_U64_LIMIT = 2**64


def parse_cursor(arg: bytes) -> int | None:
    """A cursor as Redis's strtoul reads it, or None (ERR invalid cursor)."""
    match = _CURSOR.fullmatch(arg)
    if match is None:
        return None
    sign, digits = match.groups()
    if not digits:
        return 0 if not arg else None
    value = int(digits)
    if value >= _U64_LIMIT:
        return None
    return (_U64_LIMIT - value) % _U64_LIMIT if sign == b"-" else value


@attrs.frozen(slots=True)
class ScanOptions:
    pattern: bytes | None  # None: every item
    count: int
    type_name: bytes | None  # SCAN only


def parse_options(args: tuple[bytes, ...], *, with_type: bool) -> ScanOptions | ErrorReply:
    """MATCH, COUNT (and TYPE for SCAN), in any order, the last one of each counting."""
    pattern: bytes | None = None
    count, type_name = 10, None
    i = 0
    while i < len(args):
        option = args[i].lower()
        if i + 1 >= len(args):
            return SYNTAX_ERROR
        if option == b"count":
            parsed = parse_int(args[i + 1])
            if parsed is None:
                return NOT_INTEGER
            if parsed < 1:
                return SYNTAX_ERROR
            count = parsed
        elif option == b"match":
            pattern = None if args[i + 1] == b"*" else args[i + 1]
        elif option == b"type" and with_type:
            type_name = args[i + 1].lower()
        else:
            return SYNTAX_ERROR
        i += 2
    return ScanOptions(pattern, count, type_name)


def page(items: Iterable[T], position: Callable[[T], int], count: int) -> tuple[int, list[T]]:
    """Up to `count` items from the start of `items` (in position order), more only to
    finish a run of equal positions; returns (the next cursor, or 0 at the end, the items)."""
    taken: list[T] = []
    last = -1
    for item in items:
        here = position(item)
        if len(taken) >= count and here != last:
            return here, taken
        taken.append(item)
        last = here
    return 0, taken


@attrs.frozen(slots=True)
class MemberScan:
    """HSCAN/SSCAN/ZSCAN arguments."""

    key: bytes
    cursor: int
    options: ScanOptions | ErrorReply  # Redis checks them after the key's type


def parse_member_scan(args: tuple[bytes, ...]) -> MemberScan | ErrorReply:
    cursor = parse_cursor(args[1])
    if cursor is None:
        return INVALID_CURSOR
    return MemberScan(args[0], cursor, parse_options(args[2:], with_type=False))


def _member_position(item: tuple[bytes, bytes]) -> int:
    return member_position(item[0])


def scan_members(c: Collection | None, cmd: MemberScan, *, with_values: bool) -> Reply:
    """One page of a collection's members (and their values if `with_values`); a cursor
    is a member position, 32 bits."""
    if c is None:
        return [b"0", []]
    options = cmd.options
    if isinstance(options, ErrorReply):
        return options
    if cmd.cursor >> 32:
        return [b"0", []]
    cursor, examined = page(c.items(from_position(cmd.cursor)), _member_position, options.count)
    glob = None if options.pattern is None else compile_glob(options.pattern)
    found: list[bytes] = []
    for suffix, value in examined:
        member = member_of(suffix)
        if glob is None or glob.match(member):
            found += (member, value) if with_values else (member,)
    return [b"%d" % cursor, found]
