"""AUTH and ACL: logging in, and the cluster's users (Redis 7 ACL).

Users are cluster state (seshat_trio.acl.replicated): ACL SETUSER checks its arguments
here, against this node's view once it applied everything group 0 committed before (a read
barrier), then ACL SETUSER and ACL DELUSER change the users through the system group
(`Backend.change_system`), on this node if it leads group 0 or through its leader, and
reply once this node applied the change too; every node then enforces the result.
Passwords leave this node only as SHA-256 digests: `>secret` becomes `#<digest>` before
anything is proposed or forwarded. The reads (ACL LIST, GETUSER, USERS) first wait for
this node to apply what group 0 committed before them, so a change acknowledged anywhere
is seen everywhere. ACL LOG is this node's own.
"""

from __future__ import annotations

import math
import secrets
import time

from seshat_trio.acl.categories import CATEGORIES
from seshat_trio.acl.permissions import check_command_rule
from seshat_trio.acl.replicated import CANNOT_DELETE_DEFAULT, encode_deluser, encode_setuser
from seshat_trio.acl.rules import (
    DEFAULT_USER,
    AclRuleError,
    AclSyntaxError,
    Selector,
    User,
    apply_rules,
    hash_password,
    merge_selector_args,
    new_user,
)
from seshat_trio.acl.seed import valid_username
from seshat_trio.acl.throttle import client_host
from seshat_trio.commands.context import CommandContext
from seshat_trio.commands.permissions import (
    catalog,
    check_permissions,
    log_denial,
    resolve,
)
from seshat_trio.commands.table import CommandSpec, lookup, register, subcommand, wrong_arity
from seshat_trio.kv.parsing import parse_int
from seshat_trio.protocol import ErrorReply, Reply, SimpleString

OK = SimpleString("OK")
WRONGPASS = ErrorReply("WRONGPASS invalid username-password pair or user is disabled.")
NO_DEFAULT_PASSWORD = ErrorReply(
    "ERR AUTH <password> called without any password configured for the default user. "
    "Are you sure your configuration is correct?"
)
REPLICATED = ErrorReply(
    "ERR users are cluster state here: every ACL SETUSER and ACL DELUSER is replicated "
    "through the system Raft group and already stored on every node, so there is no ACL "
    "file to save or load (an aclfile only seeds the users of a new cluster)"
)
BAD_USERNAME = ErrorReply("ERR Usernames can't contain spaces or null characters")
GENPASS_RANGE = ErrorReply(
    "ERR ACL GENPASS argument must be the number of bits for the output password, "
    "a positive number up to 4096"
)
NOT_AN_INTEGER = ErrorReply("ERR value is not an integer or out of range")
HELP = [
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Not needed: users are replicated cluster state (see SETUSER).",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries (of this node's clients).",
    "SAVE",
    "    Not needed: users are replicated cluster state (see SETUSER).",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes, on every node.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Prints this help.",
]


def login(
    ctx: CommandContext, username: bytes, password: bytes, *, command: str
) -> ErrorReply | None:
    """Authenticate the connection; None on success, WRONGPASS (logged) otherwise, or a
    refusal without a look at the password while the client's address failed too often."""
    directory = ctx.backend.users
    throttle = directory.throttle
    host = client_host(ctx.client.addr)
    now = time.monotonic()
    wait = throttle.retry_after(host, now)
    if wait is not None:
        return ErrorReply(
            f"ERR too many failed authentication attempts from {host} "
            f"({throttle.max_failures} in {throttle.window_s:g} s); "
            f"try again in {math.ceil(wait)} s"
        )
    if directory.authenticate(username, password):
        ctx.client.auth.login(username)
        return None
    throttle.failed(host, now)
    log_denial(ctx, "auth", command, username=username)
    return WRONGPASS


async def auth(ctx: CommandContext, argv: list[bytes]) -> Reply:
    if len(argv) > 3:
        return ErrorReply("ERR syntax error")
    if len(argv) == 2:
        default = ctx.backend.users.user(DEFAULT_USER.name)
        if default is not None and default.nopass:
            return NO_DEFAULT_PASSWORD
        username, password = DEFAULT_USER.name, argv[1]
    else:
        username, password = argv[1], argv[2]
    return login(ctx, username, password, command="auth") or OK


