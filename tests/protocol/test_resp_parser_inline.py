"""Inline (telnet-style) requests: sdssplitargs rules, line ends, limits, on both paths."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from seshat_trio.protocol import ParserLimits, ProtocolError, split_inline

Parse = Callable[..., tuple[list[list[bytes]], str | None]]
UNBALANCED = "Protocol error: unbalanced quotes in request"


@pytest.mark.parametrize(
    ("line", "args"),
    [
        (b"PING", [b"PING"]),
        (b"SET key value", [b"SET", b"key", b"value"]),
        (b"  SET   key\tvalue  ", [b"SET", b"key", b"value"]),
        (b"", []),
        (b"   \t ", []),
        (b'SET k "hello world"', [b"SET", b"k", b"hello world"]),
        (b"SET k 'hello world'", [b"SET", b"k", b"hello world"]),
        (b'SET k ""', [b"SET", b"k", b""]),
        (b"SET k ''", [b"SET", b"k", b""]),
        (b'"a\\n\\r\\t\\b\\a"', [b"a\n\r\t\b\x07"]),
        (b'"\\"q\\"" "\\\\"', [b'"q"', b"\\"]),
        (b'"\\z\\\'"', [b"z'"]),
        (b'"\\x41\\x6a\\x6A\\x00\\xff"', [b"Ajj\x00\xff"]),
        (b'"\\x4"', [b"x4"]),
        (b'"\\xZZ"', [b"xZZ"]),
        (b'"\\X41"', [b"X41"]),
        (b"'it\\'s'", [b"it's"]),
        (b"'a\\nb\\x41'", [b"a\\nb\\x41"]),
        (b"'say \"hi\"'", [b'say "hi"']),
        (b'"it\'s"', [b"it's"]),
        (b'a"b c"', [b"ab c"]),
        (b"a'b c'", [b"ab c"]),
        (b'"a" "b"', [b"a", b"b"]),
        (b'"a"\t"b"', [b"a", b"b"]),
        (b"a\\nb", [b"a\\nb"]),
        # \v and \f are blanks between arguments but do not end an unquoted argument.
        (b"\x0bSET\x0ck", [b"SET\x0ck"]),
        (b"a \x0b b", [b"a", b"b"]),
        (b'"a"\x0bb', [b"a", b"b"]),
        (b"a\rb", [b"a", b"b"]),
        (b"a\x00b c", [b"a\x00b", b"c"]),
        (b"\xc3\xa9t\xc3\xa9", [b"\xc3\xa9t\xc3\xa9"]),
    ],
)
def test_split_inline(line: bytes, args: list[bytes]) -> None:
    assert split_inline(line) == args


@pytest.mark.parametrize(
    "line",
    [b'"abc', b"'abc", b'"abc"def', b"'abc'def", b'"a\\"', b"'a\\'", b'"', b"'", b'x "y', b'"\\'],
)
def test_unbalanced_quotes(line: bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        split_inline(line)
    assert str(info.value) == UNBALANCED


def test_inline_request_in_parser(parse: Parse) -> None:
    assert parse(b"SET k v\r\n") == ([[b"SET", b"k", b"v"]], None)


def test_lf_only_line_end(parse: Parse) -> None:
    assert parse(b"SET k v\nGET k\n") == ([[b"SET", b"k", b"v"], [b"GET", b"k"]], None)


def test_only_one_cr_is_part_of_the_line_end(parse: Parse) -> None:
    # "a\r\r\n": the line is "a\r", and the remaining CR ends the unquoted argument.
    assert parse(b"a\r\r\n") == ([[b"a"]], None)
    assert parse(b'"a\r"\r\n') == ([[b"a\r"]], None)


def test_empty_lines_are_skipped(parse: Parse) -> None:
    assert parse(b"\r\n\n   \r\nPING\r\n\n") == ([[b"PING"]], None)


def test_trailing_spaces(parse: Parse) -> None:
    assert parse(b"PING   \r\n") == ([[b"PING"]], None)


def test_inline_waits_for_line_end(parse: Parse) -> None:
    assert parse(b"PING") == ([], None)
    assert parse(b"PI", b"NG", b"\r", b"\n") == ([[b"PING"]], None)


def test_inline_and_multibulk_mixed(parse: Parse) -> None:
    data = b"PING\r\n*1\r\n$4\r\nPING\r\nECHO 'x y'\n"
    assert parse(data) == ([[b"PING"], [b"PING"], [b"ECHO", b"x y"]], None)


def test_unbalanced_quotes_in_parser(parse: Parse) -> None:
    assert parse(b'PING\r\nSET k "v\r\nPING\r\n') == ([[b"PING"]], UNBALANCED)


def test_inline_limit_exactly_and_one_past(parse: Parse) -> None:
    limits = ParserLimits(max_inline_len=100)
    line = b"ECHO " + b"x" * 95
    assert parse(line + b"\n", limits=limits) == ([[b"ECHO", b"x" * 95]], None)
    assert parse(line, limits=limits) == ([], None)  # 100 bytes without a line end: waiting
    too_big = "Protocol error: too big inline request"
    assert parse(line + b"x", limits=limits) == ([], too_big)
    assert parse(line + b"x\n", limits=limits) == ([], too_big)


def test_inline_limit_counts_the_cr(parse: Parse) -> None:
    limits = ParserLimits(max_inline_len=10)
    assert parse(b"x" * 9 + b"\r\n", limits=limits) == ([[b"x" * 9]], None)
    assert parse(b"x" * 10 + b"\r\n", limits=limits) == (
        [],
        "Protocol error: too big inline request",
    )


def test_default_inline_limit_is_64_kib(parse: Parse) -> None:
    assert parse(b"x" * 65536) == ([], None)
    assert parse(b"x" * 65537) == ([], "Protocol error: too big inline request")


def test_long_inline_line_fed_slowly(parse: Parse) -> None:
    line = b"ECHO " + b"y" * 20000 + b"\r\n"
    chunks = [line[i : i + 7] for i in range(0, len(line), 7)]
    assert parse(*chunks) == ([[b"ECHO", b"y" * 20000]], None)
