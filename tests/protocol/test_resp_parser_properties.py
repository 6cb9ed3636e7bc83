"""Property tests of the request parser: robustness, split invariance, path agreement."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from seshat_trio.protocol import ParserLimits, ProtocolError, RequestParser

Parsed = tuple[list[list[bytes]], str | None]
Drain = Callable[[RequestParser, Iterable[bytes]], Parsed]
PROPERTY = settings(max_examples=250, deadline=None)
SMALL_LIMITS = ParserLimits(max_bulk_len=40, max_multibulk_len=6, max_inline_len=48)

arguments = st.lists(st.binary(max_size=24), min_size=1, max_size=5)
words = st.lists(st.from_regex(rb"\A[A-Za-z0-9:_.-]{1,8}\Z"), min_size=1, max_size=4)


def multibulk(args: list[bytes]) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%b\r\n" % (len(a), a) for a in args)


@st.composite
def valid_streams(draw: st.DrawFn) -> tuple[bytes, list[list[bytes]]]:
    """A pipelined stream of requests in every form Redis accepts, and its commands."""
    parts: list[bytes] = []
    expected: list[list[bytes]] = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["multibulk", "inline", "quoted", "skipped", "lenient"]))
        if kind == "multibulk":
            args = draw(arguments)
            parts.append(multibulk(args))
            expected.append(args)
        elif kind == "inline":
            args = draw(words)
            parts.append(b" ".join(args) + draw(st.sampled_from([b"\r\n", b"\n"])))
            expected.append(args)
        elif kind == "quoted":
            args = draw(st.lists(st.binary(max_size=10), min_size=1, max_size=3))
            quoted = [b'"' + b"".join(b"\\x%02x" % byte for byte in a) + b'"' for a in args]
            parts.append(b" ".join(quoted) + b"\r\n")
            expected.append(args)
        elif kind == "skipped":
            parts.append(draw(st.sampled_from([b"*0\r\n", b"*-1\r\n", b"\r\n", b"  \n"])))
        else:
            # Bytes Redis never checks: after a header CR and after a body.
            args = draw(arguments)
            body = b"".join(b"$%d\rX%bYZ" % (len(a), a) for a in args)
            parts.append(b"*%d\r\n" % len(args) + body)
            expected.append(args)
    return b"".join(parts), expected


@st.composite
def splits(draw: st.DrawFn, data: bytes) -> list[bytes]:
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=12)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in pairwise(bounds)]


resp_like = st.lists(
    st.one_of(
        st.sampled_from(
            [
                *(b"*", b"$", b"\r\n", b"\r", b"\n", b"0", b"1", b"3", b"-", b" ", b'"', b"'"),
                *(b"\\", b"x", b"a", b":", b"+", b"%", b"*2147483647", b"$-1", b"\x00", b"\xff"),
                b"\\x4",
            ]
        ),
        st.binary(max_size=6),
    ),
    max_size=40,
).map(b"".join)

arbitrary_input = st.one_of(st.binary(max_size=120), resp_like)


@PROPERTY
@given(st.data(), valid_streams())
def test_any_split_of_a_valid_stream_gives_the_same_commands(
    drain: Drain, data: st.DataObject, stream: tuple[bytes, list[list[bytes]]]
) -> None:
    raw, expected = stream
    chunks = data.draw(splits(raw))
    for use_hiredis in (False, True):
        assert drain(RequestParser(use_hiredis=use_hiredis), [raw]) == (expected, None)
        assert drain(RequestParser(use_hiredis=use_hiredis), chunks) == (expected, None)


@PROPERTY
@given(st.data(), arbitrary_input, st.booleans(), st.booleans())
def test_arbitrary_input_raises_only_protocol_errors(
    drain: Drain, data: st.DataObject, raw: bytes, use_hiredis: bool, small: bool
) -> None:
    chunks = data.draw(splits(raw))
    limits = SMALL_LIMITS if small else ParserLimits()
    # drain() catches ProtocolError only: anything else fails the test.
    commands, _ = drain(RequestParser(limits, use_hiredis=use_hiredis), chunks)
    assert all(isinstance(arg, bytes) for command in commands for arg in command)


@PROPERTY
@given(st.data(), arbitrary_input, st.booleans())
def test_hiredis_and_pure_paths_agree(
    drain: Drain, data: st.DataObject, raw: bytes, small: bool
) -> None:
    chunks = data.draw(splits(raw))
    limits = SMALL_LIMITS if small else ParserLimits()
    pure = drain(RequestParser(limits, use_hiredis=False), chunks)
    fast = drain(RequestParser(limits, use_hiredis=True), chunks)
    assert fast == pure


@PROPERTY
@given(st.data(), valid_streams(), arbitrary_input)
def test_paths_agree_on_valid_prefix_then_garbage(
    drain: Drain, data: st.DataObject, stream: tuple[bytes, list[list[bytes]]], garbage: bytes
) -> None:
    raw = stream[0] + garbage
    chunks = data.draw(splits(raw))
    pure = drain(RequestParser(use_hiredis=False), chunks)
    fast = drain(RequestParser(use_hiredis=True), chunks)
    assert fast == pure
    assert pure[0][: len(stream[1])] == stream[1]


@PROPERTY
@given(st.data(), arbitrary_input, st.booleans(), st.booleans())
def test_splitting_never_changes_the_outcome(
    drain: Drain, data: st.DataObject, raw: bytes, use_hiredis: bool, small: bool
) -> None:
    limits = SMALL_LIMITS if small else ParserLimits()
    whole = drain(RequestParser(limits, use_hiredis=use_hiredis), [raw])
    chunks = data.draw(splits(raw))
    assert drain(RequestParser(limits, use_hiredis=use_hiredis), chunks) == whole


def _take_all(parser: RequestParser, chunks: list[bytes], first_one: bool) -> Parsed:
    """As `drain`, with `take_commands` after each chunk (after one `next_command` if
    `first_one`, so that it also starts with commands already parsed and waiting)."""
    commands: list[list[bytes]] = []
    for chunk in chunks:
        try:
            parser.feed(chunk)
            if first_one and (command := parser.next_command()) is not None:
                commands.append(command)
        except ProtocolError as exc:
            return commands, str(exc)
        taken, error = parser.take_commands()
        commands += taken
        if error is not None:
            return commands, str(error)
    return commands, None


@PROPERTY
@given(st.data(), st.one_of(arbitrary_input, valid_streams().map(lambda s: s[0])))
def test_take_commands_returns_what_next_command_returns(
    drain: Drain, data: st.DataObject, raw: bytes
) -> None:
    chunks = data.draw(splits(raw))
    limits = SMALL_LIMITS if data.draw(st.booleans()) else ParserLimits()
    use_hiredis = data.draw(st.booleans())
    one_by_one = drain(RequestParser(limits, use_hiredis=use_hiredis), chunks)
    for first_one in (False, True):
        parser = RequestParser(limits, use_hiredis=use_hiredis)
        assert _take_all(parser, chunks, first_one) == one_by_one
