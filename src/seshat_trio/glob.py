"""Redis's glob patterns (util.c `stringmatchlen`, Redis 7.0) without backtracking.

Every user of a MATCH or pattern argument (KEYS, SCAN, HSCAN, PSUBSCRIBE, ACL key and
channel patterns, CONFIG GET) matches through this module, so they all agree with Redis:

- `*` any run of bytes (runs of `*` are one), `?` one byte, `\\x` the byte x (a trailing
  lone `\\` is itself), `[...]` one byte of a set: `^` first negates it, `\\x` is x, `a-z` a
  range (given backwards it is swapped; bytes compare as C's signed char, so a range
  reaching a byte >= 0x80 does too), `]` ends it, and an unterminated set runs to the end of
  the pattern. `nocase` folds ASCII letters, except for `\\x` inside a set (as Redis).
- Quirks kept: an empty string matches only the empty pattern (so `*` does not match "";
  KEYS and SCAN treat a pattern of exactly `*` as "every key" before matching, as Redis
  does), and a pattern needing more than 1000 `*` runs before its last byte matches
  nothing (Redis's recursion limit).

How it stays fast: the pattern is split at its `*` runs into segments of single-byte
matchers. The first segment must match at the start, the last at the end, and each one
between at its leftmost occurrence after the previous one (taking a later occurrence
never helps, since a `*` absorbs anything), so nothing is ever retried: a match costs at
most about len(string) squared byte comparisons in C, whatever the pattern. The pattern is
read lazily, only as far as a string can need (a segment longer than what is left of the
string fails without being read to its end), so a huge pattern costs no more than a short
one.
"""

from __future__ import annotations

import functools
import re

__all__ = ["GlobPattern", "compile_glob", "stringmatch"]

_ALL = (1 << 256) - 1
_UPPER = sum(1 << c for c in range(ord("A"), ord("Z") + 1))
_LOWER = _UPPER << 32
# Redis limits its recursion to 1000 levels, one per `*` run followed by more pattern.
_MAX_STARS = 1000
# Compiled patterns are cached only when short: a cache of huge patterns would hold their
# bytes (and callers matching many strings against one pattern compile it once anyway).
_CACHED_PATTERN_BYTES = 1024
_STAR = -1  # the token of a `*` run; other tokens are 256-bit masks of the matching bytes
_STARS = re.compile(rb"\*+")
# A set's members, as Redis reads them: an escape, a range, or one byte other than `]`.
_SET_BODY = re.compile(rb"(?:\\.|[^\]\\]-.|[^\]])*+", re.DOTALL)
_SET_MEMBER = re.compile(rb"\\.|[^\]\\]-.|[^\]]", re.DOTALL)


def _lower(c: int) -> int:
    return c + 32 if 0x41 <= c <= 0x5A else c


def _fold(mask: int) -> int:
    """Every byte whose lower case is in `mask` (what C's tolower(c) == ... accepts)."""
    return (mask & ~_UPPER) | ((mask & _LOWER) >> 32)


def _span(lo: int, hi: int) -> int:
    """Bytes whose signed-char value lies in [lo, hi] (lo, hi in -128..127)."""
    mask = 0
    if hi >= 0 and lo <= 127:
        start = max(lo, 0)
        mask |= ((1 << (hi + 1)) - 1) ^ ((1 << start) - 1)
    if lo < 0:
        top = min(hi, -1)
        if top >= lo:
            mask |= ((1 << (top + 257)) - 1) ^ ((1 << (lo + 256)) - 1)
    return mask


def _signed(c: int) -> int:
    return c - 256 if c >= 128 else c


def _member_mask(member: bytes, nocase: bool) -> int:
    if len(member) == 2:  # an escape: compared exactly, even with nocase (as Redis)
        return 1 << member[1]
    if len(member) == 3:  # a range
        start, end = _signed(member[0]), _signed(member[2])
        if start > end:
            start, end = end, start
        if nocase:
            start, end = _lower(start), _lower(end)
            return _fold(_span(start, end)) if start <= end else 0
        return _span(start, end)
    return _literal(member[0], nocase)


def _literal(c: int, nocase: bool) -> int:
    return _fold(1 << _lower(c)) if nocase else 1 << c


@functools.lru_cache(maxsize=4096)
def _set_mask(members: frozenset[bytes], negate: bool, nocase: bool) -> int:
    mask = 0
    for member in members:
        mask |= _member_mask(member, nocase)
    return _ALL ^ mask if negate else mask


def _atom(mask: int) -> bytes:
    """A regular-expression atom matching exactly the bytes of `mask`."""
    if not mask:
        return b"(?!)"
    if mask == _ALL:
        return b"."
    if mask & (mask - 1) == 0:
        return b"\\x%02x" % (mask.bit_length() - 1)
    negate = mask.bit_count() > 128
    if negate:
        mask ^= _ALL
    parts = [b"[^" if negate else b"["]
    c = 0
    while c < 256:
        if mask >> c & 1:
            end = c
            while end + 1 < 256 and mask >> (end + 1) & 1:
                end += 1
            parts.append(b"\\x%02x" % c if end == c else b"\\x%02x-\\x%02x" % (c, end))
            c = end + 1
        else:
            c += 1
    parts.append(b"]")
    return b"".join(parts)


