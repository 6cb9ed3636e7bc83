"""Blocking commands as the state machine knows them: one non-blocking attempt each.

A blocking command (BLPOP, BLMOVE, BZPOPMIN, ...) is registered twice, both in its type's
module: once as an ordinary kv write (`registry.write`), which is what it does at apply
time: pop if it can, else answer nil (a nil bulk or a nil array), exactly Redis's behaviour
inside MULTI or a script; and once here (`register`), saying which argument is its timeout
and which keys it waits on. The command layer (seshat_trio.blocking) does the waiting: it
runs the write as an attempt, and while the attempt answers nil, waits on the client's node
until one of the keys changes or the timeout passes.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from seshat_trio.kv.parsing import parse_decimal
from seshat_trio.protocol import ErrorReply, NullArray, Reply

Args = tuple[bytes, ...]

NOT_A_TIMEOUT = ErrorReply("ERR timeout is not a float or out of range")
NEGATIVE_TIMEOUT = ErrorReply("ERR timeout is negative")


def parse_timeout(arg: bytes) -> float | ErrorReply:
    """A blocking timeout in seconds (0: forever), as Redis 7.0 reads it: a long double,
    times 1000 and truncated to integer milliseconds (a value that overflows that is
    "negative", as Redis's cast makes it)."""
    value = parse_decimal(arg)
    if value is None:
        return NOT_A_TIMEOUT
    if not value.is_finite() or abs(value * 1000) >= 2**63:
        return NEGATIVE_TIMEOUT
    milliseconds = int(value * 1000)
    if milliseconds < 0:
        return NEGATIVE_TIMEOUT
    return milliseconds / 1000


@attrs.frozen(slots=True)
class Blocking:
    """What the command layer needs to block a command (`args` exclude the name)."""

    name: str
    timeout_at: int  # index of the timeout in args (negative: from the end)
    keys: Callable[[Args], tuple[bytes, ...]]  # the keys whose data it waits for
    nil: Reply  # the reply when the timeout passes (None or NULL_ARRAY, as Redis)

    def timeout(self, args: Args) -> float | ErrorReply:
        return parse_timeout(args[self.timeout_at])


BLOCKING: dict[str, Blocking] = {}


def register(
    name: str, *, timeout_at: int, keys: Callable[[Args], tuple[bytes, ...]], nil: Reply
) -> None:
    """Make the kv write `name` a blocking command (see the module doc)."""
    if name in BLOCKING:
        raise ValueError(f"blocking command {name!r} is registered twice")
    BLOCKING[name] = Blocking(name, timeout_at, keys, nil)


def found_nothing(reply: Reply) -> bool:
    """Whether an attempt's reply says there was nothing to pop (the client blocks on)."""
    return reply is None or isinstance(reply, NullArray)
