"""The Lua 5.1 runtime scripts run in (lupa's `lua51`: PUC Lua 5.1, as Redis embeds), its
script cache, and the conversions between Lua values and replies (Redis 7.0's rules).

One runtime per process (Redis has one per server); the sandbox is prelude.lua. A script
runs to its end synchronously, with an instruction budget counted by a Lua count hook, so
a runaway script is aborted after the same number of instructions on every node (wall time
would differ). Every `redis.call` counts `CALL_COST` instructions as well: a script that
spends its time in commands is bounded too. The hook also aborts a read-only script that
SCRIPT KILL (or the busy deadline) has marked.

Determinism: math.random restarts Redis's rand48 sequence for every script; there is no
clock, os, io or file access; the commands a script calls see the operation's time.
"""

from __future__ import annotations

import contextvars
import hashlib
import importlib.resources
import logging
import time
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from typing import Any, cast

import attrs
import greenlet
from lupa import lua51

from seshat_trio.protocol import (
    BigNumber,
    ErrorReply,
    NullArray,
    Pairs,
    Push,
    RawReplies,
    Reply,
    SimpleString,
    Verbatim,
)
from seshat_trio.scripting import luabit, luajson, luamsgpack, luastruct
from seshat_trio.scripting.flags import COMPAT, LibraryHeader, ScriptFlags, ShebangError, eval_flags

REDIS_VERSION = "7.0.0"
REDIS_VERSION_NUM = 0x070000
BUDGET_STEP = 10_000
CALL_COST = 1_000
# The default bound of a script, in Lua VM instructions (about 0.3 s on the reference
# machine): far below an election timeout, so a runaway write script cannot stall a node's
# Raft traffic long enough to depose its leader.
MAX_INSTRUCTIONS = 50_000_000
ABORTED = "ERR Script exceeded the instruction limit of {limit} and was aborted"
KILLED = "ERR Script killed by user with SCRIPT KILL..."
CALL_ERROR = b"\x00redis-error\x00"  # marks a command's error raised by redis.call
NO_ARGUMENTS = "ERR Please specify at least one argument for this redis lib call"
BAD_ARGUMENT = "ERR Lua redis lib command arguments must be strings or integers"


MAX_REPLY_DEPTH = 100
STACK_LIMIT = ErrorReply("ERR reached lua stack limit")
_NOT_SPECIAL: Any = object()


class _CallError(Exception):
    """A command's error inside redis.call: Lua sees CALL_ERROR + the error text."""


log = logging.getLogger("seshat_trio.scripting")
_LOG_LEVELS = (logging.DEBUG, logging.INFO, logging.INFO, logging.WARNING)

# A command a script calls: argv in, reply out (the caller checks the command may run).
Executor = Callable[[list[bytes]], Reply]


def sha1hex(body: bytes) -> str:
    return hashlib.sha1(body).hexdigest()


class Rand48:
    """Redis's redisLrand48 (rand.c), restarted from its initial state for every script."""

    def __init__(self) -> None:
        self.state = 0x1234ABCD330E

    def seed(self, value: int) -> None:
        self.state = ((value & 0xFFFFFFFF) << 16) | 0x330E

    def next31(self) -> int:
        self.state = (self.state * 0x5DEECE66D + 0xB) & 0xFFFFFFFFFFFF
        return self.state >> 17

    def random(self, *bounds: float) -> float:
        int32_max = 0x7FFFFFFF
        r = (self.next31() % int32_max) / int32_max
        if not bounds:
            return r
        low, high = (1, int(bounds[0])) if len(bounds) == 1 else (int(bounds[0]), int(bounds[1]))
        return float(int(r * (high - low + 1)) + low)


# A read-only script pauses (lets the node's other tasks run) after this much of its time.
SLICE_S = 0.01


@attrs.define(slots=True)
class _Run:
    """What the host callbacks need while one script runs."""

    execute: Executor
    limit: int | None  # instructions (None: unbounded, a read-only script SCRIPT KILL ends)
    resp: int = 2
    killed: bool = False
    used: int = 0
    rand: Rand48 = attrs.field(factory=Rand48)
    # A resumable run's greenlet (pauses at its count hook every SLICE_S); None otherwise.
    task: greenlet.greenlet | None = None
    slice_start: float = 0.0


class ScriptError(Exception):
    """A script that does not compile: Redis's error reply text."""


@attrs.frozen(slots=True)
class FunctionDef:
    """A function a library registered (redis.register_function)."""

    name: str
    flags: frozenset[str]
    description: str | None
    callback: Any = attrs.field(eq=False, repr=False)


