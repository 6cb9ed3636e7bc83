"""Fuzz target: the RESP request parser. Whatever bytes arrive, split however, the parser
returns commands (lists of bytes) or raises ProtocolError, in bounded time and memory:
never another exception, never a hang, never more buffered than one request may hold.

Inputs are valid pipelines mutated by hypothesis (flipped, inserted and deleted bytes,
headers swapped for extreme numbers, truncation) plus raw bytes, fed in random pieces
through both the hiredis and the pure path, under small and default limits.
"""

from __future__ import annotations

import itertools
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seshat_trio.protocol import ParserLimits, ProtocolError, RequestParser

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LIMITS = [
    ParserLimits(),
    ParserLimits(max_bulk_len=64, max_multibulk_len=8, max_inline_len=32, max_request_bytes=100),
]
HEADERS = [
    b"*", b"$", b"*-1", b"$-1", b"*0", b"*99999999999999999999", b"$9223372036854775808",
    b"*2147483648", b"$+5", b"* 3", b"$0x10", b"\r", b"\n", b"\r\n", b"\x00", b'"', b"'",
    b"\\x", b"*1\r\n$1000000000\r\n",
]  # fmt: skip


def multibulk(args: list[bytes]) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%b\r\n" % (len(a), a) for a in args)


@st.composite
def hostile_streams(draw: st.DrawFn) -> bytes:
    requests = draw(
        st.lists(st.lists(st.binary(max_size=20), min_size=1, max_size=4), max_size=5)
    )
    data = bytearray(b"".join(multibulk(args) for args in requests))
    data += draw(st.sampled_from([b"", b"PING\r\n", b'SET "a\\x00b" c\r\n']))
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "header", "truncate"]))
        at = draw(st.integers(0, len(data)))
        if op == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 4))]
        elif op == "header":
            data[at:at] = draw(st.sampled_from(HEADERS))
        else:
            del data[at:]
    return bytes(data)


@st.composite
def pieces(draw: st.DrawFn) -> list[bytes]:
    data = draw(st.one_of(hostile_streams(), st.binary(max_size=300)))
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=10)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def drain(parser: RequestParser, chunks: list[bytes]) -> tuple[list[list[bytes]], str | None]:
    commands: list[list[bytes]] = []
    limit = parser.limits.max_request_bytes
    try:
        for chunk in chunks:
            parser.feed(chunk)
            while (command := parser.next_command()) is not None:
                assert isinstance(command, list) and command
                assert all(type(arg) is bytes for arg in command)
                commands.append(command)
            # What a connection may hold between reads is one request and one read.
            assert parser.buffered_bytes <= limit + len(chunk) + parser.limits.max_inline_len
    except ProtocolError as exc:
        # Terminal: the same error again, whatever comes next.
        try:
            parser.feed(b"PING\r\n")
        except ProtocolError as again:
            assert str(again) == str(exc)
        else:
            raise AssertionError("a failed parser accepted more input") from None
        return commands, str(exc)
    return commands, None


@FUZZ
@given(pieces(), st.sampled_from(LIMITS), st.booleans())
def test_parser_returns_commands_or_a_protocol_error(
    chunks: list[bytes], limits: ParserLimits, use_hiredis: bool
) -> None:
    started = time.process_time()
    _commands, error = drain(RequestParser(limits, use_hiredis=use_hiredis), chunks)
    assert error is None or error.startswith("Protocol error")
    assert time.process_time() - started < 1.0  # seconds: linear work, no hang


@FUZZ
@given(pieces(), st.sampled_from(LIMITS))
def test_both_paths_and_every_split_agree(chunks: list[bytes], limits: ParserLimits) -> None:
    whole = [b"".join(chunks)] if any(chunks) else []
    outcomes = {
        repr(drain(RequestParser(limits, use_hiredis=hiredis), split))
        for hiredis in (True, False)
        for split in (chunks, whole)
    }
    assert len(outcomes) == 1, outcomes
