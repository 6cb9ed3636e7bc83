"""COMMAND, CONFIG and INFO: what clients and tools probe on connect."""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from seshat_trio.commands.acl import set_default_password
from seshat_trio.commands.context import CommandContext
from seshat_trio.commands.permissions import categories
from seshat_trio.commands.table import (
    COMMANDS,
    CommandSpec,
    lookup,
    register,
    subcommand,
    wrong_arity,
)
from seshat_trio.glob import compile_glob
from seshat_trio.memory_gauge import USED_MEMORY
from seshat_trio.protocol import ErrorReply, RawReplies, Reply, SimpleString, Verbatim
from seshat_trio.pubsub.replicated import encode_notify_flags
from seshat_trio.tunables import PARAMETERS, TunableError

NOTIFY = "notify-keyspace-events"  # cluster state, unlike the other tunables
REQUIREPASS = "requirepass"  # the default user's password: cluster state too (ACL SETUSER)

DEFAULT_INFO_SECTIONS = (
    "server",
    "clients",
    "memory",
    "persistence",
    "keyspace",
    "cluster",
    "raft",
)


def _set(items: Iterable[str]) -> Reply:
    # An insertion-ordered set: replies must not depend on the process's hash seed.
    return dict.fromkeys(SimpleString(item) for item in items).keys()


def command_info(spec: CommandSpec) -> Reply:
    """The 10-element COMMAND INFO row of Redis 7 (key specifications and tips empty)."""
    return [
        spec.name.encode(),
        spec.arity,
        _set(sorted(spec.flags)),
        spec.first_key,
        spec.last_key,
        spec.step,
        _set(f"@{category}" for category in categories(spec)),
        [],
        [],
        [
            [
                f"{spec.name}|{sub.name}".encode(),
                sub.arity,
                _set(sorted(sub.flags)),
                0,
                0,
                0,
                _set(f"@{category}" for category in categories(spec, sub)),
                [],
                [],
                [],
            ]
            for sub in spec.subcommands
        ],
    ]


def command_docs(spec: CommandSpec) -> Reply:
    return {
        "summary": spec.summary,
        "since": spec.since,
        "group": spec.group,
        "complexity": spec.complexity,
    }


async def command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    if len(argv) == 1:
        return [command_info(spec) for spec in COMMANDS.values()]
    sub = argv[1].lower()
    names = argv[2:]
    if sub == b"count" and not names:
        return len(COMMANDS)
    if sub == b"list" and not names:
        return [name for name in COMMANDS]
    if sub == b"info":
        specs = COMMANDS.values() if not names else [lookup(n) for n in names]
        return [None if spec is None else command_info(spec) for spec in specs]
    if sub == b"docs":
        wanted = COMMANDS.values() if not names else [lookup(n) for n in names]
        return {spec.name: command_docs(spec) for spec in wanted if spec is not None}
    return wrong_arity("command|list")  # COMMAND LIST FILTERBY is not supported


def config_parameters(ctx: CommandContext) -> dict[str, str]:
    """Parameters CONFIG GET reports; redis-benchmark asks for `save` and `appendonly`."""
    limits = ctx.config.limits
    return {
        # Every acknowledged write is fsynced through the Raft log: no RDB saves to schedule.
        "save": "",
        "appendonly": "yes",
        "appendfsync": "always",
        "databases": "1",
        "maxclients": str(limits.max_clients),
        "port": str(ctx.config.node.client_addr.port),
        "bind": ctx.config.node.client_addr.host,
        "proto-max-bulk-len": str(limits.max_bulk_len),
        "dir": str(ctx.config.node.data_dir),
    } | ctx.tunables.get()


async def config_set(ctx: CommandContext, args: list[bytes]) -> Reply:
    """The tunables (seshat_trio/tunables.py) change at once, all or none of them; every
    other setting is fixed for the life of the process (the configuration is one frozen
    object shared by every layer), so CONFIG SET only accepts its current value.
    notify-keyspace-events and requirepass are cluster state (pubsub/replicated.py, the ACL
    users): they change on every node, through the system group, before the node-local
    tunables do. requirepass is not reported by CONFIG GET (only its digest is stored)."""
    if not args or len(args) % 2:
        return wrong_arity("config|set")
    params = config_parameters(ctx)
    changes: dict[str, str] = {}
    password: bytes | None = None
    for i in range(0, len(args), 2):
        name = args[i].decode(errors="replace").lower()
        value = args[i + 1].decode(errors="replace")
        if name == REQUIREPASS:
            password = args[i + 1]
            continue
        if name not in params:
            return ErrorReply(
                f"ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
            )
        if name in PARAMETERS:
            changes[name] = value
        elif value != params[name]:
            return _set_failed(name, "can't set immutable config")
    try:
        attrs.evolve(ctx.tunables).set_all(changes)  # refuse before anything changes
    except TunableError as exc:
        return _set_failed(exc.name, exc.reason)
    flags = changes.pop(NOTIFY, None)
    if flags is not None:
        reply = await ctx.backend.change_system(
            encode_notify_flags(flags),
            [b"config", b"set", NOTIFY.encode(), flags.encode()],
            forwarded=ctx.client.forwarded,
        )
        if _refused(reply):
            return reply
    if password is not None:
        reply = await set_default_password(ctx, password)
        if _refused(reply):
            return reply
    ctx.tunables.set_all(changes)
    return SimpleString("OK")