def _syntax_error(argv: list[bytes]) -> ErrorReply:
    sub = argv[1][:128].decode(errors="replace")
    return ErrorReply(
        f"ERR unknown subcommand or wrong number of arguments for '{sub}'. Try ACL HELP."
    )


def _selector_reply(selector: Selector) -> dict[str, Reply]:
    return {
        "commands": selector.describe_commands(),
        "keys": selector.describe_keys(),
        "channels": selector.describe_channels(),
    }


def getuser_reply(user: User) -> Reply:
    reply: dict[str, Reply] = {
        "flags": list(user.flags),
        "passwords": list(user.passwords),
        **_selector_reply(user.root),
        "selectors": [_selector_reply(s) for s in user.selectors],
    }
    return reply


async def setuser(ctx: CommandContext, argv: list[bytes]) -> Reply:
    name = argv[2]
    if not valid_username(name):
        return BAD_USERNAME
    # The rules are checked against the user as the cluster last committed it (`<old`
    # needs the password an earlier SETUSER, maybe through another node, just added).
    await ctx.backend.system_read_barrier()
    directory = ctx.backend.users
    table = catalog()
    try:
        rules = merge_selector_args(argv[3:])
        current = directory.user(name) or new_user(name)
        apply_rules(current, rules, lambda rule: check_command_rule(rule, table))
    except (AclRuleError, AclSyntaxError) as exc:
        return ErrorReply(exc.message)
    hashed = [_hashed(rule) for rule in rules]
    command = [argv[0], argv[1], name, *hashed]
    op = encode_setuser(name, hashed, _seed(ctx))
    return await ctx.backend.change_system(op, command, forwarded=ctx.client.forwarded)


async def set_default_password(ctx: CommandContext, password: bytes) -> Reply:
    """CONFIG SET requirepass, as Redis: the default user's passwords become exactly this
    one (an empty one: nopass), changed like any ACL SETUSER, so on every node at once and
    never sent anywhere in the clear."""
    rule = b">" + password if password else b"nopass"
    return await setuser(ctx, [b"ACL", b"SETUSER", DEFAULT_USER.name, b"resetpass", rule])


def _seed(ctx: CommandContext) -> list[User] | None:
    """This node's seed, sent with a change while it has not seen the cluster's users (the
    change may then be the first to apply, before any seed)."""
    directory = ctx.backend.users
    return None if directory.from_cluster else directory.users()


def _hashed(rule: bytes) -> bytes:
    """A password rule with its password replaced by the digest (`>pw` -> `#<sha256>`)."""
    if rule[:1] == b">":
        return b"#" + hash_password(rule[1:]).encode()
    if rule[:1] == b"<":
        return b"!" + hash_password(rule[1:]).encode()
    return rule


async def deluser(ctx: CommandContext, argv: list[bytes]) -> Reply:
    names = argv[2:]
    if DEFAULT_USER.name in names:
        return ErrorReply(CANNOT_DELETE_DEFAULT)
    return await ctx.backend.change_system(
        encode_deluser(names, _seed(ctx)), argv, forwarded=ctx.client.forwarded
    )


async def dryrun(ctx: CommandContext, argv: list[bytes]) -> Reply:
    username = argv[2]
    directory = ctx.backend.users
    if directory.user(username) is None:
        return ErrorReply(f"ERR User '{username.decode(errors='replace')}' not found")
    command = argv[3:]
    spec = lookup(command[0])
    if spec is None:
        return ErrorReply(f"ERR Command '{command[0].decode(errors='replace')}' not found")
    if not spec.arity_ok(len(command)):
        return wrong_arity(spec.name)
    resolved = resolve(spec, command)
    if isinstance(resolved, ErrorReply):
        if spec.subcommand(command) is None:
            return ErrorReply(f"ERR Command '{command[0].decode(errors='replace')}' not found")
        return resolved
    fullname, flags = resolved
    denial = check_permissions(directory.permissions(username), spec, fullname, flags, command)
    if denial is None:
        return OK
    if denial.reason == "command":
        return f"This user has no permissions to run the '{fullname}' command"
    refused = command[denial.position].decode(errors="replace")
    return f"This user has no permissions to access the '{refused}' {denial.reason}"


