"""Glob matching: Redis's stringmatchlen semantics without its backtracking.

The model below is a line-by-line port of Redis 7.0's recursive stringmatchlen_impl (C
semantics kept: signed chars, the byte after the pattern reads as NUL, the 1000-level
recursion limit, skipLongerMatches); hypothesis checks the real matcher against it, and a
sample is checked against redis-server itself through KEYS.
"""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from seshat_trio.glob import GlobPattern, stringmatch
from seshat_trio.testing.ports import free_port


def _lower(c: int) -> int:
    return c + 32 if 0x41 <= c <= 0x5A else c


def _signed(c: int) -> int:
    return c - 256 if c >= 128 else c


def redis_stringmatch(pattern: bytes, string: bytes, nocase: bool = False) -> bool:
    """Redis 7.0 util.c stringmatchlen, ported literally (the reference model)."""
    p = pattern + b"\0"  # C reads the sds terminator past the end

    def impl(pi: int, plen: int, si: int, slen: int, skip: list[bool], nesting: int) -> bool:
        if nesting > 1000:
            return False
        while plen and slen:
            c = p[pi]
            if c == 0x2A:  # *
                while plen and p[pi + 1] == 0x2A:
                    pi += 1
                    plen -= 1
                if plen == 1:
                    return True
                while slen:
                    if impl(pi + 1, plen - 1, si, slen, skip, nesting + 1):
                        return True
                    if skip[0]:
                        return False
                    si += 1
                    slen -= 1
                skip[0] = True
                return False
            if c == 0x3F:  # ?
                si += 1
                slen -= 1
            elif c == 0x5B:  # [
                pi += 1
                plen -= 1
                negate = p[pi] == 0x5E
                if negate:
                    pi += 1
                    plen -= 1
                match = False
                while True:
                    if p[pi] == 0x5C and plen >= 2:
                        pi += 1
                        plen -= 1
                        if p[pi] == string[si]:
                            match = True
                    elif p[pi] == 0x5D:
                        break
                    elif plen == 0:
                        pi -= 1
                        plen += 1
                        break
                    elif plen >= 3 and p[pi + 1] == 0x2D:
                        start, end, ch = _signed(p[pi]), _signed(p[pi + 2]), _signed(string[si])
                        if start > end:
                            start, end = end, start
                        if nocase:
                            start, end, ch = _lower(start), _lower(end), _lower(ch)
                        pi += 2
                        plen -= 2
                        if start <= ch <= end:
                            match = True
                    elif nocase:
                        if _lower(p[pi]) == _lower(string[si]):
                            match = True
                    elif p[pi] == string[si]:
                        match = True
                    pi += 1
                    plen -= 1
                if negate:
                    match = not match
                if not match:
                    return False
                si += 1
                slen -= 1
            else:
                if c == 0x5C and plen >= 2:
                    pi += 1
                    plen -= 1
                a, b = p[pi], string[si]
                if (_lower(a) != _lower(b)) if nocase else (a != b):
                    return False
                si += 1
                slen -= 1
            pi += 1
            plen -= 1
            if slen == 0:
                while p[pi] == 0x2A:
                    pi += 1
                    plen -= 1
                break
        return plen == 0 and slen == 0

    return impl(0, len(pattern), 0, len(string), [False], 0)


ALPHABET = b"ab*?[]^-\\Az\x80\xff"
patterns = st.lists(st.sampled_from(list(ALPHABET)), max_size=12).map(bytes)
strings = st.lists(st.sampled_from(list(b"ab]-^\\Azaz\x80\xff*?[")), max_size=10).map(bytes)


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(patterns, strings, st.booleans())
@example(b"[a-]", b"]", False)
@example(b"[^", b"x", False)
@example(b"[", b"[", False)
@example(b"\\", b"\\", False)
@example(b"[\\", b"\\", False)
@example(b"[Z-a]", b"_", True)
@example(b"[a-\xff]", b"\x10", False)
@example(b"[\\A]", b"a", True)
@example(b"*", b"", False)
@example(b"a*", b"a", False)
def test_agrees_with_redis_stringmatchlen(pattern: bytes, string: bytes, nocase: bool) -> None:
    assert stringmatch(pattern, string, nocase) == redis_stringmatch(pattern, string, nocase)