def _refused(reply: Reply) -> bool:
    return isinstance(reply, ErrorReply) or (
        isinstance(reply, RawReplies) and reply.data.startswith(b"-")
    )


def _set_failed(name: str, reason: str) -> ErrorReply:
    return ErrorReply(f"ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}")


async def config(ctx: CommandContext, argv: list[bytes]) -> Reply:
    sub = argv[1].lower()
    if sub == b"get":
        params = config_parameters(ctx)
        found: dict[str, str] = {}
        for pattern in argv[2:]:
            glob = compile_glob(pattern, nocase=True)
            found.update((k, v) for k, v in params.items() if glob.match(k.encode()))
        return found
    if sub == b"set":
        return await config_set(ctx, argv[2:])
    return SimpleString("OK")  # RESETSTAT (dispatch checked the subcommand)


def memory_fields(ctx: CommandContext) -> list[tuple[str, str]]:
    """INFO memory: what maxmemory is compared with (docs/security.md), in Redis's names."""
    used = USED_MEMORY.used_bytes()
    tunables = ctx.tunables
    return [
        ("used_memory", str(used)),
        ("used_memory_human", _human(used)),
        ("used_memory_rss", str(used)),
        ("maxmemory", str(tunables.maxmemory)),
        ("maxmemory_human", _human(tunables.maxmemory)),
        ("maxmemory_policy", tunables.maxmemory_policy),
        ("maxmemory_clients", str(tunables.maxmemory_clients)),
    ]


def _human(size: int) -> str:
    """Redis's bytesToHuman: 1.50M, 12.00K, 300B."""
    for unit, scale in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.2f}{unit}"
    return f"{size}B"


async def info(ctx: CommandContext, argv: list[bytes]) -> Reply:
    sections = ctx.backend.info_sections()
    sections["memory"] = memory_fields(ctx)
    if ctx.pubsub is not None:
        sections.setdefault("stats", []).extend(ctx.pubsub.info_fields())
    wanted = [a.decode(errors="replace").lower() for a in argv[1:]]
    if not wanted or "default" in wanted:
        wanted = [s for s in DEFAULT_INFO_SECTIONS if s in sections]
    elif "all" in wanted or "everything" in wanted:
        wanted = list(sections)
    blocks = []
    for name in wanted:
        fields = sections.get(name)
        if fields is None:
            continue
        lines = [f"# {name.capitalize()}"] + [f"{key}:{value}" for key, value in fields]
        blocks.append("\r\n".join(lines) + "\r\n")
    text = "\r\n".join(blocks)
    return Verbatim("txt", text)


_INTRO = frozenset({"loading", "stale"})
register(
    CommandSpec(
        "command",
        -1,
        _INTRO,
        0,
        0,
        0,
        "server",
        "Returns detailed information about all commands.",
        "2.8.13",
        "O(N) where N is the total number of Redis commands",
        run=command,
        acl_categories=frozenset({"connection"}),
        subcommands=(
            subcommand("count", 2, "loading stale"),
            subcommand("list", -2, "loading stale"),
            subcommand("info", -2, "loading stale"),
            subcommand("docs", -2, "loading stale"),
        ),
    ),
    CommandSpec(
        "config",
        -2,
        frozenset(),
        0,
        0,
        0,
        "server",
        "A container for server configuration commands.",
        "2.0.0",
        "Depends on subcommand.",
        run=config,
        subcommands=(
            subcommand("get", -3, "admin noscript loading stale"),
            subcommand("set", -4, "admin noscript loading stale"),
            subcommand("resetstat", 2, "admin noscript loading stale"),
        ),
    ),
    CommandSpec(
        "info",
        -1,
        _INTRO,
        0,
        0,
        0,
        "server",
        "Returns information and statistics about the server.",
        "1.0.0",
        "O(1)",
        run=info,
        acl_categories=frozenset({"dangerous"}),
    ),
)
