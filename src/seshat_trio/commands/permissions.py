"""Admission of a command before it runs: its subcommand, authentication and ACL permissions.

Redis's order (processCommand): an unknown command or subcommand and a wrong number of
arguments are answered first; then a client that must authenticate gets NOAUTH for
anything but AUTH, HELLO, QUIT and RESET; then the ACL check refuses with NOPERM and
records the denial in ACL LOG. Dispatch calls `admission_error` for every command of a
container (CONFIG GET names its subcommand) and for every command of a restricted client,
and nothing else.

The command table reaches the ACL engine as a `Catalog` built here once, with every
command's and subcommand's categories derived from its row.
"""

from __future__ import annotations

import functools
import time

from seshat_trio.acl.categories import derive
from seshat_trio.acl.permissions import Catalog, Denial, Permissions
from seshat_trio.commands.clients import describe
from seshat_trio.commands.context import ClientState, CommandContext
from seshat_trio.commands.table import (
    COMMANDS,
    CommandSpec,
    Subcommand,
    lookup,
    unknown_subcommand,
    wrong_arity,
)
from seshat_trio.protocol import ErrorReply
from seshat_trio.pubsub.registry import Kind

NOAUTH = ErrorReply("NOAUTH Authentication required.")


def categories(spec: CommandSpec, sub: Subcommand | None = None) -> tuple[str, ...]:
    if sub is not None:
        return derive(spec.group, sub.flags, spec.acl_categories)
    bare = bool(spec.subcommands) and spec.arity <= -2
    return derive(spec.group, spec.flags, spec.acl_categories, bare_container=bare)


@functools.cache
def catalog() -> Catalog:
    """The command table as ACL sees it (every command is registered at import time)."""
    found: dict[str, tuple[str, ...]] = {}
    containers: dict[str, tuple[str, ...]] = {}
    for spec in COMMANDS.values():
        found[spec.name] = categories(spec)
        if spec.subcommands:
            names = []
            for sub in spec.subcommands:
                fullname = f"{spec.name}|{sub.name}"
                found[fullname] = categories(spec, sub)
                names.append(fullname)
            containers[spec.name] = tuple(names)
    return Catalog(found, containers)


def resolve(spec: CommandSpec, argv: list[bytes]) -> tuple[str, frozenset[str]] | ErrorReply:
    """The full name (`config|get`) and flags of the command `argv` runs, or the error
    Redis answers for an unknown subcommand or a subcommand's wrong arity."""
    if not spec.subcommands or (len(argv) == 1 and spec.arity_ok(1)):
        return spec.name, spec.flags
    sub = spec.subcommand(argv)
    if sub is None:
        return unknown_subcommand(spec, argv)
    fullname = f"{spec.name}|{sub.name}"
    if not sub.arity_ok(len(argv)):
        return wrong_arity(fullname)
    return fullname, sub.flags


def denial_message(denial: Denial, fullname: str) -> str:
    if denial.reason == "command":
        return f"this user has no permissions to run the '{fullname}' command"
    return f"this user has no permissions to access one of the {denial.reason}s used as arguments"


def check_permissions(
    permissions: Permissions | None,
    spec: CommandSpec,
    fullname: str,
    flags: frozenset[str],
    argv: list[bytes],
) -> Denial | None:
    if permissions is None:  # the user was deleted; its connection is being closed
        return Denial("command", 0)
    return permissions.check(
        fullname,
        argv,
        no_auth="no_auth" in flags,
        keys=lambda: spec.keys(argv),
        channels=lambda: spec.channels_proc(argv) if spec.channels_proc else (),
    )


def admission_error(ctx: CommandContext, spec: CommandSpec, argv: list[bytes]) -> ErrorReply | None:
    resolved = resolve(spec, argv)
    if isinstance(resolved, ErrorReply):
        return resolved
    fullname, flags = resolved
    auth = ctx.client.auth
    if not auth.restricted:
        return None
    if auth.auth_required:
        return None if "no_auth" in flags else NOAUTH
    denial = check_permissions(auth.permissions, spec, fullname, flags, argv)
    if denial is None:
        return None
    refused = fullname if denial.reason == "command" else argv[denial.position]
    log_denial(ctx, denial.reason, refused)
    return ErrorReply(f"NOPERM {denial_message(denial, fullname)}")


RULES_CHANGED = ErrorReply(
    "EXECABORT Transaction discarded because of: ACL rules changed between the moment the "
    "transaction was accumulated and its execution"
)


def exec_refusal(ctx: CommandContext, spec: CommandSpec, argv: list[bytes]) -> ErrorReply | None:
    """EXEC of a restricted client: EXEC itself, then every queued command again, as the
    rules may have changed since it was queued. Redis then answers NOPERM for that command
    alone inside EXEC's reply; a transaction here is one operation, so it is discarded."""
    error = admission_error(ctx, spec, argv)
    queued = ctx.client.queued
    if error is not None or len(argv) != 1 or queued is None:
        return error
    for command in queued:
        queued_spec = lookup(command[0])
        if queued_spec is not None and admission_error(ctx, queued_spec, command) is not None:
            ctx.client.end_transaction()
            return RULES_CHANGED
    return None


def subscriptions_of(client: ClientState) -> list[tuple[bytes, bool]]:
    """A connection's channels, patterns and shard channels (name, is_pattern): what a
    change of its user's channel permissions is checked against."""
    if client.pubsub is None:
        return []
    return [(name, kind is Kind.PATTERN) for kind in Kind for name in client.pubsub.names(kind)]


def log_denial(
    ctx: CommandContext, reason: str, obj: str | bytes, username: bytes | None = None
) -> None:
    """Record a denial (or a failed AUTH) in this node's ACL LOG."""
    client = ctx.client
    directory = client.auth.directory
    if directory is None:
        return
    now = time.monotonic()
    directory.log.add(
        reason=reason,
        context="multi" if client.queued is not None else "toplevel",
        obj=obj.encode() if isinstance(obj, str) else obj,
        username=client.auth.username if username is None else username,
        client_info=describe(client, now).encode(),
        now=now,
    )