class GlobPattern:
    """One compiled pattern; `match` may be called with any number of strings."""

    __slots__ = ("_done", "_nocase", "_pattern", "_pos", "_regexes", "_tokens")

    def __init__(self, pattern: bytes, nocase: bool = False) -> None:
        self._pattern = pattern
        self._nocase = nocase
        self._tokens: list[int] = []  # read so far
        self._pos = 0  # where reading goes on
        self._done = not pattern
        # (first token index, token count) -> search regex of that segment
        self._regexes: dict[tuple[int, int], re.Pattern[bytes]] = {}

    @property
    def pattern(self) -> bytes:
        return self._pattern

    def match(self, string: bytes) -> bool:
        """Whether `string` matches, exactly as Redis's stringmatchlen decides."""
        size = len(string)
        if not size:
            return not self._pattern
        # The first segment is anchored at the start.
        count, following = self._segment(0, size + 1)
        if following is None:  # no `*` at all: the segment is the whole pattern
            return count == size and self._at(0, count, string, 0)
        if count > size or not self._at(0, count, string, 0):
            return False
        pos = count
        index = count + 1  # past the `*` token
        stars = 0
        while True:
            count, following = self._segment(index, size - pos + 1)
            if count == 0 and following is None:
                return True  # a trailing `*` takes the rest
            stars += 1
            if stars > _MAX_STARS or count > size - pos:
                return False
            if following is None:  # the last segment is anchored at the end
                return self._at(index, count, string, size - count)
            found = self._search(index, count, string, pos)
            if found < 0:
                return False
            pos = found + count
            index += count + 1

    # -- lazy reading of the pattern ------------------------------------------------------
    def _token(self, index: int) -> int | None:
        """Token `index`, reading the pattern as far as needed; None past its end."""
        tokens = self._tokens
        while index >= len(tokens):
            if self._done:
                return None
            tokens.append(self._read())
        return tokens[index]

    def _read(self) -> int:
        pattern, pos = self._pattern, self._pos
        c = pattern[pos]
        if c == 0x2A:  # *
            found = _STARS.match(pattern, pos)
            assert found is not None
            token, pos = _STAR, found.end()
        elif c == 0x3F:  # ?
            token, pos = _ALL, pos + 1
        elif c == 0x5C and pos + 1 < len(pattern):  # \x
            token, pos = _literal(pattern[pos + 1], self._nocase), pos + 2
        elif c == 0x5B:  # [
            token, pos = self._read_set(pos + 1)
        else:
            token, pos = _literal(c, self._nocase), pos + 1
        self._pos = pos
        self._done = pos >= len(pattern)
        return token

    def _read_set(self, pos: int) -> tuple[int, int]:
        pattern = self._pattern
        negate = pattern[pos : pos + 1] == b"^"
        if negate:
            pos += 1
        body = _SET_BODY.match(pattern, pos)
        assert body is not None
        members = frozenset(_SET_MEMBER.findall(pattern, pos, body.end()))
        # Past the closing `]`, or (unterminated) at the end of the pattern.
        end = min(body.end() + 1, len(pattern))
        return _set_mask(members, negate, self._nocase), end

    def _segment(self, index: int, limit: int) -> tuple[int, int | None]:
        """(tokens before the next `*` from token `index`, capped at `limit`, and the index
        of that `*`, or None if the pattern ends first). A segment longer than `limit`
        is not read past it: it cannot fit what is left of the string anyway."""
        count = 0
        while count < limit:
            token = self._token(index + count)
            if token is None:
                return count, None
            if token == _STAR:
                return count, index + count
            count += 1
        return count, index + count  # too long; `following` is not looked at

    # -- matching one segment ---------------------------------------------------------------
    def _regex(self, index: int, count: int) -> re.Pattern[bytes]:
        key = (index, count)
        regex = self._regexes.get(key)
        if regex is None:
            masks = self._tokens[index : index + count]
            regex = re.compile(b"".join(_atom(mask) for mask in masks), re.DOTALL)
            self._regexes[key] = regex
        return regex

    def _at(self, index: int, count: int, string: bytes, pos: int) -> bool:
        return count == 0 or self._regex(index, count).match(string, pos, pos + count) is not None

    def _search(self, index: int, count: int, string: bytes, pos: int) -> int:
        found = self._regex(index, count).search(string, pos)
        return -1 if found is None else found.start()


@functools.lru_cache(maxsize=256)
def _cached(pattern: bytes, nocase: bool) -> GlobPattern:
    return GlobPattern(pattern, nocase)


def compile_glob(pattern: bytes, nocase: bool = False) -> GlobPattern:
    """A reusable matcher for `pattern` (short patterns are shared through a cache)."""
    if len(pattern) <= _CACHED_PATTERN_BYTES:
        return _cached(pattern, nocase)
    return GlobPattern(pattern, nocase)


def stringmatch(pattern: bytes, string: bytes, nocase: bool = False) -> bool:
    """Redis's stringmatchlen(pattern, string, nocase)."""
    return compile_glob(pattern, nocase).match(string)
