"""CLIENT and its subcommands: names, ids, LIST, INFO, KILL, UNBLOCK.

LIST, KILL and UNBLOCK see the connections of this node (through the `ClientRegistry` in
the context); a request forwarded from a follower only sees its own client state. A client
blocked on another node is unblocked (or killed) through that node, as it is listed there.
"""

from __future__ import annotations

import time

from seshat_trio.blocking.waiters import Unblocked
from seshat_trio.commands.context import ClientState, CommandContext
from seshat_trio.commands.table import CommandSpec, register, subcommand, unknown_subcommand
from seshat_trio.kv.parsing import NOT_INTEGER, parse_int
from seshat_trio.protocol import ErrorReply, Reply, SimpleString
from seshat_trio.pubsub.client import client_class
from seshat_trio.pubsub.registry import Kind

OK = SimpleString("OK")
BAD_NAME = ErrorReply("ERR Client names cannot contain spaces, newlines or special characters.")
NO_SUCH_CLIENT = ErrorReply("ERR No such client")


def valid_client_name(name: bytes) -> bool:
    # Redis allows printable ASCII except space.
    return all(33 <= byte <= 126 for byte in name)


def describe(client: ClientState, now: float) -> str:
    """One CLIENT LIST line, with Redis 7.0's fields (those without meaning here are 0)."""
    multi = -1 if client.queued is None else len(client.queued)
    pubsub = client.pubsub
    flags = (
        ("P" if client_class(client) == "pubsub" else "")
        + ("x" if client.queued is not None else "")
        + ("b" if client.blocked is not None else "")
    )
    sub, psub, ssub = (
        (len(pubsub.names(Kind.CHANNEL)), len(pubsub.names(Kind.PATTERN)), pubsub.shard_count)
        if pubsub is not None
        else (0, 0, 0)
    )
    return (
        f"id={client.id} addr={client.addr} laddr= fd=0 "
        f"name={client.name.decode(errors='replace')} age={int(now - client.connected_at)} "
        f"idle={int(now - client.last_active)} flags={flags or 'N'} db=0 sub={sub} "
        f"psub={psub} ssub={ssub} "
        f"multi={multi} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 "
        f"omem=0 tot-mem=0 events=r cmd={client.last_command} "
        f"user={client.auth.username.decode(errors='replace')} redir=-1 "
        f"resp={client.protocol}"
    )


def _clients(ctx: CommandContext) -> list[ClientState]:
    return [ctx.client] if ctx.registry is None else ctx.registry.clients()


def client_list(ctx: CommandContext, argv: list[bytes]) -> Reply:
    clients = _clients(ctx)
    if len(argv) > 2:
        option = argv[2].lower()
        if option == b"type" and len(argv) == 4:
            if argv[3].lower() not in (b"normal", b"master", b"replica", b"pubsub"):
                return ErrorReply(f"ERR Unknown client type '{argv[3].decode(errors='replace')}'")
            kind = argv[3].lower().decode()
            clients = [c for c in clients if client_class(c) == kind]
        elif option == b"id" and len(argv) >= 4:
            ids = [parse_int(arg) for arg in argv[3:]]
            if any(i is None or i <= 0 for i in ids):
                return ErrorReply("ERR Invalid client ID")
            clients = [c for c in clients if c.id in ids]
        else:
            return ErrorReply("ERR syntax error")
    now = time.monotonic()
    return "".join(describe(c, now) + "\n" for c in sorted(clients, key=lambda c: c.id)).encode()


def client_kill(ctx: CommandContext, argv: list[bytes]) -> Reply:
    clients = _clients(ctx)
    if len(argv) == 3:  # the old form: CLIENT KILL addr:port
        for c in clients:
            if c.addr.encode() == argv[2]:
                _kill(ctx, c)
                return OK
        return NO_SUCH_CLIENT
    if len(argv) % 2:
        return ErrorReply("ERR syntax error")
    skipme = True
    chosen = list(clients)
    for i in range(2, len(argv), 2):
        option, value = argv[i].lower(), argv[i + 1]
        if option == b"id":
            wanted = parse_int(value)
            if wanted is None or wanted <= 0:
                return ErrorReply("ERR client-id should be greater than 0")
            chosen = [c for c in chosen if c.id == wanted]
        elif option == b"addr":
            chosen = [c for c in chosen if c.addr.encode() == value]
        elif option == b"type":
            kind = value.lower()
            if kind not in (b"normal", b"master", b"replica", b"slave", b"pubsub"):
                return ErrorReply(f"ERR Unknown client type '{value.decode(errors='replace')}'")
            chosen = [c for c in chosen if client_class(c) == kind.decode()]
        elif option == b"skipme":
            if value.lower() not in (b"yes", b"no"):
                return ErrorReply("ERR syntax error")
            skipme = value.lower() == b"yes"
        else:
            return ErrorReply("ERR syntax error")
    killed = 0
    for c in chosen:
        if skipme and c.id == ctx.client.id:
            continue
        _kill(ctx, c)
        killed += 1
    return killed


