"""PING, ECHO and TIME as data commands, for use inside MULTI/EXEC only.

Their replies depend on nothing but their arguments and the operation's time, so they can
be part of a replicated transaction; outside MULTI the connection handlers answer them.
"""

from __future__ import annotations

from seshat_trio.kv import registry
from seshat_trio.kv.registry import Args, args_as_is
from seshat_trio.kv.view import KeyView
from seshat_trio.protocol import ErrorReply, Reply, SimpleString


def parse_ping(args: Args) -> Args | ErrorReply:
    if len(args) > 1:
        return ErrorReply("ERR wrong number of arguments for 'ping' command")
    return args


def ping(view: KeyView, args: Args) -> Reply:
    return args[0] if args else SimpleString("PONG")


def echo(view: KeyView, args: Args) -> Reply:
    return args[0]


def time_(view: KeyView, args: Args) -> Reply:
    seconds, ms = divmod(view.time_ms, 1000)
    return [b"%d" % seconds, b"%d" % (ms * 1000)]


# No table rows here: outside MULTI the connection and server handlers answer them.
registry.read("ping", parse_ping, ping, None)
registry.read("echo", args_as_is, echo, None)
registry.read("time", args_as_is, time_, None)
