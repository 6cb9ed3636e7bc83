"""FUNCTION (LOAD, LIST, DELETE, FLUSH, DUMP, RESTORE, KILL, STATS, HELP), FCALL, FCALL_RO.

Libraries are cluster state (scripting/functions.py): FUNCTION LOAD/DELETE/FLUSH/RESTORE
go through the system group from any node; LIST, DUMP and STATS answer from this node's
view after a system-group read barrier, so they see every change acknowledged before.

FCALL of a function that may write is ONE data-group write, `fcall-lib <library code>
<function> <caller's ACL rules> <numkeys> <keys...> <args...>`: the library travels in the
entry, so every node runs the same code at apply (as EVALSHA sends its script). Every FCALL
first passes a system-group read barrier, so it sees the libraries as of its arrival;
FCALL_RO, and FCALL of a function flagged `no-writes`, then run on the node they are sent
to, as EVAL_RO does (scripting/commands.py). A restricted caller's ACL rules
travel with the call as EVAL's do (scripting/permissions.py).
"""

from __future__ import annotations

from seshat_trio.commands.context import CommandContext
from seshat_trio.commands.data import NO_GROUP, operation
from seshat_trio.commands.table import (
    READ_KEY,
    WRITE_KEY,
    CommandSpec,
    register,
    subcommand,
    wrong_arity,
)
from seshat_trio.glob import stringmatch
from seshat_trio.kv import registry
from seshat_trio.kv.parsing import parse_int
from seshat_trio.kv.registry import Args
from seshat_trio.kv.view import WritableView
from seshat_trio.protocol import ErrorReply, OrderedSet, Reply, SimpleString
from seshat_trio.scripting import dump as payloads
from seshat_trio.scripting.commands import (
    ScriptCall,
    replicate_in,
    run_at_apply,
    run_read_only,
    script_keys,
)
from seshat_trio.scripting.flags import NO_WRITES
from seshat_trio.scripting.functions import (
    ENGINE,
    FunctionInfo,
    LibraryInfo,
    encode_delete,
    encode_flush,
    encode_load,
    encode_restore,
    parse_header,
)
from seshat_trio.scripting.node import BUSY_EVAL
from seshat_trio.scripting.permissions import caller_form, carries_rules, with_rules
from seshat_trio.scripting.runtime import ScriptError, runtime
from seshat_trio.system import OperationRefused

NOT_FOUND = ErrorReply("ERR Function not found")
WRITE_ON_RO = ErrorReply("ERR Can not execute a script with write flag using *_ro command.")

HELP = (
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored "
    "using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a "
    "restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, "
    "replace the old",
    "      libraries with the new libraries (notice that even on this option there is a "
    "chance of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
)


def _syntax(sub: str) -> ErrorReply:
    return ErrorReply(
        f"ERR unknown subcommand or wrong number of arguments for '{sub}'. Try FUNCTION HELP."
    )


async def _change(ctx: CommandContext, op: bytes, argv: list[bytes]) -> Reply:
    return await ctx.backend.change_system(op, argv, forwarded=ctx.client.forwarded)


async def _load(ctx: CommandContext, argv: list[bytes]) -> Reply:
    replace = False
    pos = 2
    while pos < len(argv) - 1:
        option = argv[pos]
        pos += 1
        if option.lower() == b"replace":
            replace = True
            continue
        return ErrorReply(f"ERR Unknown option given: {option.decode(errors='replace')}")
    code = argv[pos]
    limit = ctx.config.limits.max_value_bytes
    if len(code) > limit:
        return ErrorReply(f"ERR value too large (max {limit} bytes)")
    try:  # refuse what cannot load before it reaches the log (the apply checks again)
        parse_header(code)
    except OperationRefused as exc:
        return ErrorReply(str(exc))
    return await _change(ctx, encode_load(code, replace), argv)


def _library_reply(library: LibraryInfo, with_code: bool) -> dict[bytes, Reply]:
    reply: dict[bytes, Reply] = {
        b"library_name": library.name.encode(),
        b"engine": ENGINE.encode(),
        b"functions": [_function_reply(function) for function in library.functions],
    }
    if with_code:
        reply[b"library_code"] = library.code
    return reply


