"""A node's scripting state: its view of the cluster's function libraries and the read-only
script running on it (busy-reply-threshold, SCRIPT KILL, FUNCTION KILL, FUNCTION STATS).

A read-only script (EVAL_RO, EVALSHA_RO, FCALL_RO, no-writes functions) runs on the node
it is sent to, pausing every few milliseconds so that the node's Raft groups, transport and
other tasks keep running (runtime.ResumableRun). Meanwhile the node's other commands wait
for it, as Redis's would; once it has run for `busy-reply-threshold` milliseconds they are
answered `BUSY ...` instead, except those flagged `allow_busy` (SCRIPT KILL, FUNCTION KILL,
FUNCTION STATS, MULTI, ...). Requests forwarded by other nodes (writes to a group this node
leads) are served meanwhile: Redis's BUSY is about one server's clients, and a script here
must not stop the cluster. SCRIPT KILL (FUNCTION KILL for a function) ends it at its next
count hook. One read-only script runs at a time on a node.

A script that may write runs at apply inside the Raft apply loop: it never pauses, and its
instruction budget (runtime.MAX_INSTRUCTIONS) bounds it identically on every node, so it is
never the busy script here and cannot be killed (SCRIPT KILL answers NOTBUSY).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import attrs
import trio

from seshat_trio.commands.table import CommandSpec
from seshat_trio.protocol import ErrorReply, Reply, SimpleString
from seshat_trio.scripting.functions import FunctionView
from seshat_trio.scripting.runtime import ResumableRun, ScriptRuntime

NOTBUSY = ErrorReply("NOTBUSY No scripts in execution right now.")
BUSY_EVAL = ErrorReply(
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
)
BUSY_FUNCTION = ErrorReply(
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
)
OK = SimpleString("OK")


@attrs.define(slots=True)
class RunningScript:
    name: str  # the function's name, or the script's SHA1
    argv: list[bytes]
    is_function: bool
    started: float  # monotonic seconds
    run: ResumableRun
    done: trio.Event = attrs.field(factory=trio.Event)


def allows_busy(spec: CommandSpec, argv: list[bytes]) -> bool:
    """Whether `argv` runs while a script is busy (Redis's `allow_busy` flag, on the
    command or its subcommand)."""
    if "allow_busy" in spec.flags:
        return True
    sub = spec.subcommand(argv) if spec.subcommands else None
    return sub is not None and "allow_busy" in sub.flags


class NodeScripting:
    def __init__(self, busy_threshold_ms: Callable[[], int] = lambda: 5000) -> None:
        self.functions = FunctionView()
        self.running: RunningScript | None = None
        self._threshold_ms = busy_threshold_ms

    # -- the running script ---------------------------------------------------------------
    def _timed_out(self, running: RunningScript) -> bool:
        return (time.monotonic() - running.started) * 1000 >= self._threshold_ms()

    def busy(self) -> ErrorReply | None:
        """The BUSY error a command gets now, or None when no script has run too long."""
        running = self.running
        if running is None or not self._timed_out(running):
            return None
        return BUSY_FUNCTION if running.is_function else BUSY_EVAL

    async def wait_idle(self) -> ErrorReply | None:
        """Wait while a script runs, until it ends (None) or has run past the threshold
        (its BUSY error): a command other than `allow_busy` ones calls this first."""
        while (running := self.running) is not None:
            if self._timed_out(running):
                return BUSY_FUNCTION if running.is_function else BUSY_EVAL
            deadline = running.started + self._threshold_ms() / 1000
            with trio.move_on_at(trio.current_time() + max(0.0, deadline - time.monotonic())):
                await running.done.wait()
        return None

    async def run(
        self,
        scripts: ScriptRuntime,
        run: ResumableRun,
        *,
        name: str,
        argv: list[bytes],
        is_function: bool,
    ) -> Reply:
        """Run a read-only script to its end, pausing every slice for the node's other
        tasks; it is this node's running script meanwhile."""
        error = await self.wait_idle()  # another client's script got here first
        if error is not None:
            return error
        running = RunningScript(name, argv, is_function, time.monotonic(), run)
        self.running = running
        try:
            while not run.step():
                await trio.sleep(0)
        except BaseException:
            # Cancelled (the node stops, the client is killed): end the script at once.
            scripts.kill_run(run)
            while not run.step():
                pass
            raise
        finally:
            self.running = None
            running.done.set()
        return run.reply

    def running_function(self) -> Reply:
        """FUNCTION STATS' running_script: the function running on this node, or null."""
        running = self.running
        if running is None or not running.is_function:
            return None
        stats: dict[bytes, Reply] = {
            b"name": running.name.encode(),
            b"command": list(running.argv),
            b"duration_ms": int((time.monotonic() - running.started) * 1000),
        }
        return stats

    def kill(self, scripts: ScriptRuntime, *, function: bool) -> Reply:
        """SCRIPT KILL (`function` False) or FUNCTION KILL, with Redis's replies."""
        running = self.running
        if running is None:
            return NOTBUSY
        if running.is_function and not function:
            return BUSY_FUNCTION
        if function and not running.is_function:
            return BUSY_EVAL
        scripts.kill_run(running.run)
        return OK