def _kill(ctx: CommandContext, client: ClientState) -> None:
    if client.id == ctx.client.id:
        ctx.client.closing = True  # after this reply, as Redis does
    elif ctx.registry is not None:
        ctx.registry.kill(client.id)


def client_unblock(ctx: CommandContext, argv: list[bytes]) -> Reply:
    """CLIENT UNBLOCK id [TIMEOUT|ERROR]: 1 if that client of this node was in a blocking
    command (BLPOP, ...), which then answers as if it timed out or `-UNBLOCKED`; else 0."""
    if len(argv) > 4:
        return ErrorReply(
            "ERR unknown subcommand or wrong number of arguments for 'unblock'. Try CLIENT HELP."
        )
    how = Unblocked.TIMEOUT
    if len(argv) == 4:
        reason = argv[3].lower()
        if reason not in (b"timeout", b"error"):
            return ErrorReply("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
        how = Unblocked(reason.decode())
    wanted = parse_int(argv[2])
    if wanted is None:
        return NOT_INTEGER
    for c in _clients(ctx):
        if c.id == wanted and c.blocked is not None:
            c.blocked.unblock(how)
            return 1
    return 0


SKIP_NEXT, SKIP_THIS = 1, 2


def client_reply(client: ClientState, mode: bytes) -> Reply:
    """CLIENT REPLY ON|OFF|SKIP, as Redis: ON answers OK; OFF and SKIP answer nothing (the
    dispatcher drops their reply), SKIP also the next command's. Pushes (RESP3 pub/sub)
    are still sent."""
    mode = mode.lower()
    if mode == b"on":
        client.reply_off, client.reply_skip = False, 0
        return OK
    if mode == b"off":
        client.reply_off = True
        return OK
    if mode == b"skip":
        if not client.reply_off:
            client.reply_skip = SKIP_NEXT
        return OK
    return ErrorReply("ERR syntax error")


def quiet(client: ClientState) -> bool:
    """Whether the command about to run is answered (CLIENT REPLY)."""
    return client.reply_off or client.reply_skip == SKIP_THIS


def after_command(client: ClientState) -> None:
    """CLIENT REPLY SKIP's clock: it silences the command after it, then expires."""
    if client.reply_skip == SKIP_THIS:
        client.reply_skip = 0
    elif client.reply_skip == SKIP_NEXT:
        client.reply_skip = SKIP_THIS


async def client(ctx: CommandContext, argv: list[bytes]) -> Reply:
    sub = argv[1].lower()
    n = len(argv)
    if sub == b"setname" and n == 3:
        if not valid_client_name(argv[2]):
            return BAD_NAME
        ctx.client.name = argv[2]
        return OK
    if sub == b"getname" and n == 2:
        return ctx.client.name or None
    if sub == b"id" and n == 2:
        return ctx.client.id
    if sub == b"setinfo" and n == 4:
        return OK
    if sub == b"info" and n == 2:
        return (describe(ctx.client, time.monotonic()) + "\n").encode()
    if sub == b"list":
        return client_list(ctx, argv)
    if sub == b"kill":
        return client_kill(ctx, argv)
    if sub == b"unblock":
        return client_unblock(ctx, argv)
    if sub == b"reply" and n == 3:
        return client_reply(ctx.client, argv[2])
    return unknown_subcommand(CLIENT, argv)  # dispatch checked name and arity


_SUB = "noscript loading stale"
CLIENT = CommandSpec(
    "client",
    -2,
    frozenset(),
    0,
    0,
    0,
    "connection",
    "A container for client connection commands.",
    "2.4.0",
    "Depends on subcommand.",
    run=client,
    subcommands=(
        subcommand("setname", 3, _SUB),
        subcommand("getname", 2, _SUB),
        subcommand("id", 2, _SUB),
        subcommand("setinfo", 4, _SUB),
        subcommand("info", 2, _SUB),
        subcommand("list", -2, "admin " + _SUB),
        subcommand("kill", -3, "admin " + _SUB),
        subcommand("unblock", -3, "admin " + _SUB),
        subcommand("reply", 3, _SUB),
    ),
)
register(CLIENT)
