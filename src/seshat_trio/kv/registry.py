"""The data commands this package implements, each registered once: parse, run, table row.

`parse` is pure (arguments only): the command layer calls it before proposing, so a syntax
error never reaches the log, and apply calls it again, so apply never trusts its input.
`run` gets the parsed arguments and a view: a `KeyView` for reads, a `WritableView` for
writes. Read commands can also run at apply time (inside EXEC), where the view is the
transaction. A `WrongType` raised while running becomes the WRONGTYPE reply (kv/types.py).

The `Row` is everything the command table says about the command (arity, flags, key
positions, group, since, complexity, summary, as Redis 7.0's table; the key-spec flags and
ACL categories where they differ from what group and flags imply; a container's
subcommands): commands/keys.py builds the table rows from it, so a command is described in
one place. A command without a row is internal (`purge`) or answered outside MULTI by a
handler of its own (PING).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

import attrs

from seshat_trio.kv.types import WRONGTYPE, WrongType
from seshat_trio.kv.view import KeyView, WritableView
from seshat_trio.protocol import ErrorReply, Reply

Args = tuple[bytes, ...]
P = TypeVar("P")
V = TypeVar("V", bound=KeyView)
Parser = Callable[[Args], P | ErrorReply]
Runner = Callable[[KeyView, P], Reply]

# Key positions (first, last, step), 1-based in the argument vector, last -1 = to the end.
ONE = (1, 1, 1)
ALL = (1, -1, 1)
NONE = (0, 0, 0)


#: Key positions (1-based into argv) and Redis 7 key-spec flags ("RW access update") of a
#: command whose keys depend on its arguments (SET ... GET).
KeysProc = Callable[[list[bytes]], list[tuple[int, str]]]


@attrs.frozen(slots=True)
class Row:
    arity: int
    flags: frozenset[str]
    keys: tuple[int, int, int]
    group: str
    since: str
    complexity: str
    summary: str
    # Key-spec flags per key position where they differ from what `flags` imply (readonly:
    # "RO access"; a write: "RW access update"); the last one repeats.
    access: tuple[str, ...] = ()
    keys_proc: KeysProc | None = None
    acl: frozenset[str] = frozenset()  # ACL categories beyond those of group and flags
    subcommands: tuple[tuple[str, int, str], ...] = ()  # a container's (name, arity, flags)


@attrs.frozen(slots=True)
class ReadCommand:
    name: bytes
    check: Callable[[Args], ErrorReply | None]
    execute: Callable[[KeyView, Args], Reply]
    row: Row | None


@attrs.frozen(slots=True)
class WriteCommand:
    name: bytes
    check: Callable[[Args], ErrorReply | None]
    execute: Callable[[WritableView, Args], Reply]
    row: Row | None


READS: dict[bytes, ReadCommand] = {}
WRITES: dict[bytes, WriteCommand] = {}


def rows(group: str) -> RowMaker:
    """A maker of `Row`s for one command group, positional like Redis's table:
    (arity, flags, key positions, since, complexity, summary), then the exceptions by
    keyword (access, keys_proc, acl: a space-separated string, subcommands)."""

    def make(  # noqa: PLR0917
        arity: int, flags: str, keys: tuple[int, int, int], since: str, complexity: str,
        summary: str, *, access: tuple[str, ...] = (), keys_proc: KeysProc | None = None,
        acl: str = "", subcommands: tuple[tuple[str, int, str], ...] = (),
    ) -> Row:  # fmt: skip
        return Row(
            arity, frozenset(flags.split()), keys, group, since, complexity, summary,
            access, keys_proc, frozenset(acl.split()), subcommands,
        )  # fmt: skip

    return make


class RowMaker(Protocol):
    def __call__(  # noqa: PLR0917
        self, arity: int, flags: str, keys: tuple[int, int, int], since: str, complexity: str,
        summary: str, *, access: tuple[str, ...] = (), keys_proc: KeysProc | None = None,
        acl: str = "", subcommands: tuple[tuple[str, int, str], ...] = (),
    ) -> Row: ...  # fmt: skip


def _check(parse: Callable[[Args], P | ErrorReply]) -> Callable[[Args], ErrorReply | None]:
    if parse is args_as_is:
        return _accepted  # GET, MGET, ...: two calls less on the hottest reads

    def check(args: Args) -> ErrorReply | None:
        parsed = parse(args)
        return parsed if isinstance(parsed, ErrorReply) else None

    return check


def _register(name: str) -> bytes:
    key = name.encode()
    if key in READS or key in WRITES:
        raise ValueError(f"data command {name!r} is registered twice")
    return key


def _executor(
    parse: Callable[[Args], P | ErrorReply], run: Callable[[V, P], Reply]
) -> Callable[[V, Args], Reply]:
    """Parse, run, and answer WRONGTYPE for a key of another type."""

    def execute(view: V, args: Args) -> Reply:
        parsed = parse(args)
        if isinstance(parsed, ErrorReply):
            return parsed
        try:
            return run(view, parsed)
        except WrongType:
            return WRONGTYPE

    def execute_as_is(view: V, args: Args) -> Reply:
        # No parsing to do (GET, MGET, ...): one call less on the hottest commands.
        try:
            return run(view, args)  # type: ignore[arg-type]
        except WrongType:
            return WRONGTYPE

    return execute_as_is if parse is args_as_is else execute


def read(
    name: str,
    parse: Callable[[Args], P | ErrorReply],
    run: Callable[[KeyView, P], Reply],
    row: Row | None,
) -> None:
    key = _register(name)
    READS[key] = ReadCommand(key, _check(parse), _executor(parse, run), row)


def write(
    name: str,
    parse: Callable[[Args], P | ErrorReply],
    run: Callable[[WritableView, P], Reply],
    row: Row | None,
    *,
    check: Callable[[Args], ErrorReply | None] | None = None,
) -> None:
    """`check`: the command's own check before proposing, where one is cheaper than
    parsing (it must refuse exactly what `parse` refuses)."""
    key = _register(name)
    WRITES[key] = WriteCommand(key, check or _check(parse), _executor(parse, run), row)


def args_as_is(args: Args) -> Args:
    """For commands whose arguments need no parsing (arity is checked by the caller)."""
    return args


def _accepted(_: Args) -> None:
    """The check of a command whose arguments need no parsing: none can be refused."""