def _function_reply(function: FunctionInfo) -> dict[bytes, Reply]:
    return {
        b"name": function.name.encode(),
        b"description": None if function.description is None else function.description.encode(),
        b"flags": OrderedSet(SimpleString(name) for name in function.flags),
    }


async def _list(ctx: CommandContext, argv: list[bytes]) -> Reply:
    with_code = False
    pattern: bytes | None = None
    pos = 2
    while pos < len(argv):
        arg = argv[pos]
        if not with_code and arg.lower() == b"withcode":
            with_code = True
        elif pattern is None and arg.lower() == b"libraryname":
            if pos >= len(argv) - 1:
                return ErrorReply("ERR library name argument was not given")
            pos += 1
            pattern = argv[pos]
        else:
            return ErrorReply(f"ERR Unknown argument {arg.decode(errors='replace')}")
        pos += 1
    await ctx.backend.system_read_barrier()
    libraries = ctx.backend.scripting.functions.libraries
    return [
        _library_reply(library, with_code)
        for name, library in sorted(libraries.items())
        if pattern is None or stringmatch(pattern, name.encode(), nocase=True)
    ]


async def _restore(ctx: CommandContext, argv: list[bytes]) -> Reply:
    if len(argv) > 4:
        return _syntax("restore")
    policy = "append"
    if len(argv) == 4:
        policy = argv[3].decode(errors="replace").lower()
        if policy not in ("flush", "append", "replace"):
            return ErrorReply(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."
            )
    payload = argv[2]
    if not payloads.verify(payload):
        return ErrorReply(payloads.BAD_PAYLOAD)
    try:
        codes = payloads.restore(payload)
    except payloads.PayloadError as exc:
        return ErrorReply(f"ERR {exc}")
    return await _change(ctx, encode_restore(codes, policy), argv)


async def _stats(ctx: CommandContext) -> Reply:
    scripting = ctx.backend.scripting
    if scripting.running is not None and not scripting.running.is_function:
        return BUSY_EVAL  # as Redis answers while an EVAL runs
    await ctx.backend.system_read_barrier()  # the counts see every acknowledged change
    view = scripting.functions
    return {
        b"running_script": scripting.running_function(),
        b"engines": {
            ENGINE.encode(): {
                b"libraries_count": len(view.libraries),
                b"functions_count": view.function_count(),
            }
        },
    }


