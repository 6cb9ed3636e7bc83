"""Connection commands: PING, ECHO, HELLO, SELECT, QUIT, RESET (CLIENT: commands/clients.py)."""

from __future__ import annotations

from seshat_trio import __version__
from seshat_trio.commands.acl import login
from seshat_trio.commands.clients import BAD_NAME, valid_client_name
from seshat_trio.commands.context import CommandContext
from seshat_trio.commands.table import CommandSpec, register
from seshat_trio.protocol import ErrorReply, Reply, SimpleString
from seshat_trio.protocol.numbers import parse_ll
from seshat_trio.pubsub.client import in_subscribed_mode

NOAUTH_HELLO = ErrorReply(
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
    "HELLO AUTH <user> <pass> option can be used to authenticate the client and select the "
    "RESP protocol version at the same time"
)

OK = SimpleString("OK")
PONG = SimpleString("PONG")
REDIS_VERSION = "7.0.0"


async def ping(ctx: CommandContext, argv: list[bytes]) -> Reply:
    if in_subscribed_mode(ctx.client):  # RESP2 with subscriptions: a pub/sub-shaped reply
        return [b"pong", argv[1] if len(argv) > 1 else b""]
    return PONG if len(argv) == 1 else argv[1]


async def echo(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return argv[1]


async def select(ctx: CommandContext, argv: list[bytes]) -> Reply:
    try:
        index = int(argv[1])
    except ValueError:
        return ErrorReply("ERR value is not an integer or out of range")
    if index != 0:
        return ErrorReply("ERR DB index is out of range")
    return OK


async def quit_(ctx: CommandContext, argv: list[bytes]) -> Reply:
    ctx.client.closing = True
    return OK


async def reset(ctx: CommandContext, argv: list[bytes]) -> Reply:
    ctx.client.name = b""
    ctx.client.protocol = 2
    ctx.client.end_transaction()  # discards MULTI and forgets WATCHed keys
    ctx.client.readonly = False
    ctx.client.auth.reset()  # back to the default user
    if ctx.client.pubsub is not None:
        ctx.client.pubsub.unsubscribe_all()
    return SimpleString("RESET")


async def hello(ctx: CommandContext, argv: list[bytes]) -> Reply:
    args = argv[1:]
    if args:
        version = parse_ll(args[0])  # strict, as Redis: no sign, spaces or underscores
        if version is None:
            return ErrorReply("ERR Protocol version is not an integer or out of range")
        if version not in (2, 3):
            return ErrorReply("NOPROTO unsupported protocol version")
        rest = args[1:]
        name: bytes | None = None
        credentials: tuple[bytes, bytes] | None = None
        while rest:
            option = rest[0].lower()
            if option == b"auth" and len(rest) >= 3:
                credentials = (rest[1], rest[2])
                rest = rest[3:]
            elif option == b"setname" and len(rest) >= 2:
                name = rest[1]
                rest = rest[2:]
            else:
                return ErrorReply(
                    f"ERR Syntax error in HELLO option '{rest[0].decode(errors='replace')}'"
                )
        if credentials is not None:
            failure = login(ctx, *credentials, command="hello")
            if failure is not None:
                return failure
        if ctx.client.auth.auth_required:
            return NOAUTH_HELLO
        if name is not None:
            if not valid_client_name(name):
                return BAD_NAME
            ctx.client.name = name
        ctx.client.protocol = version
    elif ctx.client.auth.auth_required:
        return NOAUTH_HELLO
    reply: dict[str, Reply] = {
        "server": "redis",
        "version": REDIS_VERSION,
        "proto": ctx.client.protocol,
        "id": ctx.client.id,
        "mode": "cluster",
        "role": "master",
        "modules": [],
        "seshat_version": __version__,
    }
    return reply


_HANDSHAKE = frozenset({"noscript", "loading", "stale", "fast", "no_auth", "allow_busy"})
register(
    CommandSpec("ping", -1, frozenset({"fast"}), 0, 0, 0, "connection",
                "Returns the server's liveliness response.", "1.0.0", "O(1)", run=ping),
    CommandSpec("echo", 2, frozenset({"fast"}), 0, 0, 0, "connection",
                "Returns the given string.", "1.0.0", "O(1)", run=echo),
    CommandSpec("select", 2, frozenset({"loading", "stale", "fast"}), 0, 0, 0, "connection",
                "Changes the selected database.", "1.0.0", "O(1)", run=select),
    CommandSpec("quit", -1, _HANDSHAKE, 0, 0, 0, "connection",
                "Closes the connection.", "1.0.0", "O(1)", run=quit_),
    CommandSpec("reset", 1, _HANDSHAKE, 0, 0, 0, "connection",
                "Resets the connection.", "6.2.0", "O(1)", run=reset),
    CommandSpec("hello", -1, _HANDSHAKE, 0, 0, 0, "connection",
                "Handshakes with the Redis server.", "6.0.0", "O(1)", run=hello),
)  # fmt: skip