@attrs.frozen(slots=True)
class Library:
    """A loaded function library: its functions in registration order."""

    name: str
    code: bytes
    functions: tuple[FunctionDef, ...]

    def find(self, name: str) -> FunctionDef | None:
        """The function `name` (case-insensitive, as Redis looks functions up)."""
        wanted = name.lower()
        for function in self.functions:
            if function.name.lower() == wanted:
                return function
        return None


# Libraries kept compiled (by code) beyond those in use; one is compiled again when needed.
LIBRARY_CACHE = 256


class ScriptRuntime:
    def __init__(self) -> None:
        self._lua = lua51.LuaRuntime(
            encoding=None,
            register_eval=False,
            register_builtins=False,
            unpack_returned_tuples=True,
            attribute_filter=_no_attributes,
        )
        self._run: _Run | None = None
        prelude = importlib.resources.files(__package__).joinpath("prelude.lua").read_bytes()
        host = self._lua.table_from(
            {
                b"version": REDIS_VERSION.encode(),
                b"version_num": REDIS_VERSION_NUM,
                b"budget_step": BUDGET_STEP,
                b"call": self._call,
                b"pcall": self._pcall,
                b"call_error": CALL_ERROR,
                b"error_table": self._error_table,
                b"sha1hex": lambda text: sha1hex(text).encode(),
                b"log": _log,
                b"setresp": self._setresp,
                b"tick": self._tick,
                b"abort_message": self._abort_message,
                b"random": self._random,
                b"randomseed": self._randomseed,
                b"bit": self._lua.table_from(luabit.FUNCTIONS),
                b"cjson": self._lua.table_from(luajson.functions(self._lua)),
                b"cmsgpack": self._library(luamsgpack.functions(self._lua)),
                b"struct": self._library(luastruct.FUNCTIONS),
            }
        )
        self._compile, self._execute, self._load_library, self._where = self._lua.execute(
            prelude, host
        )
        self._rawget = self._lua.eval("rawget")
        self._scripts: dict[str, Any] = {}  # sha1 -> compiled function
        self._bodies: dict[str, bytes] = {}  # sha1 -> script
        self._flags: dict[str, ScriptFlags] = {}  # sha1 -> its shebang's flags
        self._libraries: dict[str, Library] = {}  # sha1 of the code -> library (LRU order)

    # -- the cache ------------------------------------------------------------------------
    def load(self, body: bytes) -> str:
        """Compile and cache `body`; its SHA1. ScriptError if it does not compile (or its
        shebang line is refused)."""
        sha = sha1hex(body)
        if sha not in self._scripts:
            self._scripts[sha], self._flags[sha] = self._compiled(body)
            self._bodies[sha] = body
        return sha

    def _compiled(self, body: bytes) -> tuple[Any, ScriptFlags]:
        try:
            flags, skip = eval_flags(body)
        except ShebangError as exc:
            raise ScriptError(f"ERR {exc}") from None
        compiled = self._compile(body[skip:])
        fn, error = compiled if isinstance(compiled, tuple) else (compiled, None)
        if fn is None:
            message = error.decode(errors="replace") if isinstance(error, bytes) else error
            raise ScriptError(f"ERR Error compiling script (new function): {message}")
        return fn, flags

    def body(self, sha: str) -> bytes | None:
        return self._bodies.get(sha.lower())

    def flags(self, sha: str) -> ScriptFlags:
        """The flags of cached script `sha` (compatibility mode when it has no shebang)."""
        return self._flags.get(sha.lower(), COMPAT)

    def library(
        self, header: LibraryHeader, code: bytes, budget: int = MAX_INSTRUCTIONS
    ) -> Library:
        """Run library `code` (its parsed `header`) to collect the functions it registers;
        ScriptError with Redis's text when it fails. Kept by code, so a node loads a
        library once however many operations carry it."""
        sha = sha1hex(code)
        library = self._libraries.pop(sha, None)
        if library is None:
            loaded = self._load_library(header.body, budget)
            registered, error = loaded if isinstance(loaded, tuple) else (loaded, None)
            if registered is None:
                message = error.decode(errors="replace") if isinstance(error, bytes) else error
                raise ScriptError(f"ERR {message}")
            library = Library(header.name, code, tuple(_functions(registered)))
        self._libraries[sha] = library  # most recently used last
        if len(self._libraries) > LIBRARY_CACHE:
            del self._libraries[next(iter(self._libraries))]
        return library

    def exists(self, sha: str) -> bool:
        return sha.lower() in self._scripts

    def flush(self) -> None:
        self._scripts.clear()
        self._bodies.clear()
        self._flags.clear()

    def _random(self, *bounds: float) -> float:
        return self._current().rand.random(*bounds)

    def _randomseed(self, value: float) -> None:
        self._current().rand.seed(int(value))

    def _current(self) -> _Run:
        run = self._run
        assert run is not None, "a host callback ran outside a script"
        return run

    def _library(self, functions: Mapping[bytes, Any]) -> Any:
        """A library implemented in Python: its errors name where the script called it, as
        a C library's do."""

        def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
            def call(*args: Any) -> Any:
                try:
                    return fn(*args)
                except luamsgpack.LibraryError as exc:
                    where = self._where().decode(errors="replace")
                    raise luamsgpack.LibraryError(where + str(exc)) from None

            return call

        return self._lua.table_from(
            {name: guarded(fn) if callable(fn) else fn for name, fn in functions.items()}
        )

    # -- running ----------------------------------------------------------------------------
    def call(
        self,
        target: str | FunctionDef,
        keys: list[bytes],
        args: list[bytes],
        execute: Executor,
        limit: int = MAX_INSTRUCTIONS,
    ) -> Reply:
        """Run cached script `target` (a SHA1: callers load it first) or library function
        `target`; its reply."""
        if isinstance(target, FunctionDef):
            fn, is_function, label = target.callback, True, target.name
        else:
            fn, is_function, label = self._scripts[target], False, target
        return self._invoke(
            fn, keys, args, execute, limit=limit, is_function=is_function, label=label
        )

    def start(
        self, target: str | FunctionDef, keys: list[bytes], args: list[bytes], execute: Executor
    ) -> ResumableRun:
        """A read-only run of cached script (SHA1) or function `target` that pauses every
        SLICE_S of its time (`ResumableRun.step`), with no instruction bound: it ends, or
        SCRIPT KILL / FUNCTION KILL end it. It runs in a Lua coroutine of its own (its count
        hook is that thread's) inside a greenlet, so other scripts may run while it pauses;
        a script gets a fresh compiled function so that no other run's environment mixes
        with its own."""
        if isinstance(target, FunctionDef):
            fn, is_function, label = target.callback, True, target.name
        else:
            fn, is_function, label = self._compiled(self._bodies[target])[0], False, target
        thread = self._execute.coroutine(
            fn, self._lua.table_from(keys), self._lua.table_from(args), is_function
        )
        run = _Run(execute, None)
        run.task = greenlet.greenlet(lambda: thread.send(None))
        run.task.gr_context = contextvars.copy_context()  # the node's log fields
        return ResumableRun(self, run, label)

    def _invoke(
        self,
        fn: Any,
        keys: list[bytes],
        args: list[bytes],
        execute: Executor,
        *,
        limit: int,
        is_function: bool,
        label: str,
    ) -> Reply:
        previous, run = self._run, _Run(execute, limit)
        self._run = run
        try:
            ok, value = self._execute(
                fn, self._lua.table_from(keys), self._lua.table_from(args), is_function
            )
        finally:
            self._run = previous
        return self._result(run, ok, value, label)

    def _result(self, run: _Run, ok: Any, value: Any, label: str) -> Reply:
        if ok:
            return self.to_reply(value, run.resp)
        return _error_of(value, label)

    # -- host callbacks -----------------------------------------------------------------------
    def _call(self, *args: Any) -> Any:
        ok, value = self._command(args)
        if not ok:
            raise _CallError((CALL_ERROR + value).decode("utf-8", "surrogateescape"))
        return value

    def _pcall(self, *args: Any) -> Any:
        ok, value = self._command(args)
        return value if ok else self._lua.table_from({b"err": value})

    def _command(self, args: tuple[Any, ...]) -> tuple[bool, Any]:
        """Run one command for redis.call/pcall: (True, its Lua value) or (False, the
        error text)."""
        run = self._run
        assert run is not None
        if not args:
            return False, NO_ARGUMENTS.encode()
        if not all(isinstance(a, bytes | int | float) and not isinstance(a, bool) for a in args):
            return False, BAD_ARGUMENT.encode()
        run.used += CALL_COST
        reply = run.execute([_argument(arg) for arg in args])
        if isinstance(reply, ErrorReply):
            return False, _error_text("-" + reply.text).encode()
        return True, self.to_lua(reply, run.resp)

    def _error_table(self, message: bytes) -> Any:
        text = message.decode(errors="replace")
        text = text if text.startswith("-") else "-" + text
        return self._lua.table_from({b"err": _error_text(text).encode()})

    def _tick(self) -> bool:
        """Every BUDGET_STEP instructions: whether the script must be aborted now. A
        resumable run pauses here once its slice is spent (its greenlet's parent resumes)."""
        run = self._current()
        run.used += BUDGET_STEP
        paused = run.task is not None and not run.killed
        if paused and time.monotonic() - run.slice_start >= SLICE_S:
            assert run.task is not None
            run.task.parent.switch()
        return (run.limit is not None and run.used > run.limit) or run.killed

    def _setresp(self, version: int) -> None:
        if self._run is not None:
            self._run.resp = int(version)

    def _abort_message(self) -> bytes:
        run = self._run
        if run is not None and run.killed:
            return KILLED.encode()
        return ABORTED.format(limit=run.limit if run is not None else 0).encode()

    def kill_run(self, run: ResumableRun) -> None:
        """Mark `run` to be aborted at its next hook (it must be stepped to end)."""
        run.run.killed = True

    def to_reply(self, value: Any, resp: int = 2, depth: int = 0) -> Reply:
        """A script's return value as a reply (Redis 7.0's conversion; tables are read raw,
        so a metatable cannot run code here)."""
        if depth > MAX_REPLY_DEPTH:
            return STACK_LIMIT  # a table that contains itself, or nests absurdly deep
        if value is None:
            return None
        if isinstance(value, bool):
            return 1 if value else None
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            # Truncated, as Redis casts a Lua number to a long long (x86: out of range and
            # NaN become the smallest one).
            return int(value) if -(2**63) <= value < 2**63 else -(2**63)
        if isinstance(value, bytes):
            return value
        if lua51.lua_type(value) != "table":
            return None  # functions, userdata: nil, as in Redis
        err = self._rawget(value, b"err")
        if isinstance(err, bytes):
            return ErrorReply(err.decode(errors="replace"))
        ok = self._rawget(value, b"ok")
        if isinstance(ok, bytes):
            return SimpleString(ok.decode(errors="replace"))
        if resp == 3:
            special = self._resp3_reply(value)
            if special is not _NOT_SPECIAL:
                return cast(Reply, special)
        items: list[Reply] = []
        index = 1
        while (item := self._rawget(value, index)) is not None:
            items.append(self.to_reply(item, resp, depth + 1))
            index += 1
        return items

    def _resp3_reply(self, value: Any) -> Any:
        double = self._rawget(value, b"double")
        if isinstance(double, int | float):
            return float(double)
        big = self._rawget(value, b"big_number")
        if isinstance(big, bytes):
            return BigNumber(int(big))
        table = self._rawget(value, b"map")
        if table is not None and lua51.lua_type(table) == "table":
            return {self._map_key(k): self.to_reply(v, 3) for k, v in table.items()}
        members = self._rawget(value, b"set")
        if members is not None and lua51.lua_type(members) == "table":
            return frozenset(self._map_key(k) for k in members)
        return _NOT_SPECIAL

    def _map_key(self, key: Any) -> Any:
        converted = self.to_reply(key, 3)
        return converted if isinstance(converted, bytes | int) else str(converted).encode()

    def to_lua(self, reply: Reply, resp: int) -> Any:
        """A command's reply as redis.call returns it (Redis 7.0's conversion)."""
        lua = self._lua
        if isinstance(reply, bool):
            return reply if resp == 3 else int(reply)
        if isinstance(reply, int):
            return reply
        if isinstance(reply, bytes | bytearray):
            return bytes(reply)
        if isinstance(reply, str):
            return reply.encode("utf-8", "surrogateescape")
        if reply is None or isinstance(reply, NullArray):
            return None if resp == 3 else False
        if isinstance(reply, SimpleString):
            return lua.table_from({b"ok": reply.text.encode()})
        if isinstance(reply, float):
            if resp == 3:
                return lua.table_from({b"double": reply})
            return b"%.17g" % reply
        if isinstance(reply, BigNumber):
            text = str(reply.value).encode()
            return lua.table_from({b"big_number": text}) if resp == 3 else text
        if isinstance(reply, Verbatim):
            text = reply.text if isinstance(reply.text, bytes) else reply.text.encode()
            if resp == 3:
                inner = lua.table_from({b"format": reply.format.encode(), b"string": text})
                return lua.table_from({b"verbatim_string": inner})
            return text
        if isinstance(reply, RawReplies):
            raise TypeError("raw replies cannot reach a script")
        if isinstance(reply, Mapping):
            if resp == 3:
                pairs = {_key(k): self.to_lua(v, resp) for k, v in reply.items()}
                return lua.table_from({b"map": lua.table_from(pairs)})
            flat: list[Any] = []
            for k, v in reply.items():
                flat += [_key(k), self.to_lua(v, resp)]
            return lua.table_from(flat)
        if isinstance(reply, AbstractSet):
            if resp == 3:
                members = {self.to_lua(item, resp): True for item in reply}
                return lua.table_from({b"set": lua.table_from(members)})
            return lua.table_from([self.to_lua(item, resp) for item in reply])
        if isinstance(reply, Pairs):  # HRANDFIELD ... WITHVALUES: nested in RESP3 only
            if resp == 3:
                return lua.table_from([self.to_lua(list(pair), resp) for pair in reply.items])
            return lua.table_from(
                [self.to_lua(part, resp) for pair in reply.items for part in pair]
            )
        items = reply.items if isinstance(reply, Push) else reply
        assert not isinstance(items, ErrorReply)  # handled by the caller
        return lua.table_from([self.to_lua(item, resp) for item in items])


