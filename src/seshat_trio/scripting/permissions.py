"""ACL inside scripts: `redis.call` and `redis.pcall` run as the user who called EVAL.

A script that writes runs at apply, on every node, where no client connection exists. So
when its caller is restricted, the caller's rules travel in the operation (`evalacl
<rules> <script> <numkeys> ...`: the user as the system group stores it, JSON), and every
node compiles them against its own command table and checks each call the script makes:
every node refuses alike, whatever the cluster's users have become meanwhile. An
unrestricted caller's script runs unchecked, as before (`eval ...`).

A follower forwards a restricted client's EVAL with the rules in it (`EVAL <script> acl
<rules> <numkeys> ...`: `acl` stands where numkeys would, which no client's EVAL can
have); the leader honours that form only from a peer's forwarded request. Refusals are
Redis 7.0's script errors; they are not written to ACL LOG (every node runs the script).
"""

from __future__ import annotations

import functools
import json

from seshat_trio.acl.permissions import Permissions, compile_user
from seshat_trio.acl.rules import new_user, user_from_json, user_to_json
from seshat_trio.commands.context import CommandContext
from seshat_trio.commands.permissions import catalog, check_permissions, resolve
from seshat_trio.commands.table import CommandSpec
from seshat_trio.kv.parsing import NOT_INTEGER
from seshat_trio.protocol import ErrorReply

MARK = b"acl"
_DENIED = {
    "command": "ERR The user executing the script can't run this command or subcommand",
    "key": "ERR The user executing the script can't access at least one of the keys "
    "mentioned in the command arguments",
    "channel": "ERR The user executing the script can't publish to the channel mentioned in "
    "the command",
}


def caller_rules(ctx: CommandContext) -> bytes | None:
    """The rules a script of this client must obey (None: it may run anything)."""
    auth = ctx.client.auth
    if not auth.restricted or auth.directory is None:
        return None
    user = auth.directory.user(auth.username) or new_user(auth.username)  # deleted: nothing
    return json.dumps(user_to_json(user), sort_keys=True, separators=(",", ":")).encode()


def caller_form(ctx: CommandContext, argv: list[bytes]) -> list[bytes]:
    """The EVAL a follower sends the leader, or MULTI queues: with the caller's rules when
    it is restricted (the rules of a forwarded one travel on as they came)."""
    if ctx.client.forwarded:
        return argv
    rules = caller_rules(ctx)
    return argv if rules is None else [*argv[:2], MARK, rules, *argv[2:]]


def carries_rules(argv: list[bytes]) -> bool:
    return len(argv) > 4 and argv[2] == MARK


def with_rules(ctx: CommandContext, argv: list[bytes]) -> list[bytes] | ErrorReply:
    """The EVAL to run, carrying the rules its script obeys (if any): those a peer's
    forwarded request brought, or the client's own. A client may not send the form."""
    if carries_rules(argv):
        return argv if ctx.client.forwarded else NOT_INTEGER
    return caller_form(ctx, argv)


@functools.lru_cache(maxsize=64)
def permissions_of(rules: bytes) -> Permissions:
    try:
        user = user_from_json(json.loads(rules))
    except (ValueError, KeyError, TypeError):
        user = new_user(b"")  # unreadable rules (a peer of another version): nothing
    return compile_user(user, catalog())


def refusal(permissions: Permissions, spec: CommandSpec, argv: list[bytes]) -> ErrorReply | None:
    """Why the script's caller may not run `argv`, as Redis 7.0 words it (None: it may)."""
    resolved = resolve(spec, argv)
    if isinstance(resolved, ErrorReply):
        return resolved
    fullname, flags = resolved
    denial = check_permissions(permissions, spec, fullname, flags, argv)
    return None if denial is None else ErrorReply(_DENIED[denial.reason])