@settings(max_examples=300)
@given(patterns, st.lists(strings, min_size=1, max_size=8))
def test_one_compiled_pattern_serves_many_strings(pattern: bytes, many: list[bytes]) -> None:
    """Lazy reading: a pattern first read only partly (a short string) gives the same
    answers for the strings that follow."""
    compiled = GlobPattern(pattern)
    for string in many:
        assert compiled.match(string) == redis_stringmatch(pattern, string)


@pytest.mark.parametrize(
    ("pattern", "key", "result"),
    [
        (b"*", b"anything", True), (b"h?llo", b"hello", True), (b"h?llo", b"hllo", False),
        (b"h*llo", b"hllo", True), (b"h[ae]llo", b"hallo", True), (b"h[ae]llo", b"hillo", False),
        (b"h[^e]llo", b"hello", False), (b"h[^e]llo", b"hallo", True),
        (b"h[a-b]llo", b"hbllo", True), (b"h[b-a]llo", b"hallo", True),
        (b"a\\*b", b"a*b", True), (b"a\\*b", b"axb", False), (b"[", b"x", False),
        (b"x.y", b"xzy", False), (b"line\n*", b"line\nnext\nmore", True), (b"[]", b"a", False),
    ],
)  # fmt: skip
def test_glob_patterns_follow_redis(pattern: bytes, key: bytes, result: bool) -> None:
    assert stringmatch(pattern, key) is result


def test_nesting_limit_of_redis() -> None:
    assert stringmatch(b"*a" * 1000, b"a" * 1000)
    assert not stringmatch(b"*a" * 1001, b"a" * 1001)
    assert stringmatch(b"*a" * 1000 + b"*", b"a" * 1500)  # a trailing `*` is no level


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


def test_an_empty_string_matches_only_the_empty_pattern() -> None:
    assert stringmatch(b"", b"") and not stringmatch(b"*", b"") and not stringmatch(b"?", b"")
    assert not stringmatch(b"", b"a")


def test_nocase() -> None:
    assert stringmatch(b"MaxMemory*", b"maxmemory-policy", nocase=True)
    assert not stringmatch(b"MaxMemory*", b"maxmemory-policy")
    assert stringmatch(b"[A-Z]", b"q", nocase=True)


REDIS_SERVER = shutil.which("redis-server")


@pytest.fixture(scope="module")
def redis_oracle():  # type: ignore[no-untyped-def]
    redis = pytest.importorskip("redis")
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    proc = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(port=port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield client
    finally:
        proc.kill()
        proc.wait(10)


ORACLE_KEYS = sorted(
    {
        bytes(k)
        for k in [
            b"",
            b"a",
            b"b",
            b"ab",
            b"ba",
            b"aab",
            b"a]",
            b"]",
            b"-",
            b"^",
            b"\\",
            b"A",
            b"Az",
            b"z",
            b"\x80",
            b"\xff",
            b"a\xffb",
            b"*",
            b"?",
            b"[",
            b"[a]",
            b"abab",
            b"^a",
            b"a-b",
            b"aaaa",
            b"zA",
        ]
    }
)


@settings(max_examples=400, deadline=None)
@given(patterns.filter(lambda p: p != b"*"))
def test_agrees_with_redis_server_keys(redis_oracle, pattern: bytes) -> None:  # type: ignore[no-untyped-def]
    if not redis_oracle.dbsize():
        redis_oracle.mset({key: b"1" for key in ORACLE_KEYS})
    expected = sorted(redis_oracle.keys(pattern))
    assert sorted(k for k in ORACLE_KEYS if stringmatch(pattern, k)) == expected