async def function(ctx: CommandContext, argv: list[bytes]) -> Reply:
    sub = argv[1].lower().decode(errors="replace")
    n = len(argv)
    if sub == "load" and n >= 3:
        return await _load(ctx, argv)
    if sub == "delete" and n == 3:
        name = argv[2].decode(errors="replace")
        return await _change(ctx, encode_delete(name), argv)
    if sub == "flush" and n >= 2:
        if n > 3:
            return _syntax("flush")
        if n == 3 and argv[2].lower() not in (b"async", b"sync"):
            return ErrorReply("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
        return await _change(ctx, encode_flush(), argv)
    if sub == "list" and n >= 2:
        return await _list(ctx, argv)
    if sub == "dump" and n == 2:
        await ctx.backend.system_read_barrier()
        libraries = ctx.backend.scripting.functions.libraries
        return payloads.dump(library.code for _, library in sorted(libraries.items()))
    if sub == "restore" and n >= 3:
        return await _restore(ctx, argv)
    if sub == "kill" and n == 2:
        return ctx.backend.scripting.kill(runtime(), function=True)
    if sub == "stats" and n == 2:
        return await _stats(ctx)
    if sub == "help" and n == 2:
        return [SimpleString(line) for line in HELP]
    if sub in ("load", "delete", "flush", "list", "dump", "restore", "kill", "stats", "help"):
        return wrong_arity(f"function|{sub}")
    return ErrorReply(
        f"ERR unknown subcommand '{argv[1].decode(errors='replace')}'. Try FUNCTION HELP."
    )


def _parse_keys(argv: list[bytes]) -> tuple[list[bytes], list[bytes]] | ErrorReply:
    numkeys = parse_int(argv[2])
    if numkeys is None:
        return ErrorReply("ERR Bad number of keys provided")
    if numkeys > len(argv) - 3:
        return ErrorReply("ERR Number of keys can't be greater than number of args")
    if numkeys < 0:
        return ErrorReply("ERR Number of keys can't be negative")
    return list(argv[3 : 3 + numkeys]), list(argv[3 + numkeys :])


async def fcall(ctx: CommandContext, argv: list[bytes]) -> Reply:
    carried = with_rules(ctx, argv)  # a restricted caller's rules travel with the call
    if isinstance(carried, ErrorReply):
        return carried
    rules = carried[3] if carries_rules(carried) else None
    if rules is not None:
        argv = [*carried[:2], *carried[4:]]
    read_only = argv[0].lower() == b"fcall_ro"
    # Libraries change through the system group: once this node has caught up with it, a
    # library loaded, replaced or deleted before this call was acknowledged is seen as such
    # (looking first and waiting only when missing would run a deleted function).
    await ctx.backend.system_read_barrier()
    found = ctx.backend.scripting.functions.find(argv[1])
    if found is None:
        return NOT_FOUND
    library, info = found
    parsed = _parse_keys(argv)
    if isinstance(parsed, ErrorReply):
        return parsed
    no_writes = NO_WRITES in info.flags
    if read_only and not no_writes:
        return WRITE_ON_RO
    group = ctx.group
    if group is None:  # no keys on a node with several data groups
        return NO_GROUP
    if read_only or no_writes:
        try:
            compiled = runtime().library(parse_header(library.code), library.code)
        except (ScriptError, OperationRefused) as exc:
            return ErrorReply(str(exc))
        function_def = compiled.find(info.name)
        if function_def is None:
            return NOT_FOUND
        call = ScriptCall(function_def, parsed[0], parsed[1], info.name, carried, rules)
        return await run_read_only(ctx, group, call)
    entry = (FCALL_OP, library.code, info.name.encode(), rules or b"", *argv[2:])
    return await replicate_in(ctx, group, carried, operation(ctx, (entry,)))


def apply_fcall(view: WritableView, args: Args) -> Reply:
    """`fcall-lib <code> <function> <caller's rules or ""> <numkeys> ...` at apply, on every
    node alike."""
    code, name, rules = args[0], args[1].decode(errors="replace"), args[2] or None
    args = (args[1], *args[3:])
    try:
        library = runtime().library(parse_header(code), code)
    except (ScriptError, OperationRefused) as exc:
        return ErrorReply(str(exc))
    function_def = library.find(name)
    if function_def is None:
        return NOT_FOUND
    parsed = _parse_keys([b"fcall", *args])
    if isinstance(parsed, ErrorReply):
        return parsed
    call = ScriptCall(function_def, parsed[0], parsed[1], function_def.name, None, rules)
    return run_at_apply(view, call, writable=NO_WRITES not in function_def.flags)


# Not "fcall": a client's FCALL names a function, the entry carries its library.
FCALL_OP = b"fcall-lib"
registry.write(FCALL_OP.decode(), registry.args_as_is, apply_fcall, None)

_FCALL = "noscript stale skip_monitor no_mandatory_keys movablekeys"
register(
    CommandSpec("fcall", -3, frozenset(_FCALL.split()), 0, 0, 0, "scripting",
                "Invoke a function", "7.0.0", "Depends on the function that is executed.",
                run=fcall, keys_proc=script_keys(WRITE_KEY), caller_form=caller_form),
    CommandSpec("fcall_ro", -3, frozenset(("readonly " + _FCALL).split()), 0, 0, 0,
                "scripting", "Invoke a read-only function", "7.0.0",
                "Depends on the function that is executed.", run=fcall,
                keys_proc=script_keys(READ_KEY), caller_form=caller_form),
    CommandSpec("function", -2, frozenset(), 0, 0, 0, "scripting",
                "A container for function commands.", "7.0.0", "Depends on subcommand.",
                run=function, subcommands=(
                    subcommand("load", -3, "write denyoom noscript"),
                    subcommand("delete", 3, "write noscript"),
                    subcommand("flush", -2, "write noscript"),
                    subcommand("list", -2, "noscript"),
                    subcommand("dump", 2, "noscript"),
                    subcommand("restore", -3, "write denyoom noscript"),
                    subcommand("kill", 2, "noscript allow_busy"),
                    subcommand("stats", 2, "noscript allow_busy"),
                    subcommand("help", 2, "loading stale"),
                )),
)  # fmt: skip