class ResumableRun:
    """A read-only script run that pauses; `step` until it returns True, then `reply`."""

    def __init__(self, runtime: ScriptRuntime, run: _Run, label: str) -> None:
        self._runtime = runtime
        self.run = run
        self._label = label
        self.reply: Reply = None

    def step(self) -> bool:
        """Run until the script pauses (False) or ends (True; its reply is `reply`)."""
        task = self.run.task
        assert task is not None
        runtime = self._runtime
        previous, runtime._run = runtime._run, self.run
        self.run.slice_start = time.monotonic()
        try:
            result = task.switch()
        finally:
            runtime._run = previous
        if not task.dead:
            return False
        ok, value = result if isinstance(result, tuple) else (result, None)
        self.reply = runtime._result(self.run, ok, value, self._label)
        return True


def _functions(registered: Any) -> list[FunctionDef]:
    functions = []
    for index in range(1, len(registered) + 1):
        entry = registered[index]
        description = entry[b"description"]
        functions.append(
            FunctionDef(
                name=entry[b"name"].decode(errors="replace"),
                flags=frozenset(flag.decode() for flag in entry[b"flags"].values()),
                description=None if description is None else description.decode(errors="replace"),
                callback=entry[b"callback"],
            )
        )
    return functions


def _key(key: Any) -> bytes:
    return key if isinstance(key, bytes) else str(key).encode()


