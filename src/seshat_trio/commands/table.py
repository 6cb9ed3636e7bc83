"""The command table: one row per command, as Redis's own command table describes it.

Arity follows Redis: positive means exactly that many arguments (command name included),
negative means at least that many. Key positions (first, last, step) are 1-based into the
argument vector, with last = -1 meaning "to the end"; COMMAND INFO reports them and later
phases route by them.

How a command uses its keys is Redis 7's key-spec flags (RO/RW/OW/RM with access, update,
insert, delete): a row states them only where they differ from what its flags imply
(`readonly`: RO access; a write: RW access update), and a command whose key positions or
flags depend on its arguments (SET ... GET, numkeys) gives a `keys_proc`, as Redis's getkeys
procedures. ACL key permissions (%R~ / %W~) are decided from these. A container command
(CONFIG, CLIENT, ACL) lists its subcommands, each with its own arity and flags: that is what
`+config|get` and the categories of CLIENT KILL are about. ACL categories are derived from
group and flags (seshat_trio.acl.categories); `acl_categories` adds those Redis states
explicitly beyond them (KEYS is @dangerous, FLUSHALL @keyspace).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

import attrs

from seshat_trio.commands.context import CommandContext
from seshat_trio.kv.operations import Operation
from seshat_trio.protocol import ErrorReply, Reply

KeyFlags = frozenset[str]
#: Positions of a command's keys (1-based into argv) with how each is used.
KeysProc = Callable[[list[bytes]], list[tuple[int, KeyFlags]]]
#: Positions of a command's channel arguments and whether each is a pattern (pub/sub).
ChannelsProc = Callable[[list[bytes]], list[tuple[int, bool]]]

ReadHandler = Callable[[CommandContext, list[bytes]], Awaitable[Reply]]
# A write handler validates and returns the operation to replicate, or an error reply.
WriteHandler = Callable[[CommandContext, list[bytes]], Operation | ErrorReply]


@functools.cache  # a few literals of the command modules; SET's keys ask on every SET
def key_flags(text: str) -> KeyFlags:
    """Key-spec flags as Redis's command docs write them: "RW access update"."""
    return frozenset(text.split())


def published_channel(argv: list[bytes]) -> list[tuple[int, bool]]:
    """PUBLISH / SPUBLISH: the channel is the first argument."""
    return [(1, False)]


def subscribed_channels(argv: list[bytes]) -> list[tuple[int, bool]]:
    """SUBSCRIBE / SSUBSCRIBE: every argument is a channel."""
    return [(pos, False) for pos in range(1, len(argv))]


def subscribed_patterns(argv: list[bytes]) -> list[tuple[int, bool]]:
    """PSUBSCRIBE: every argument is a pattern (ACL compares it literally)."""
    return [(pos, True) for pos in range(1, len(argv))]


READ_KEY = key_flags("RO access")
WRITE_KEY = key_flags("RW access update")
PLAIN_KEY = key_flags("RO")


@attrs.frozen(slots=True)
class Subcommand:
    """One subcommand of a container command; the container's handler runs it."""

    name: str
    arity: int
    flags: frozenset[str]

    def arity_ok(self, argc: int) -> bool:
        return argc == self.arity if self.arity >= 0 else argc >= -self.arity


def subcommand(name: str, arity: int, flags: str = "") -> Subcommand:
    return Subcommand(name, arity, frozenset(flags.split()))


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
    # Key-spec flags of each key position in order (the last one repeats); () = implied.
    key_flags: tuple[KeyFlags, ...] = ()
    keys_proc: KeysProc | None = None
    channels_proc: ChannelsProc | None = None
    acl_categories: frozenset[str] = frozenset()
    subcommands: tuple[Subcommand, ...] = ()
    # The argv as it runs away from the client's connection (forwarded to the leader, or
    # queued for EXEC), with what that needs to know of the caller (EVAL: its ACL rules).
    caller_form: Callable[[CommandContext, list[bytes]], list[bytes]] | None = None

    @property
    def is_write(self) -> bool:
        return self.build is not None

    def keys(self, argv: list[bytes]) -> list[tuple[int, KeyFlags]]:
        """The positions of the keys in `argv` and how the command uses each."""
        if self.keys_proc is not None:
            return self.keys_proc(argv)
        if self.first_key <= 0:
            return []
        last = len(argv) + self.last_key if self.last_key < 0 else self.last_key
        implied = (
            READ_KEY if "readonly" in self.flags else WRITE_KEY if self.is_write else PLAIN_KEY
        )
        flags = self.key_flags or (implied,)
        stop = min(last, len(argv) - 1) + 1
        return [
            (pos, flags[min(i, len(flags) - 1)])
            for i, pos in enumerate(range(self.first_key, stop, self.step))
        ]

    def subcommand(self, argv: list[bytes]) -> Subcommand | None:
        """The subcommand `argv` names, for a container command (None if it names none)."""
        if len(argv) < 2:
            return None
        wanted = argv[1].lower().decode(errors="replace")
        for sub in self.subcommands:
            if sub.name == wanted:
                return sub
        return None

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


def unknown_subcommand(spec: CommandSpec, argv: list[bytes]) -> ErrorReply:
    name = argv[1][:128].decode(errors="replace")
    return ErrorReply(f"ERR unknown subcommand '{name}'. Try {spec.name.upper()} HELP.")


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
