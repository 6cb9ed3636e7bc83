"""The command table: one row per command, as Redis's own command table describes it.

Arity follows Redis: positive means exactly that many arguments (command name included),
negative means at least that many. Key positions (first, last, step) are 1-based into the
argument vector, with last = -1 meaning "to the end"; COMMAND INFO reports them and later
phases route by them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import attrs

from seshat_trio.commands.context import CommandContext
from seshat_trio.kv.operations import Operation
from seshat_trio.protocol import ErrorReply, Reply

ReadHandler = Callable[[CommandContext, list[bytes]], Awaitable[Reply]]
# A write handler validates and returns the operation to replicate, or an error reply.
WriteHandler = Callable[[CommandContext, list[bytes]], Operation | ErrorReply]


@attrs.frozen(slots=True)
class CommandSpec:
    name: str
    arity: int
    flags: frozenset[str]
    first_key: int
    last_key: int
    step: int
    group: str
    summary: str
    since: str
    complexity: str
    run: ReadHandler | None = None
    build: WriteHandler | None = None

    @property
    def is_write(self) -> bool:
        return self.build is not None

    @property
    def is_container(self) -> bool:
        """A command with subcommands (CLIENT, CONFIG, PUBSUB, ...): Redis names it
        `name|subcommand` in errors."""
        return self.summary.startswith("A container for")

    def arity_ok(self, argc: int) -> bool:
        return argc == self.arity if self.arity >= 0 else argc >= -self.arity


COMMANDS: dict[bytes, CommandSpec] = {}


def register(*specs: CommandSpec) -> None:
    for spec in specs:
        if (spec.run is None) == (spec.build is None):
            raise ValueError(f"{spec.name}: exactly one of run/build must be set")
        COMMANDS[spec.name.encode()] = spec


def lookup(name: bytes) -> CommandSpec | None:
    return COMMANDS.get(name.lower())


def wrong_arity(name: str) -> ErrorReply:
    return ErrorReply(f"ERR wrong number of arguments for '{name}' command")


def unknown_command(argv: list[bytes]) -> ErrorReply:
    """Redis's wording: name cut at 128 bytes, then `'arg' ` per argument up to 128 bytes."""
    preview = b""
    for arg in argv[1:]:
        if len(preview) >= 128:
            break
        preview += b"'" + arg[: 128 - len(preview)] + b"' "
    name = argv[0][:128].decode("utf-8", "replace")
    args = preview.decode("utf-8", "replace")
    return ErrorReply(f"ERR unknown command '{name}', with args beginning with: {args}")