def _argument(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, int):
        return b"%d" % value
    if isinstance(value, float):
        return b"%d" % value if value.is_integer() else repr(value).encode()
    raise TypeError("checked by the caller")


def _error_text(text: str) -> str:
    """Redis's luaPushErrorBuff on "-CODE message": the code kept, or ERR when there is no
    message after it."""
    code, sep, message = text[1:].partition(" ")
    return (f"{code} {message}" if sep else f"ERR {code}").rstrip("\r\n")


def _error_of(value: Any, sha: str) -> ErrorReply:
    """The reply of a script that raised: Redis's text, with where it happened."""
    if lua51.lua_type(value) != "table":
        return ErrorReply(f"ERR Error running script {sha}, execution failure")
    err = value[b"err"]
    text = err.decode(errors="replace") if isinstance(err, bytes) else "ERR unknown error"
    source, line = value[b"source"], value[b"line"]
    if isinstance(source, bytes) and line is not None:
        text += f" script: {sha}, on {source.decode(errors='replace')}:{line}."
    return ErrorReply(text)


def _log(level: Any, message: bytes) -> None:
    index = int(level) if isinstance(level, int | float) and 0 <= level <= 3 else 3
    log.log(_LOG_LEVELS[index], "script: %s", message.decode(errors="replace"))


def _no_attributes(obj: object, name: str, is_setting: bool) -> str:
    raise AttributeError(f"scripts cannot reach {name!r}")


_runtime: ScriptRuntime | None = None


def runtime() -> ScriptRuntime:
    """The process's runtime, created on first use."""
    global _runtime  # noqa: PLW0603 (one Lua VM per process, like Redis's per server)
    if _runtime is None:
        _runtime = ScriptRuntime()
    return _runtime
