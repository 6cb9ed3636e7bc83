"""Fixtures for the RESP codec tests: every parser test runs on both parser paths."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest

from seshat_trio.protocol import ParserLimits, ProtocolError, RequestParser

ParserFactory = Callable[..., RequestParser]


@pytest.fixture(params=[False, True], ids=["pure", "hiredis"])
def make_parser(request: pytest.FixtureRequest) -> ParserFactory:
    """Build a RequestParser on the parametrized path (pure Python or hiredis)."""
    use_hiredis: bool = request.param

    def build(limits: ParserLimits | None = None) -> RequestParser:
        parser = RequestParser(limits or ParserLimits(), use_hiredis=use_hiredis)
        # hiredis is only used when canonical header lines fit the line limit.
        assert parser.uses_hiredis == (use_hiredis and parser.limits.max_inline_len >= 21)
        return parser

    return build


Parsed = tuple[list[list[bytes]], str | None]
Drain = Callable[[RequestParser, Iterable[bytes]], Parsed]


def _drain(parser: RequestParser, chunks: Iterable[bytes]) -> Parsed:
    """Feed `chunks` one by one, pulling commands after each; (commands, error text)."""
    commands: list[list[bytes]] = []
    try:
        for chunk in chunks:
            parser.feed(chunk)
            while (command := parser.next_command()) is not None:
                commands.append(command)
    except ProtocolError as exc:
        return commands, str(exc)
    return commands, None


@pytest.fixture(scope="session")
def drain() -> Drain:
    """drain(parser, chunks): the (commands, error text) of feeding `chunks` in order."""
    return _drain


@pytest.fixture
def parse(make_parser: ParserFactory) -> Callable[..., Parsed]:
    """parse(*chunks, limits=None) -> (commands, error text or None), on the current path."""

    def run(*chunks: bytes, limits: ParserLimits | None = None) -> Parsed:
        return _drain(make_parser(limits), chunks)

    return run
