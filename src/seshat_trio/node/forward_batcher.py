"""Merge the forwarded write runs of concurrent connections into one request per leader
and data group.

Each client connection on a follower forwards its runs of writes to the leader. Sent one by
one, every run is a request of its own on both nodes: an encode and a decode each way, and
on the leader a task, a client context and a pipeline of its own. Runs forwarded within one
pass of the scheduler go instead as ONE ForwardRequest, which the leader executes like one
pipelined client (its writes share one proposal round); the reply is cut back per run by
RESP reply boundaries (`protocol.split_replies`), so the leader needs nothing new.

Executing the runs of different connections back to back keeps each connection's order: a
forwarded run holds writes, each complete in itself (a transaction travels as one EXEC),
and the cheap reads behind them (commands/behind_writes.py: the leader places them in the
log right behind the writes, so nothing waits for them), and a connection has at most one
run in flight. Other reads a follower must ask the leader about are not merged
(`NodeService.forward(alone=True)`): on the leader such a read waits for the writes before
it, and the writes after it would wait for its barrier. A failure of the
merged request is the failure of every run in it, as for the commands of one client's
pipeline.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence

import attrs
import trio

from seshat_trio.errors import OutcomeUnknownError
from seshat_trio.protocol import split_replies
from seshat_trio.transport import ForwardReply, ForwardRequest, PeerUnavailable

Send = Callable[[int, ForwardRequest, float], Awaitable[ForwardReply]]
Commands = Sequence[Sequence[bytes]]

# Merged requests stop growing at about this many frame bytes (a larger run still goes,
# alone): far below the transport's frame limit (16 MiB), and no reply waits on a huge batch.
MAX_BATCH_BYTES = 1 << 20
# Wire bytes per argument and per command on top of the argument itself (length prefixes,
# capnp framing), so that a run of many empty arguments is not counted as free.
ARGUMENT_OVERHEAD = 16
COMMAND_OVERHEAD = 8


@attrs.define(slots=True, eq=False)
class _Run:
    commands: Commands
    deadline: float
    size: int
    done: trio.Event = attrs.field(factory=trio.Event)
    payload: bytes = b""
    error: Exception | None = None

    def fail(self, error: Exception) -> None:
        self.error = error
        self.done.set()


class ForwardBatcher:
    def __init__(
        self,
        send: Send,
        request_ids: Iterator[int],
        *,
        max_batch_commands: int,
        max_batch_bytes: int = MAX_BATCH_BYTES,
    ) -> None:
        self._send = send
        self._request_ids = request_ids
        self._max_batch_bytes = max_batch_bytes
        # Replies may carry values (`LimitsSection.max_forward_commands`); a single run is
        # never longer (the dispatcher splits them), so every batch respects it.
        self._max_batch_commands = max_batch_commands
        # (leader, group, protocol) -> the runs of this scheduler pass
        self._open: dict[tuple[int, int, int], list[_Run]] = {}
        self._wakeup = trio.Event()
        self._running = False

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Send what was queued, once per scheduler pass, until cancelled."""
        self._running = True
        try:
            async with trio.open_nursery() as nursery:
                task_status.started()
                while True:
                    await self._wakeup.wait()
                    self._wakeup = trio.Event()
                    ready, self._open = self._open, {}
                    for (leader, group, protocol), runs in ready.items():
                        for batch in self._batches(runs):
                            nursery.start_soon(self._send_batch, leader, group, protocol, batch)
        finally:
            self._running = False
            stranded, self._open = self._open, {}
            for (leader, _, _), runs in stranded.items():
                for run in runs:
                    run.fail(PeerUnavailable(leader, "forwarding stopped", maybe_delivered=False))

    async def forward(
        self, leader: int, group: int, commands: Commands, protocol: int, timeout: float
    ) -> bytes:
        """The encoded replies of `group`'s leader to `commands`; raises what `send` raises."""
        if not self._running:
            raise PeerUnavailable(leader, "forwarding is not running", maybe_delivered=False)
        size = sum(len(arg) + ARGUMENT_OVERHEAD for command in commands for arg in command)
        run = _Run(commands, trio.current_time() + timeout, size + COMMAND_OVERHEAD * len(commands))
        self._open.setdefault((leader, group, protocol), []).append(run)
        self._wakeup.set()
        await run.done.wait()
        if run.error is not None:
            # Each caller raises it afresh: the instance is shared by the runs of a batch.
            raise run.error.with_traceback(None)
        return run.payload

    def _batches(self, runs: list[_Run]) -> Iterator[list[_Run]]:
        batch: list[_Run] = []
        size = commands = 0
        for run in runs:
            if batch and (
                size + run.size > self._max_batch_bytes
                or commands + len(run.commands) > self._max_batch_commands
            ):
                yield batch
                batch, size, commands = [], 0, 0
            batch.append(run)
            size += run.size
            commands += len(run.commands)
        if batch:
            yield batch

    async def _send_batch(self, leader: int, group: int, protocol: int, runs: list[_Run]) -> None:
        request = ForwardRequest(
            next(self._request_ids),
            protocol,
            tuple(tuple(command) for run in runs for command in run.commands),
            group,
        )
        timeout = max(0.0, min(run.deadline for run in runs) - trio.current_time())
        try:
            reply = await self._send(leader, request, timeout)
            if len(runs) == 1:
                payloads = [reply.payload]
            else:
                try:
                    payloads = split_replies(reply.payload, [len(run.commands) for run in runs])
                except ValueError as exc:
                    raise OutcomeUnknownError(
                        f"TIMEOUT the leader's reply could not be matched to the request "
                        f"({exc}); a write in it may or may not have been applied"
                    ) from None
        except Exception as exc:  # each run's caller sees what its own request would raise
            for run in runs:
                run.fail(exc)
            return
        except BaseException:  # cancelled (the node stops) while the request was out
            for run in runs:
                run.fail(_STOPPED_IN_FLIGHT)
            raise
        for run, payload in zip(runs, payloads, strict=True):
            run.payload = payload
            run.done.set()


_STOPPED_IN_FLIGHT = OutcomeUnknownError(
    "TIMEOUT forwarding stopped (the node is shutting down) after the request was sent; "
    "a write in it may or may not have been applied"
)
