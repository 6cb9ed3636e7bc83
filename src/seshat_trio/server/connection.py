"""One client connection: read, parse, execute, reply; all replies of one read in one send.

The connection owns no logic beyond moving bytes: the RESP codec parses, the command layer
executes. A protocol error is answered with Redis's error text and then the connection is
closed, as Redis does; it never affects other connections. Replies and pub/sub messages
leave through the connection's output (server/output.py), which enforces
client-output-buffer-limit. What it holds of requests still arriving is reported to the
node's client limits (server/client_limits.py: maxmemory-clients, timeout, the request
read deadline).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

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
    RequestParser,
    RequestTooLarge,
    encode_replies,
)
from seshat_trio.pubsub.client import ClientPubSub, client_class
from seshat_trio.server.client_limits import ClientLimits
from seshat_trio.server.output import ClientOutput

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
        self,
        stream: ByteStream,
        ctx: CommandContext,
        limits: ParserLimits,
        stats: NodeStats,
        client_limits: ClientLimits | None = None,
    ) -> None:
        self.stream = stream
        self.ctx = ctx
        self.stats = stats
        self.parser = RequestParser(limits)
        self._client_limits = client_limits
        # Tracked by the client limits: input held, when the request still arriving
        # began (trio time), and whether a request is being executed.
        self.input_bytes = 0
        self.partial_since: float | None = None
        self.busy = False
        self._stopping = False
        # One scope for the connection's life (a scope per read costs as much as a small
        # command). Shutdown cancels it only while waiting for a new request, never while a
        # request already read is executed and answered.
        self._scope = trio.CancelScope()
        self._cancelled = False  # `_scope.cancel_called`, without its deadline check
        self._receiving = False
        self._sending = False
        self._killed = False
        client = ctx.client
        self.output = ClientOutput(
            stream,
            lambda: ctx.tunables.output_limits.of(client_class(client)),
            self._overflowed,
        )
        if ctx.pubsub is not None:
            client.pubsub = ClientPubSub(client, ctx.pubsub.registry, self.output)
        # A blocked command (BLPOP, ...) stops waiting for a client that is gone.
        self._peer_closed = getattr(stream, "wait_closed", None) or getattr(
            getattr(stream, "transport_stream", None), "wait_closed", None
        )  # TLS: its TCP stream
        self._gone: trio.Event | None = None
        client.wait_closed = self.wait_gone

    @property
    def client(self) -> ClientState:
        return self.ctx.client

    def stop(self) -> None:
        """Close after the request in progress (if any) is answered."""
        self._stopping = True
        if self._receiving:
            self._cancel()
        if self._gone is not None:
            self._gone.set()  # a blocked command answers now

    def kill(self) -> None:
        """Close now (CLIENT KILL from another connection): replies not yet sent are
        dropped, as Redis drops them, even to a client that stopped reading them."""
        self._stopping = self._killed = True
        self.client.closing = True
        # A command being executed finishes (its writes are already proposed); only the
        # waits on the client itself are cut short.
        if self._receiving or self._sending:
            self._cancel()
        if self._gone is not None:
            self._gone.set()

    def _cancel(self) -> None:
        self._cancelled = True
        self._scope.cancel()

    async def wait_gone(self) -> None:
        """Return once the client is gone (it closed the connection, was killed, or the
        node is stopping): a blocked command stops waiting then."""
        gone = self._gone = trio.Event()
        if self._stopping:
            return
        try:
            async with trio.open_nursery() as nursery:
                if self._peer_closed is not None:
                    nursery.start_soon(_set_after, self._peer_closed, gone)
                await gone.wait()
                nursery.cancel_scope.cancel()
        finally:
            self._gone = None

    def _overflowed(self) -> None:
        self.stats.output_limit_disconnections += 1
        log.warning(
            "client_output_buffer_limit",
            client=self.client.id,
            addr=self.client.addr,
            kind=client_class(self.client),
        )
        self.kill()

    async def serve(self) -> None:
        try:
            with self._scope:
                async with trio.open_nursery() as writers:
                    self.output.attach(writers)
                    await self._serve_requests()
                    writers.cancel_scope.cancel()  # pushes still queued go with the client
        finally:
            self.parser.close()
            if self._client_limits is not None:
                self._client_limits.forget(self)
            if self.client.pubsub is not None:
                self.client.pubsub.unsubscribe_all()
            self.output.close()
            await self.stream.aclose()

    async def _serve_requests(self) -> None:
        receive = self.stream.receive_some
        # After a reply, a socket of ours waits for the client before reading (plain_socket).
        after_reply = getattr(self.stream, "receive_after_reply", receive)
        replied = False
        client = self.client
        try:
            while not self._stopping and not client.closing:
                self._receiving = True
                data = await (after_reply if replied else receive)(RECEIVE_BYTES)
                self._receiving = False
                if not data:
                    return
                client.last_active = time.monotonic()
                if self._cancelled:
                    # stop() came after the data arrived but before this task resumed:
                    # the request was read, so it is still executed and answered.
                    timeout_s = self.ctx.config.limits.request_timeout_s
                    deadline = trio.current_time() + timeout_s
                    with trio.CancelScope(shield=True, deadline=deadline):
                        await self._handle(data)
                    return
                replied = await self._handle(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return

    async def _handle(self, data: bytes) -> bool:
        """Execute and answer the commands completed by `data`; whether anything was sent."""
        self.parser.feed(data)
        commands, error = self.parser.take_commands()
        self._track_input(bool(commands))
        if self._killed:
            return False  # evicted by maxmemory-clients on this very read: run nothing of it
        self.busy = True
        try:
            payload = await self._run(commands) if commands else b""
        finally:
            self.busy = False
        # Pub/sub messages placed among this read's replies were counted against the
        # output limit until now.
        client = self.ctx.client
        pubsub = client.pubsub
        reserved = pubsub.take_reserved() if pubsub is not None else 0
        if error is not None and not client.closing:  # nothing is read after QUIT
            self.stats.protocol_errors += 1
            if isinstance(error, RequestTooLarge):
                self.stats.hit("max_request_bytes")
            log.info("protocol_error", client=client.id, error=str(error))
            payload += encode_replies([ErrorReply(f"ERR {error}")])
            client.closing = True
        if self._killed:
            return False
        self._sending = True
        await self.output.send(payload, reserved)
        self._sending = False
        return bool(payload)

    def _track_input(self, completed: bool) -> None:
        """Report the input held now; a request still arriving after this read began in it
        unless no request completed (then it is the same one as before)."""
        held = self.parser.buffered_bytes
        if not held:
            self.partial_since = None
        elif completed or self.partial_since is None:
            self.partial_since = trio.current_time()
        if self._client_limits is not None and held != self.input_bytes and not self._killed:
            self._client_limits.note_input(self, held)

    async def _run(self, commands: list[list[bytes]]) -> bytes:
        """Execute one read's commands; each reply is encoded in the protocol that was in
        force when its command ran (HELLO and RESET switch it mid-pipeline)."""
        started = time.perf_counter()
        names = [command_label(argv[0]) for argv in commands]
        if PROTOCOL_SWITCHES.isdisjoint(names):
            replies = await execute(self.ctx, commands)
            payload = encode_replies(replies, self.ctx.client.protocol)
        else:
            replies = []
            chunks = []
            for segment in _protocol_segments(commands, names):
                segment_replies = await execute(self.ctx, segment)
                replies += segment_replies
                chunks.append(encode_replies(segment_replies, self.client.protocol))
                if self.client.closing:
                    break
            payload = b"".join(chunks)
        ran = self.stats.commands.record(names, replies, time.perf_counter() - started)
        self.stats.total_commands_processed += ran
        return payload


async def _set_after(wait: Callable[[], Awaitable[None]], event: trio.Event) -> None:
    await wait()
    event.set()


#: Commands that can change the connection's protocol version.
PROTOCOL_SWITCHES = frozenset(("hello", "reset"))


def _protocol_segments(commands: list[list[bytes]], names: list[str]) -> list[list[list[bytes]]]:
    """`commands` cut so that each protocol switch is a segment of its own: the replies
    before it keep the old encoding, its own reply (and those after) take the new one."""
    segments: list[list[list[bytes]]] = [[]]
    for argv, name in zip(commands, names, strict=True):
        if name in PROTOCOL_SWITCHES:
            segments.append([argv])
            segments.append([])
        else:
            segments[-1].append(argv)
    return [segment for segment in segments if segment]
