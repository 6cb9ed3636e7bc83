"""Glob matching against Redis 7.0 itself, plus hand-written cases and the abusive patterns.

redis-server is the oracle: a server holding one key answers `KEYS pattern` with that key
or with nothing, which is exactly stringmatchlen(pattern, key) (except for a pattern of
exactly `*`, which KEYS takes as "every key" without matching). Case-folding matching
(`nocase`) is compared through `COMMAND LIST FILTERBY PATTERN`, which Redis matches against
every command name with nocase set.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tests.reference_redis import reference_redis

from seshat_trio.glob import GlobPattern, stringmatch


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[redis.Redis]:
    with reference_redis(tmp_path_factory.mktemp("redis")) as client:
        yield client


def keys_matches(server: redis.Redis, pattern: bytes, key: bytes) -> bool:
    """Whether redis-server, holding only `key`, lists it for `KEYS pattern`."""
    pipe = server.pipeline(transaction=False)
    pipe.flushall().set(key, b"1").keys(pattern)
    *_, found = pipe.execute()
    assert found in ([], [key])
    return found == [key]


# Bytes that mean something in a pattern, letters of both cases, and bytes >= 0x80 (which
# C compares as signed chars in ranges).
PATTERN_BYTES = list(b"ab*?[]^-\\Az\x80\xff")
KEY_BYTES = list(b"ab]-^\\Az\x80\xff*?[")
keys = st.lists(st.sampled_from(KEY_BYTES), max_size=10).map(bytes)
random_patterns = st.lists(st.sampled_from(PATTERN_BYTES), max_size=12).map(bytes)


@st.composite
def key_and_pattern(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """A key, and a pattern that is either random or made from the key (so that it often
    matches): each byte kept, escaped, replaced by `?`, `*` or a set, or a `*` inserted."""
    key = draw(keys)
    if draw(st.booleans()):
        return key, draw(random_patterns)
    pattern = bytearray()
    for byte in key:
        way = draw(st.sampled_from(["keep", "escape", "any", "star", "set", "range", "insert"]))
        if way == "keep":
            pattern.append(byte)
        elif way == "escape":
            pattern += b"\\" + bytes([byte])
        elif way == "any":
            pattern += b"?"
        elif way == "star":
            pattern += b"*"
        elif way == "set":
            pattern += b"[" + bytes([draw(st.sampled_from(KEY_BYTES)), byte]) + b"]"
        elif way == "range":
            pattern += b"[" + bytes([draw(st.sampled_from(KEY_BYTES))]) + b"-"
            pattern += bytes([draw(st.sampled_from(KEY_BYTES))]) + b"]"
        else:
            pattern += b"*" + bytes([byte])
    return key, bytes(pattern)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key_and_pattern())
@example((b"]", b"[a-]"))
@example((b"x", b"[^"))
@example((b"[", b"["))
@example((b"\\", b"\\"))
@example((b"\\", b"[\\"))
@example((b"\x10", b"[a-\xff]"))
@example((b"", b""))
@example((b"a", b"a*"))
@example((b"", b"?"))
def test_agrees_with_redis_keys(server: redis.Redis, case: tuple[bytes, bytes]) -> None:
    key, pattern = case
    if pattern == b"*":
        return  # KEYS * lists every key without matching (the empty key too)
    assert stringmatch(pattern, key) == keys_matches(server, pattern, key)


NAME_BYTES = list(b"gGeEtTsScC|-_*?[]^\\")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(NAME_BYTES), min_size=1, max_size=8).map(bytes))
@example(b"[Z-a]*")  # a range folded to lower case after being ordered, as Redis does
@example(b"[\\G]et")  # an escape in a set compares exactly, even with nocase
@example(b"CONFIG|G*")
def test_nocase_agrees_with_redis_command_list(server: redis.Redis, pattern: bytes) -> None:
    names = server.command_list()
    expected = set(server.command_list(pattern=pattern))
    assert {name for name in names if stringmatch(pattern, name, nocase=True)} == expected


# Hand-written: the expected answer is ours, and redis-server must agree with it. Quirks:
# `[a-]` is the range a..] (swapped: ]..a); an unterminated set ends with the pattern
# (`[^` is "not nothing": any byte); `[a-\xff]` compares signed chars, so it is -1..97.
HAND_WRITTEN = [
    (b"*", b"anything", True), (b"h?llo", b"hello", True), (b"h?llo", b"hllo", False),
    (b"h*llo", b"hllo", True), (b"h[ae]llo", b"hallo", True), (b"h[ae]llo", b"hillo", False),
    (b"h[^e]llo", b"hello", False), (b"h[^e]llo", b"hallo", True),
    (b"h[a-b]llo", b"hbllo", True), (b"h[b-a]llo", b"hallo", True),
    (b"a\\*b", b"a*b", True), (b"a\\*b", b"axb", False), (b"[", b"x", False),
    (b"x.y", b"xzy", False), (b"line\n*", b"line\nnext\nmore", True), (b"[]", b"a", False),
    (b"[a-]", b"]", True), (b"[a-]", b"-", False), (b"[^", b"x", True), (b"[", b"[", False),
    (b"\\", b"\\", True), (b"[\\", b"\\", True), (b"[a-\xff]", b"\x10", True),
    (b"[\x80-a]", b"\x10", True), (b"*", b"", False), (b"?", b"", False), (b"", b"", True),
    (b"a*", b"a", True), (b"*a*", b"a", True), (b"**b", b"ab", True),
    # Redis's recursion limit: more than 1000 `*` runs before the last byte match nothing.
    (b"*a" * 1000, b"a" * 1000, True), (b"*a" * 1001, b"a" * 1001, False),
    (b"*a" * 1000 + b"*", b"a" * 1500, True),  # a trailing `*` is no level
    (b"a*" * 19 + b"b", b"a" * 40, False), (b"a*" * 19 + b"b", b"a" * 39 + b"b", True),
]  # fmt: skip


@pytest.mark.parametrize(("pattern", "key", "result"), HAND_WRITTEN)
def test_hand_written_cases(server: redis.Redis, pattern: bytes, key: bytes, result: bool) -> None:
    assert stringmatch(pattern, key) is result
    if pattern != b"*":
        assert keys_matches(server, pattern, key) is result


def test_nocase() -> None:
    assert stringmatch(b"MaxMemory*", b"maxmemory-policy", nocase=True)
    assert not stringmatch(b"MaxMemory*", b"maxmemory-policy")
    assert stringmatch(b"[A-Z]", b"q", nocase=True)
    assert not stringmatch(b"[Z-a]", b"_", nocase=True)  # ordered, then folded: [z-a]
    assert not stringmatch(b"[\\A]", b"a", nocase=True)  # an escape in a set is exact


@settings(max_examples=300)
@given(random_patterns, st.lists(keys, min_size=1, max_size=8))
def test_one_compiled_pattern_serves_many_strings(pattern: bytes, many: list[bytes]) -> None:
    """Lazy reading: a pattern first read only partly (a short string) gives the same
    answers for the strings that follow as a pattern compiled afresh for each."""
    compiled = GlobPattern(pattern)
    for string in many:
        assert compiled.match(string) == GlobPattern(pattern).match(string)


@pytest.mark.parametrize(
    ("pattern", "string", "expected"),
    [
        (b"a*" * 19 + b"b", b"a" * 40, False),  # the pattern
        (b"a*" * 19 + b"b", b"a" * 39 + b"b", True),
        (b"a*" * 900 + b"b", b"a" * 4000, False),
        (b"*a" * 30 + b"*b", b"a" * 256, False),
        (b"*[a][a]?*" * 500 + b"b", b"a" * 256, False),
        (b"?" * 4_000_000, b"a" * 256, False),  # a huge pattern is read only as needed
        (b"[" + b"a-z" * 1_000_000, b"q", True),  # one huge (unterminated) set
        (b"*" * 4_000_000 + b"b", b"a" * 255 + b"b", True),
    ],
    ids=["issue", "issue-match", "900-stars", "30-stars", "sets", "huge", "huge-set", "star-run"],
)
def test_abusive_patterns_answer_at_once(pattern: bytes, string: bytes, expected: bool) -> None:
    started = time.process_time()
    assert stringmatch(pattern, string) is expected
    assert time.process_time() - started < 0.5  # seconds; backtracking took minutes
