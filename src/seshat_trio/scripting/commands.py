"""EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT, and how a script's commands run.

A script that may write (EVAL, EVALSHA) is ONE write operation, `eval <body> <numkeys>
<keys...> <args...>`: the script travels whole in the log entry (EVALSHA is resolved to its
body where it is proposed), and every node runs it at apply, on the apply view, with the
operation's time and the same instruction budget, so every node reaches the same state
and reply. A read-only script (EVAL_RO, EVALSHA_RO) runs on the node it is sent to after
the read barrier, like a read; if it meets a key only the leader may judge, the whole
script is forwarded to the leader.

The script cache (SHA1 -> script) is replicated through the data groups: SCRIPT LOAD and
SCRIPT FLUSH are operations (`script-load`, `script-flush`) applied in every data group,
and every applied `eval` caches its script, so a script loaded or run anywhere is known
everywhere. A script runs in the data group of its keys (keys of several groups: CROSSSLOT;
no keys on a node with several groups: refused).
Like Redis's, the cache is not persisted: after a restart EVALSHA may answer NOSCRIPT
(clients then send EVAL, as redis-py's Script does).

Commands a script may call are the data commands (kv/registry.py) that Redis allows in
scripts; arity is checked against the command table, as Redis does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import attrs

from seshat_trio.commands.context import CommandContext, GroupBackend
from seshat_trio.commands.data import MOVED_DURING_READ, NO_GROUP, operation
from seshat_trio.commands.table import (
    READ_KEY,
    WRITE_KEY,
    CommandSpec,
    KeyFlags,
    lookup,
    register,
    subcommand,
    wrong_arity,
)
from seshat_trio.errors import NotLeaderError, ServiceError
from seshat_trio.kv import registry
from seshat_trio.kv.operations import Operation
from seshat_trio.kv.parsing import NOT_INTEGER, parse_int
from seshat_trio.kv.registry import READS, WRITES, Args
from seshat_trio.kv.view import KeyView, MustAskLeader, ReadView, WritableView
from seshat_trio.protocol import ErrorReply, RawReplies, Reply, SimpleString
from seshat_trio.scripting.permissions import (
    MARK,
    caller_form,
    carries_rules,
    permissions_of,
    refusal,
    with_rules,
)
from seshat_trio.scripting.runtime import MAX_INSTRUCTIONS, FunctionDef, ScriptError, runtime

NOSCRIPT = ErrorReply("NOSCRIPT No matching script. Please use EVAL.")
UNKNOWN = ErrorReply("ERR Unknown Redis command called from script")
NOT_ALLOWED = ErrorReply("ERR This Redis command is not allowed from script")
WRONG_ARGS = ErrorReply("ERR Wrong number of args calling Redis command from script")
READ_ONLY = ErrorReply("ERR Write commands are not allowed from read-only scripts.")
WRITE_ON_RO = ErrorReply("ERR Can not execute a script with write flag using *_ro command.")
OK = SimpleString("OK")

HELP = (
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
)


Parsed = tuple[bytes, list[bytes], list[bytes], bytes | None]
_Checked = tuple[list[bytes], list[bytes], Parsed]


def parse_eval(args: Args) -> Parsed | ErrorReply:
    """`<script> [acl <rules>] <numkeys> <key...> <arg...>` -> (script, keys, args, the
    caller's ACL rules or None: scripting/permissions.py)."""
    rules = None
    if len(args) > 3 and args[1] == MARK:
        rules, args = args[2], (args[0], *args[3:])
    numkeys = parse_int(args[1])
    if numkeys is None:
        return NOT_INTEGER
    if numkeys < 0:
        return ErrorReply("ERR Number of keys can't be negative")
    if numkeys > len(args) - 2:
        return ErrorReply("ERR Number of keys can't be greater than number of args")
    return args[0], list(args[2 : 2 + numkeys]), list(args[2 + numkeys :]), rules


def _executor(
    view: KeyView, writable: bool, rules: bytes | None = None
) -> Callable[[list[bytes]], Reply]:
    permissions = None if rules is None else permissions_of(rules)

    def execute(argv: list[bytes]) -> Reply:
        spec = lookup(argv[0])
        if spec is None:
            return UNKNOWN
        name = spec.name.encode()
        if "noscript" in spec.flags or (name not in READS and name not in WRITES):
            return NOT_ALLOWED
        if not spec.arity_ok(len(argv)):
            return WRONG_ARGS
        if permissions is not None and (refused := refusal(permissions, spec, argv)):
            return refused
        write = WRITES.get(name)
        if write is not None:
            if not writable:
                return READ_ONLY
            return write.execute(cast(WritableView, view), tuple(argv[1:]))
        return READS[name].execute(view, tuple(argv[1:]))

    return execute


@attrs.frozen(slots=True)
class ScriptCall:
    """One run of a script (by SHA1) or of a library's function."""

    target: str | FunctionDef
    keys: list[bytes]
    args: list[bytes]
    # For FUNCTION STATS / SCRIPT KILL: the function's name (or the SHA1) and the command.
    name: str
    argv: list[bytes] | None
    # The caller's ACL rules its calls obey (None: unchecked; scripting/permissions.py).
    rules: bytes | None = None


def run_at_apply(view: WritableView, call: ScriptCall, *, writable: bool) -> Reply:
    """Run `call` at apply: the same instruction budget on every node."""
    execute = _executor(view, writable, call.rules)
    return runtime().call(call.target, call.keys, call.args, execute, MAX_INSTRUCTIONS)


def apply_eval(view: WritableView, parsed: Parsed) -> Reply:
    body, keys, args, rules = parsed
    scripts = runtime()
    try:
        sha = scripts.load(body)
    except ScriptError as exc:
        return ErrorReply(str(exc))
    # `#!lua flags=no-writes`: a read-only script, even through EVAL.
    writable = not scripts.flags(sha).read_only
    call = ScriptCall(sha, keys, args, sha, None, rules)
    return run_at_apply(view, call, writable=writable)


def apply_script_load(view: WritableView, args: Args) -> Reply:
    try:
        return runtime().load(args[0]).encode()
    except ScriptError as exc:
        return ErrorReply(str(exc))


def apply_script_flush(view: WritableView, args: Args) -> Reply:
    runtime().flush()
    return OK


# -- the command layer --------------------------------------------------------------------
def _resolve(argv: list[bytes]) -> list[bytes] | ErrorReply:
    """EVAL's arguments for EVAL and EVALSHA (the body from the cache): `[body, numkeys, ...]`."""
    if argv[0].lower() in (b"eval", b"eval_ro"):
        return argv[1:]
    body = runtime().body(argv[1].decode(errors="replace"))
    return NOSCRIPT if body is None else [body, *argv[2:]]


def _checked(ctx: CommandContext, argv: list[bytes]) -> _Checked | ErrorReply:
    """An EVAL-family request made ready to run: (its arguments carrying the caller's rules,
    those with the body in place of a SHA1, the parsed call), or the error to answer."""
    carried = with_rules(ctx, argv)
    if isinstance(carried, ErrorReply):
        return carried
    resolved = _resolve(carried)
    if isinstance(resolved, ErrorReply):
        return resolved
    parsed = parse_eval(tuple(resolved))
    if isinstance(parsed, ErrorReply):
        return parsed
    return carried, resolved, parsed


def build_eval(ctx: CommandContext, argv: list[bytes]) -> Operation | ErrorReply:
    checked = _checked(ctx, argv)
    if isinstance(checked, ErrorReply):
        return checked
    resolved = checked[1]
    try:
        runtime().load(resolved[0])  # a script that does not compile never reaches the log
    except ScriptError as exc:
        return ErrorReply(str(exc))
    return operation(ctx, ((b"eval", *resolved),))


async def eval_ro(ctx: CommandContext, argv: list[bytes]) -> Reply:
    checked = _checked(ctx, argv)
    if isinstance(checked, ErrorReply):
        return checked
    carried, _, parsed = checked
    group = ctx.group
    if group is None:  # a script without keys on a node with several data groups
        return NO_GROUP
    scripts = runtime()
    try:
        sha = scripts.load(parsed[0])
    except ScriptError as exc:
        return ErrorReply(str(exc))
    flags = scripts.flags(sha)
    if not flags.compat and not flags.read_only:
        return WRITE_ON_RO
    call = ScriptCall(sha, parsed[1], parsed[2], sha, carried, parsed[3])
    return await run_read_only(ctx, group, call)


async def run_read_only(ctx: CommandContext, group: GroupBackend, call: ScriptCall) -> Reply:
    """Run a read-only script or function here after the read barrier, as this node's
    running script (scripting/node.py: it pauses, others get BUSY past the threshold, SCRIPT
    KILL ends it). One that meets a key only the leader may judge (an expiry, on a
    follower) runs on the leader instead."""
    await ctx.read_barrier()
    view = ReadView(group, ctx.backend.now_ms(), may_judge_expiry=group.is_leader())
    asked: list[MustAskLeader] = []
    inner = _executor(view, writable=False, rules=call.rules)

    def execute(command: list[bytes]) -> Reply:
        try:
            return inner(command)
        except MustAskLeader as exc:
            asked.append(exc)
            raise

    scripts = runtime()
    reply = await ctx.backend.scripting.run(
        scripts,
        scripts.start(call.target, call.keys, call.args, execute),
        name=call.name,
        argv=call.argv or [],
        is_function=isinstance(call.target, FunctionDef),
    )
    if asked:  # a key with an expiry on a follower: only the leader may run it
        if ctx.client.forwarded:
            return MOVED_DURING_READ
        assert call.argv is not None
        return RawReplies(await group.forward([call.argv], ctx.client.protocol, alone=True), 1)
    return reply


async def _replicate(ctx: CommandContext, argv: list[bytes], op: Operation) -> Reply:
    """Apply `op` in every data group (the cache is the node's, and a script may run in any
    group); a forwarded request applies it in the group it was routed to."""
    if ctx.client.forwarded:
        return await replicate_in(ctx, ctx.data_group(), argv, op)
    reply: Reply = OK
    for group in ctx.backend.data_groups():
        reply = await replicate_in(ctx, group, argv, op)
        if isinstance(reply, ErrorReply):
            break
    return reply


async def replicate_in(
    ctx: CommandContext, group: GroupBackend, argv: list[bytes], op: Operation
) -> Reply:
    """Propose `op` in `group` here if this node leads it; otherwise have its leader run
    `argv`."""
    if ctx.client.forwarded or not group.leader_is_remote():
        try:
            replies = await group.submit(op)
        except NotLeaderError:
            if ctx.client.forwarded:
                return ErrorReply("TRYAGAIN leadership moved while the request was forwarded")
        except ServiceError as exc:
            return ErrorReply(exc.message)
        else:
            return replies[0]
    try:
        return RawReplies(await group.forward([argv], ctx.client.protocol, alone=True), 1)
    except ServiceError as exc:
        return ErrorReply(exc.message)


async def script(ctx: CommandContext, argv: list[bytes]) -> Reply:
    sub = argv[1].lower()
    n = len(argv)
    scripts = runtime()
    if sub == b"load" and n == 3:
        try:
            scripts.load(argv[2])
        except ScriptError as exc:
            return ErrorReply(str(exc))
        return await _replicate(ctx, argv, operation(ctx, ((b"script-load", argv[2]),)))
    if sub == b"exists" and n >= 3:
        return [int(scripts.exists(sha.decode(errors="replace"))) for sha in argv[2:]]
    if sub == b"flush" and n <= 3:
        if n == 3 and argv[2].lower() not in (b"async", b"sync"):
            return ErrorReply("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
        return await _replicate(ctx, argv, operation(ctx, ((b"script-flush",),)))
    if sub == b"kill" and n == 2:
        return ctx.backend.scripting.kill(scripts, function=False)
    if sub == b"help" and n == 2:
        return [SimpleString(line) for line in HELP]
    if sub in (b"load", b"exists", b"flush", b"kill", b"help"):
        return wrong_arity(f"script|{sub.decode()}")
    return ErrorReply(
        f"ERR unknown subcommand '{argv[1].decode(errors='replace')}'. Try SCRIPT HELP."
    )


def script_keys(flags: KeyFlags) -> Callable[[list[bytes]], list[tuple[int, KeyFlags]]]:
    """EVAL's keys: the `numkeys` arguments after it (none when it is not a number)."""

    def keys(argv: list[bytes]) -> list[tuple[int, KeyFlags]]:
        at = 4 if carries_rules(argv) else 2  # numkeys, after the caller's rules if any
        numkeys = parse_int(argv[at]) if len(argv) > at else None
        if numkeys is None or numkeys < 0:
            return []
        return [(pos, flags) for pos in range(at + 1, min(at + 1 + numkeys, len(argv)))]

    return keys


# Internal apply-time commands: their table rows are below (EVAL) or SCRIPT's.
registry.write("eval", parse_eval, apply_eval, None)
registry.write("script-load", registry.args_as_is, apply_script_load, None)
registry.write("script-flush", registry.args_as_is, apply_script_flush, None)

_EVAL = "noscript stale skip_monitor no_mandatory_keys movablekeys"
register(
    CommandSpec("eval", -3, frozenset(_EVAL.split()), 0, 0, 0, "scripting",
                "Executes a server-side Lua script.", "2.6.0",
                "Depends on the script that is executed.", build=build_eval,
                keys_proc=script_keys(WRITE_KEY), caller_form=caller_form),
    CommandSpec("evalsha", -3, frozenset(_EVAL.split()), 0, 0, 0, "scripting",
                "Executes a server-side Lua script by SHA1 digest.", "2.6.0",
                "Depends on the script that is executed.", build=build_eval,
                keys_proc=script_keys(WRITE_KEY), caller_form=caller_form),
    CommandSpec("eval_ro", -3, frozenset(("readonly " + _EVAL).split()), 0, 0, 0, "scripting",
                "Executes a read-only server-side Lua script.", "7.0.0",
                "Depends on the script that is executed.", run=eval_ro,
                keys_proc=script_keys(READ_KEY)),
    CommandSpec("evalsha_ro", -3, frozenset(("readonly " + _EVAL).split()), 0, 0, 0,
                "scripting", "Executes a read-only server-side Lua script by SHA1 digest.",
                "7.0.0", "Depends on the script that is executed.", run=eval_ro,
                keys_proc=script_keys(READ_KEY)),
    CommandSpec("script", -2, frozenset(), 0, 0, 0, "scripting",
                "A container for Lua scripts management commands.", "2.6.0",
                "Depends on subcommand.", run=script, subcommands=(
                    subcommand("load", 3, "noscript stale"),
                    subcommand("exists", -3, "noscript"),
                    subcommand("flush", -2, "noscript"),
                    subcommand("kill", 2, "noscript allow_busy"),
                    subcommand("help", 2, "loading stale"),
                )),
)  # fmt: skip
