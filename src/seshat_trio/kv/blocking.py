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

import math
from collections.abc import Callable
from fractions import Fraction

import attrs

from seshat_trio.kv.parsing import parse_decimal, round_to_long_double
from seshat_trio.protocol import NULL_ARRAY, ErrorReply, NullArray, Reply

Args = tuple[bytes, ...]

NOT_A_TIMEOUT = ErrorReply("ERR timeout is not a float or out of range")
NEGATIVE_TIMEOUT = ErrorReply("ERR timeout is negative")


def parse_timeout(arg: bytes) -> float | ErrorReply:
    """A blocking timeout in seconds (0: forever), as Redis 7.0 reads it: a long double
    (hex floats included), times 1000, rounded UP to integer milliseconds and cast to a
    long long, so 0.0001 waits 1 ms, -0.0001 is 0 (forever), and what overflows the cast
    (infinity, 1e16) is "negative", as the cast makes it on x86."""
    value = parse_decimal(arg)
    if value is None:
        return NOT_A_TIMEOUT
    if not value.is_finite() or abs(value) >= 2**63:
        return NEGATIVE_TIMEOUT
    milliseconds = math.ceil(round_to_long_double(round_to_long_double(Fraction(value)) * 1000))
    if milliseconds < 0 or milliseconds >= 2**63:
        return NEGATIVE_TIMEOUT
    return milliseconds / 1000


Retarget = Callable[[Args, tuple[bytes, ...]], Args]


def keys_then_timeout(args: Args, keys: tuple[bytes, ...]) -> Args:
    """BLPOP-like arguments (keys..., timeout) waiting on `keys` only."""
    return (*keys, args[-1])


def timeout_numkeys_keys(args: Args, keys: tuple[bytes, ...]) -> Args:
    """BLMPOP-like arguments (timeout, numkeys, keys..., options) waiting on `keys` only
    (the arguments were checked: numkeys is valid)."""
    return (args[0], str(len(keys)).encode(), *keys, *args[2 + int(args[1]) :])


def one_key(args: Args, keys: tuple[bytes, ...]) -> Args:
    """A command waiting on one key (BLMOVE): its arguments never change."""
    return args


def no_destination(args: Args) -> bytes | None:
    return None


@attrs.frozen(slots=True)
class Blocking:
    """What the command layer needs to block a command (`args` exclude the name)."""

    name: str
    timeout_at: int  # index of the timeout in args (negative: from the end)
    keys: Callable[[Args], tuple[bytes, ...]]  # the keys whose data it waits for
    nil: Reply  # the reply when the timeout passes (NULL_ARRAY for all of Redis 7.0's)
    kind: int  # the value type it pops from (a key of another type is not waited on)
    # The arguments of an attempt on some of the keys only (in their order): once blocked,
    # a key holding another type is skipped, as Redis 7.0 serves only from keys of `kind`.
    retarget: Retarget
    # The key it pushes to (BLMOVE), whose wrong type a blocked client is answered.
    destination: Callable[[Args], bytes | None]

    def timeout(self, args: Args) -> float | ErrorReply:
        return parse_timeout(args[self.timeout_at])


BLOCKING: dict[str, Blocking] = {}


def register(
    name: str,
    *,
    timeout_at: int,
    keys: Callable[[Args], tuple[bytes, ...]],
    kind: int,
    retarget: Retarget,
    destination: Callable[[Args], bytes | None] = no_destination,
    nil: Reply = NULL_ARRAY,
) -> None:
    """Make the kv write `name` a blocking command (see the module doc)."""
    if name in BLOCKING:
        raise ValueError(f"blocking command {name!r} is registered twice")
    BLOCKING[name] = Blocking(name, timeout_at, keys, nil, kind, retarget, destination)


def found_nothing(reply: Reply) -> bool:
    """Whether an attempt's reply says there was nothing to pop (the client blocks on)."""
    return reply is None or isinstance(reply, NullArray)
