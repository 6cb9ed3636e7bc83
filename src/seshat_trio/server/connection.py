"""One client connection: read, parse, execute, reply; all replies of one read in one send.

The connection owns no logic beyond moving bytes: the RESP codec parses, the command layer
executes. A protocol error is answered with Redis's error text and then the connection is
closed, as Redis does; it never affects other connections.
"""

from __future__ import annotations

import time

import trio

from seshat_trio.commands.context import ClientState, CommandContext
from seshat_trio.commands.dispatch import execute
from seshat_trio.commands.table import lookup
from seshat_trio.logs import get_logger
from seshat_trio.node.stats import NodeStats
from seshat_trio.plain_socket import RECEIVE_BYTES, ByteStream
from seshat_trio.protocol import (
    ErrorReply,
    ParserLimits,
    ProtocolError,
    RequestParser,
    encode_replies,
)

log = get_logger(__name__)


# Raw command name (any case) -> metrics label; one dict hit instead of lower() + lookup.
# Bounded: made-up names beyond this many are resolved each time, never stored.
_LABELS: dict[bytes, str] = {}
MAX_CACHED_LABELS = 1024


def command_label(name: bytes) -> str:
    """A command's metrics label: its table name, or "unknown" (names a client makes up
    must not become label values)."""
    label = _LABELS.get(name)
    if label is None:
        spec = lookup(name)
        label = spec.name if spec is not None else "unknown"
        if len(_LABELS) < MAX_CACHED_LABELS:
            _LABELS[name] = label
    return label


class Connection:
    def __init__(
        self, stream: ByteStream, ctx: CommandContext, limits: ParserLimits, stats: NodeStats
    ) -> None:
        self.stream = stream
        self.ctx = ctx
        self.stats = stats
        self.parser = RequestParser(limits)
        self._stopping = False
        # One scope for the connection's life (a scope per read costs as much as a small
        # command). Shutdown cancels it only while waiting for a new request, never while a
        # request already read is executed and answered.
        self._scope = trio.CancelScope()
        self._receiving = False

    @property
    def client(self) -> ClientState:
        return self.ctx.client

    def stop(self) -> None:
        """Close after the request in progress (if any) is answered."""
        self._stopping = True
        if self._receiving:
            self._scope.cancel()

    async def serve(self) -> None:
        try:
            with self._scope:
                while not self._stopping and not self.client.closing:
                    self._receiving = True
                    data = await self.stream.receive_some(RECEIVE_BYTES)
                    self._receiving = False
                    if not data:
                        return
                    if self._scope.cancel_called:
                        # stop() came after the data arrived but before this task resumed:
                        # the request was read, so it is still executed and answered.
                        timeout_s = self.ctx.config.limits.request_timeout_s
                        deadline = trio.current_time() + timeout_s
                        with trio.CancelScope(shield=True, deadline=deadline):
                            await self._handle(data)
                        return
                    await self._handle(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return
        finally:
            await self.stream.aclose()

    async def _handle(self, data: bytes) -> None:
        self.parser.feed(data)
        commands: list[list[bytes]] = []
        error: ProtocolError | None = None
        try:
            while (command := self.parser.next_command()) is not None:
                commands.append(command)
        except ProtocolError as exc:
            error = exc
        started = time.perf_counter()
        replies = await execute(self.ctx, commands) if commands else []
        stats = self.stats
        stats.total_commands_processed += len(replies)
        if commands:
            names = [command_label(argv[0]) for argv in commands]
            stats.commands.record(names, replies, time.perf_counter() - started)
        if error is not None:
            stats.protocol_errors += 1
            log.info("protocol_error", client=self.client.id, error=str(error))
            replies.append(ErrorReply(f"ERR {error}"))
            self.client.closing = True
        if replies:
            await self.stream.send_all(encode_replies(replies, self.client.protocol))
