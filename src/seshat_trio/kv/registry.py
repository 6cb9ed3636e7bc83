"""The data commands this package implements, each written once: parse, then run on a view.

`parse` is pure (arguments only): the command layer calls it before proposing, so a syntax
error never reaches the log, and apply calls it again, so apply never trusts its input.
`run` gets the parsed arguments and a view: a `KeyView` for reads, a `WritableView` for
writes. Read commands can also run at apply time (inside EXEC), where the view is the
transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import attrs

from seshat_trio.kv.view import KeyView, WritableView
from seshat_trio.protocol import ErrorReply, Reply

Args = tuple[bytes, ...]
P = TypeVar("P")
Parser = Callable[[Args], P | ErrorReply]
Runner = Callable[[KeyView, P], Reply]


@attrs.frozen(slots=True)
class ReadCommand:
    name: bytes
    check: Callable[[Args], ErrorReply | None]
    execute: Callable[[KeyView, Args], Reply]


@attrs.frozen(slots=True)
class WriteCommand:
    name: bytes
    check: Callable[[Args], ErrorReply | None]
    execute: Callable[[WritableView, Args], Reply]


READS: dict[bytes, ReadCommand] = {}
WRITES: dict[bytes, WriteCommand] = {}


def _check(parse: Callable[[Args], P | ErrorReply]) -> Callable[[Args], ErrorReply | None]:
    def check(args: Args) -> ErrorReply | None:
        parsed = parse(args)
        return parsed if isinstance(parsed, ErrorReply) else None

    return check


def read(
    name: str, parse: Callable[[Args], P | ErrorReply], run: Callable[[KeyView, P], Reply]
) -> None:
    def execute(view: KeyView, args: Args) -> Reply:
        parsed = parse(args)
        return parsed if isinstance(parsed, ErrorReply) else run(view, parsed)

    READS[name.encode()] = ReadCommand(name.encode(), _check(parse), execute)


def write(
    name: str, parse: Callable[[Args], P | ErrorReply], run: Callable[[WritableView, P], Reply]
) -> None:
    def execute(view: WritableView, args: Args) -> Reply:
        parsed = parse(args)
        return parsed if isinstance(parsed, ErrorReply) else run(view, parsed)

    WRITES[name.encode()] = WriteCommand(name.encode(), _check(parse), execute)


def args_as_is(args: Args) -> Args:
    """For commands whose arguments need no parsing (arity is checked by the caller)."""
    return args