async def genpass(ctx: CommandContext, argv: list[bytes]) -> Reply:
    bits = 256
    if len(argv) == 3:
        parsed = parse_int(argv[2])
        if parsed is None:
            return NOT_AN_INTEGER
        bits = parsed
    elif len(argv) > 3:
        return _syntax_error(argv)
    if bits <= 0 or bits > 4096:
        return GENPASS_RANGE
    chars = (bits + 3) // 4
    return secrets.token_hex((chars + 1) // 2)[:chars]


async def log(ctx: CommandContext, argv: list[bytes]) -> Reply:
    journal = ctx.backend.users.log
    count: int | None = None
    if len(argv) == 3:
        if argv[2].lower() == b"reset":
            journal.reset()
            return OK
        count = parse_int(argv[2])
        if count is None:
            return NOT_AN_INTEGER
    elif len(argv) > 3:
        return _syntax_error(argv)
    now = time.monotonic()
    return [
        {
            "count": entry.count,
            "reason": entry.reason,
            "context": entry.context,
            "object": entry.object,
            "username": entry.username,
            "age-seconds": round(now - entry.updated, 3),
            "client-info": entry.client_info,
        }
        for entry in journal.entries(count)
    ]


async def acl(ctx: CommandContext, argv: list[bytes]) -> Reply:
    sub = argv[1].lower()
    directory = ctx.backend.users
    if sub == b"setuser":
        return await setuser(ctx, argv)
    if sub == b"deluser":
        return await deluser(ctx, argv)
    if sub in (b"save", b"load"):
        return REPLICATED
    if sub in (b"getuser", b"list", b"users"):
        await ctx.backend.system_read_barrier()
        if sub == b"getuser":
            user = directory.user(argv[2])
            return None if user is None else getuser_reply(user)
        if sub == b"list":
            return [user.describe() for user in directory.users()]
        return [user.name for user in directory.users()]
    if sub == b"whoami":
        return ctx.client.auth.username
    if sub == b"cat":
        if len(argv) == 2:
            return list(CATEGORIES)
        if len(argv) > 3:
            return _syntax_error(argv)
        category = argv[2].lower().decode(errors="replace")
        if category not in CATEGORIES:
            return ErrorReply(f"ERR Unknown category '{argv[2].decode(errors='replace')}'")
        return catalog().in_category(category)
    if sub == b"dryrun":
        return await dryrun(ctx, argv)
    if sub == b"genpass":
        return await genpass(ctx, argv)
    if sub == b"log":
        return await log(ctx, argv)
    return [SimpleString(line) for line in HELP]


_NO_AUTH = frozenset({"noscript", "loading", "stale", "fast", "no_auth", "allow_busy"})
_ADMIN = "admin noscript loading stale"
register(
    CommandSpec("auth", -2, _NO_AUTH, 0, 0, 0, "connection",
                "Authenticates the connection.", "1.0.0",
                "O(N) where N is the number of passwords defined for the user", run=auth),
    CommandSpec("acl", -2, frozenset(), 0, 0, 0, "server",
                "A container for Access List Control commands.", "6.0.0",
                "Depends on subcommand.", run=acl,
                subcommands=(
                    subcommand("cat", -2, "noscript loading stale"),
                    subcommand("deluser", -3, _ADMIN),
                    subcommand("dryrun", -4, _ADMIN),
                    subcommand("genpass", -2, "noscript loading stale"),
                    subcommand("getuser", 3, _ADMIN),
                    subcommand("list", 2, _ADMIN),
                    subcommand("load", 2, _ADMIN),
                    subcommand("log", -2, _ADMIN),
                    subcommand("save", 2, _ADMIN),
                    subcommand("setuser", -3, _ADMIN),
                    subcommand("users", 2, _ADMIN),
                    subcommand("whoami", 2, "noscript loading stale"),
                    subcommand("help", 2, "loading stale"),
                )),
)  # fmt: skip
