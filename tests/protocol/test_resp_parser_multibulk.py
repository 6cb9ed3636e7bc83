"""Multibulk requests: parsing, pipelining, Redis's error texts and limits, on both paths."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

import pytest

from seshat_trio.protocol import ParserLimits, ProtocolError, RequestParser

Parse = Callable[..., tuple[list[list[bytes]], str | None]]

SET = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"


def mb(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%b\r\n" % (len(a), a) for a in args)


def test_single_command(parse: Parse) -> None:
    assert parse(SET) == ([[b"SET", b"key", b"value"]], None)


def test_arguments_are_bytes(parse: Parse) -> None:
    commands, _ = parse(SET)
    assert all(type(arg) is bytes for arg in commands[0])


def test_pipelined_commands_in_one_buffer(parse: Parse) -> None:
    data = SET + mb(b"GET", b"key") + mb(b"PING")
    assert parse(data) == ([[b"SET", b"key", b"value"], [b"GET", b"key"], [b"PING"]], None)


def test_binary_and_empty_arguments(parse: Parse) -> None:
    value = bytes(range(256)) + b"\r\n\x00*$"
    assert parse(mb(b"SET", b"", value)) == ([[b"SET", b"", value]], None)


def test_byte_by_byte_feeding(parse: Parse) -> None:
    data = SET + mb(b"GET", b"k") + b"PING\r\n"
    chunks = [data[i : i + 1] for i in range(len(data))]
    assert parse(*chunks) == ([[b"SET", b"key", b"value"], [b"GET", b"k"], [b"PING"]], None)


Factory = Callable[..., RequestParser]


def test_partial_input_returns_none_until_complete(make_parser: Factory) -> None:
    parser = make_parser()
    parser.feed(SET[:-3])
    assert parser.next_command() is None
    assert parser.next_command() is None
    parser.feed(SET[-3:])
    assert parser.next_command() == [b"SET", b"key", b"value"]
    assert parser.next_command() is None


def test_large_value_split_across_many_feeds(parse: Parse) -> None:
    value = bytes(range(256)) * 4096  # 1 MiB
    data = mb(b"SET", b"k", value) + mb(b"PING")
    chunks = [data[i : i + 65536] for i in range(0, len(data), 65536)]
    assert parse(*chunks) == ([[b"SET", b"k", value], [b"PING"]], None)


@pytest.mark.parametrize("request_bytes", [b"*0\r\n", b"*-1\r\n", b"*-5\r\n"])
def test_empty_and_null_requests_are_skipped(parse: Parse, request_bytes: bytes) -> None:
    assert parse(request_bytes + SET) == ([[b"SET", b"key", b"value"]], None)


def test_redis_skips_two_unchecked_bytes_after_a_body(parse: Parse) -> None:
    # Redis never looks at the two bytes after a bulk body; neither path may differ.
    assert parse(b"*2\r\n$3\r\nGET\r\n$1\r\nkXY" + SET) == (
        [[b"GET", b"k"], [b"SET", b"key", b"value"]],
        None,
    )


def test_any_byte_may_follow_the_header_cr(parse: Parse) -> None:
    # Redis finds the '\r' and then skips two bytes without checking the second one.
    assert parse(b"*1\rX$4\rYPING\r\n") == ([[b"PING"]], None)


def test_cr_needs_one_more_byte_before_parsing(make_parser: Factory) -> None:
    parser = make_parser()
    parser.feed(b"*1\r")
    assert parser.next_command() is None
    parser.feed(b"\n$4\r")
    assert parser.next_command() is None
    parser.feed(b"\nPING\r\n")
    assert parser.next_command() == [b"PING"]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"*x\r\n", "Protocol error: invalid multibulk length"),
        (b"*\r\n", "Protocol error: invalid multibulk length"),
        (b"*01\r\n", "Protocol error: invalid multibulk length"),
        (b"*+1\r\n", "Protocol error: invalid multibulk length"),
        (b"*-0\r\n", "Protocol error: invalid multibulk length"),
        (b"* 1\r\n", "Protocol error: invalid multibulk length"),
        (b"*1 \r\n", "Protocol error: invalid multibulk length"),
        (b"*1_0\r\n", "Protocol error: invalid multibulk length"),
        (b"*2147483648\r\n", "Protocol error: invalid multibulk length"),
        (b"*99999999999999999999\r\n", "Protocol error: invalid multibulk length"),
        (b"*1\r\n:1\r\n", "Protocol error: expected '$', got ':'"),
        (b"*1\r\n+OK\r\n", "Protocol error: expected '$', got '+'"),
        (b"*2\r\n$1\r\na\r\n*1\r\n", "Protocol error: expected '$', got '*'"),
        (b"*1\r\n\r\n", "Protocol error: expected '$', got ' '"),
        (b"*1\r\n\n\r\n", "Protocol error: expected '$', got ' '"),
        (b"*1\r\n\x00\r\n", "Protocol error: expected '$', got '\x00'"),
        (b"*1\r\n$x\r\n", "Protocol error: invalid bulk length"),
        (b"*1\r\n$\r\n", "Protocol error: invalid bulk length"),
        (b"*1\r\n$-1\r\n", "Protocol error: invalid bulk length"),
        (b"*1\r\n$01\r\n", "Protocol error: invalid bulk length"),
        (b"*1\r\n$ 1\r\n", "Protocol error: invalid bulk length"),
        (b"*1\r\n$9223372036854775808\r\n", "Protocol error: invalid bulk length"),
    ],
)
def test_protocol_errors_have_redis_text(parse: Parse, data: bytes, error: str) -> None:
    assert parse(data) == ([], error)


def test_non_ascii_byte_in_error_is_kept_raw(parse: Parse) -> None:
    _, error = parse(b"*1\r\n\xff\r\n")
    assert error is not None
    assert error.encode("utf-8", "surrogateescape") == b"Protocol error: expected '$', got '\xff'"


def test_error_text_is_str_of_protocol_error(make_parser: Factory) -> None:
    parser = make_parser()
    parser.feed(b"*x\r\n")
    with pytest.raises(ProtocolError) as info:
        parser.next_command()
    assert str(info.value) == "Protocol error: invalid multibulk length"
    assert parser.error is info.value


def test_commands_before_an_error_are_returned_first(parse: Parse) -> None:
    assert parse(SET + b"*1\r\n:1\r\n" + SET) == (
        [[b"SET", b"key", b"value"]],
        "Protocol error: expected '$', got ':'",
    )


def test_error_is_terminal(make_parser: Factory) -> None:
    parser = make_parser()
    parser.feed(b"*1\r\n$-2\r\n")
    with pytest.raises(ProtocolError) as first:
        parser.next_command()
    with pytest.raises(ProtocolError) as again:
        parser.next_command()
    with pytest.raises(ProtocolError) as on_feed:
        parser.feed(SET)
    assert again.value is first.value
    assert on_feed.value is first.value


def test_max_bulk_len_exactly_and_one_past(parse: Parse) -> None:
    limits = ParserLimits(max_bulk_len=10)
    at_limit = [b"SET", b"k", b"x" * 10]
    assert parse(mb(*at_limit), limits=limits) == ([at_limit], None)
    assert parse(mb(b"SET", b"k", b"x" * 11), limits=limits) == (
        [],
        "Protocol error: invalid bulk length",
    )


def test_too_big_bulk_is_rejected_before_its_body(make_parser: Factory) -> None:
    parser = make_parser()  # default 512 MiB
    parser.feed(SET + b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870913\r\n")
    assert parser.next_command() == [b"SET", b"key", b"value"]
    with pytest.raises(ProtocolError, match=r"^Protocol error: invalid bulk length$"):
        parser.next_command()


def test_max_bulk_default_is_512_mib(make_parser: Factory) -> None:
    # The request bound (64 MiB by default) is raised so that only the bulk bound applies.
    parser = make_parser(ParserLimits(max_request_bytes=1 << 30))
    parser.feed(b"*1\r\n$536870912\r\n")  # exactly the limit: waits for the body
    assert parser.next_command() is None
    assert parser.error is None


def test_max_request_default_is_64_mib(make_parser: Factory) -> None:
    parser = make_parser()
    parser.feed(b"*2\r\n$67108864\r\n")  # exactly the limit: waits for the body
    assert parser.next_command() is None
    assert parser.error is None
    parser = make_parser()
    parser.feed(b"*2\r\n$1\r\na\r\n$67108864\r\n")
    with pytest.raises(ProtocolError, match="request too large"):
        parser.next_command()


def test_max_multibulk_len_exactly_and_one_past(parse: Parse) -> None:
    limits = ParserLimits(max_multibulk_len=3)
    assert parse(mb(b"a", b"b", b"c"), limits=limits) == ([[b"a", b"b", b"c"]], None)
    assert parse(b"*4\r\n", limits=limits) == ([], "Protocol error: invalid multibulk length")


def test_int_max_count_is_the_hard_cap(parse: Parse) -> None:
    limits = ParserLimits(max_multibulk_len=2**31 - 1)
    # Accepted header (waits for elements); one more is invalid whatever the cap.
    assert parse(b"*2147483647\r\n", limits=limits) == ([], None)
    assert parse(b"*2147483648\r\n", limits=limits) == (
        [],
        "Protocol error: invalid multibulk length",
    )
    with pytest.raises(ValueError, match="max_multibulk_len"):
        ParserLimits(max_multibulk_len=2**31)


@pytest.mark.parametrize(
    ("prefix", "error"),
    [
        (b"*", "Protocol error: too big mbulk count string"),
        (b"*1\r\n$", "Protocol error: too big bulk count string"),
        (b"*1\r\nX", "Protocol error: too big bulk count string"),
    ],
)
def test_header_line_limit_without_line_end(parse: Parse, prefix: bytes, error: str) -> None:
    limits = ParserLimits(max_inline_len=32)
    header_start = prefix.rfind(b"\n") + 1
    at_limit = prefix + b"1" * (32 - (len(prefix) - header_start))
    assert parse(at_limit, limits=limits) == ([], None)
    assert parse(at_limit + b"1", limits=limits) == ([], error)
    # The same line with its end already buffered is rejected the same way (deterministic).
    assert parse(at_limit + b"1\r\n", limits=limits) == ([], error)


def test_header_line_limit_fed_in_pieces(parse: Parse) -> None:
    limits = ParserLimits(max_inline_len=64)
    assert parse(*([b"*"] + [b"1"] * 64), limits=limits) == (
        [],
        "Protocol error: too big mbulk count string",
    )


def test_huge_nested_aggregate_header_is_cheap(parse: Parse) -> None:
    # hiredis would allocate a 2**31-element list here; the parser must not let it.
    start = time.perf_counter()
    result = parse(b"*2\r\n*2147483647\r\n", b"$1\r\n")
    assert time.perf_counter() - start < 0.5
    assert result == ([], "Protocol error: expected '$', got '*'")


def test_huge_aggregate_pattern_inside_values_does_not_change_results(parse: Parse) -> None:
    data = mb(b"SET", b"k", b"*1234567 %99999999") * 3 + mb(b"PING")
    assert parse(data) == ([[b"SET", b"k", b"*1234567 %99999999"]] * 3 + [[b"PING"]], None)


def test_hiredis_flag_and_small_line_limit() -> None:
    assert RequestParser(use_hiredis=True).uses_hiredis
    assert not RequestParser(use_hiredis=False).uses_hiredis
    # A line limit below a canonical header's length leaves only the pure path correct.
    assert not RequestParser(ParserLimits(max_inline_len=8), use_hiredis=True).uses_hiredis


def test_long_pipeline_with_inline_commands_between(parse: Parse) -> None:
    data = (SET + b"PING\r\n") * 50 + SET * 50
    commands, error = parse(data)
    assert error is None
    set_command = [b"SET", b"key", b"value"]
    assert commands == [set_command, [b"PING"]] * 50 + [set_command] * 50


@pytest.mark.parametrize("use_hiredis", [True, False], ids=["hiredis", "pure"])
def test_an_incomplete_request_declaring_too_much_is_refused_before_its_data(
    use_hiredis: bool,
) -> None:
    parser = RequestParser(ParserLimits(max_request_bytes=1_000), use_hiredis=use_hiredis)
    parser.feed(mb(b"SET", b"k", b"v" * 1_000))  # complete: already in memory, so parsed
    assert parser.next_command() == [b"SET", b"k", b"v" * 1_000]
    parser.feed(b"*4\r\n$3\r\nSET\r\n$600\r\n" + b"a" * 600 + b"\r\n$500\r\n")
    with pytest.raises(ProtocolError, match=r"request too large \(max 1000 bytes"):
        parser.next_command()  # 3 + 600 + 500 declared, before any of the 500 arrived


@pytest.mark.parametrize("use_hiredis", [True, False], ids=["hiredis", "pure"])
def test_a_request_at_the_limit_arriving_in_pieces_is_accepted(use_hiredis: bool) -> None:
    parser = RequestParser(ParserLimits(max_request_bytes=1_000), use_hiredis=use_hiredis)
    data = mb(b"SET", b"k", b"v" * 996)
    for i in range(0, len(data), 7):
        parser.feed(data[i : i + 7])
    assert parser.next_command() == [b"SET", b"k", b"v" * 996]


def test_the_parser_lets_go_of_a_big_buffer_once_it_is_consumed() -> None:
    parser = RequestParser()
    value = b"x" * (8 << 20)
    data = mb(b"SET", b"k", value) * 2 + mb(b"PING")
    for i in range(0, len(data), 65536):
        parser.feed(data[i : i + 65536])
        while parser.next_command() is not None:
            pass
    for _ in range(3):
        parser.feed(mb(b"PING"))
        assert parser.next_command() == [b"PING"]
    held = [
        len(ref)
        for ref in gc.get_referents(*(getattr(parser, name) for name in ("_accel", "_buf")))
        if isinstance(ref, bytes)
    ]
    assert max(held, default=0) < 1 << 16, held
