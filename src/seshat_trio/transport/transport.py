"""`Transport`: node-to-node messaging and client forwarding for one node (Trio).

Connection model: each ordered pair of nodes uses its own TCP connection. Node A sends
everything it has for B (Raft messages, forward requests) on A's outbound connection to B
(`PeerLink`); B answers forwards on that same connection, and sends its own Raft messages to
A on B's outbound connection. So an inbound connection carries peer messages and forward
requests in, and only forward replies out.

Rules:
- `send` never blocks and never raises for a reachable-or-not peer: it encodes, then queues
  on the destination's bounded outbox (drops counted, heartbeats first). With
  `coalesce_raft` (a node with several data groups) heartbeats and their responses for a
  peer that takes `HeartbeatBatch` are coalesced instead (coalesce.py): one task flushes
  them, one frame per peer, once per scheduler pass; the other Raft messages for a peer
  that takes `RaftBatch` are flushed the same way (raft_batch.py); snapshot chunks never
  are. Heartbeats and answers are coalesced only when sent inside a `coalescing()` block
  (a synchronous pass over several groups: the ticker's, a received batch's steps); any
  other one is a read round's (or its answer), alone in its pass, and leaves at once. A
  node with one data group sends every message at once.
- Every connection is authenticated before any message is accepted (handshake.py): the
  dialler must be a current peer (`update_peers` changes that live, and closes the
  connections of nodes it drops) and both sides must prove the cluster secret; afterwards
  each frame carries a MAC. A newer connection from the same node replaces the older one
  (which may be half-open after a peer crash). Refusals and forged frames are logged as
  warnings (`peer_refused`) and counted by reason (`refused`).
- Bad bytes from a peer (framing, codec, handshake, protocol violations) close that one
  connection with a structured `peer_connection_closed` log line; nothing else is affected.
- `on_message` runs in the receive task, in arrival order per connection; it must not block.
  Forward handlers run concurrently (at most max_inflight_forwards per connection).
"""

from __future__ import annotations

import collections
import contextlib
import functools
import random
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Protocol

import trio

from seshat_trio.config.model import Address
from seshat_trio.logs import get_logger
from seshat_trio.plain_socket import PlainSocketStream
from seshat_trio.raft.messages import Heartbeat, HeartbeatResp, SnapshotChunk, SnapshotChunkAck
from seshat_trio.transport import handshake, raft_batch
from seshat_trio.transport.auth import ClusterSecrets
from seshat_trio.transport.coalesce import HeartbeatCoalescer
from seshat_trio.transport.connection import (
    CONNECTION_FAILURES,
    FramedStream,
    Mailbox,
    frame_of,
    run_both,
    tune_socket,
)
from seshat_trio.transport.errors import (
    AuthenticationError,
    HandshakeError,
    ProtocolViolation,
)
from seshat_trio.transport.framing import HEADER_BYTES as FRAME_HEADER_BYTES
from seshat_trio.transport.limits import TransportLimits
from seshat_trio.transport.messages import (
    FEATURE_HEARTBEAT_BATCH,
    FEATURE_PUBSUB,
    FEATURE_RAFT_BATCH,
    ForwardError,
    ForwardReply,
    ForwardRequest,
    HeartbeatBatch,
    Hello,
    HelloAuth,
    PeerMessage,
    Publish,
    PublishCount,
    RaftBatch,
)
from seshat_trio.transport.outbox import Priority
from seshat_trio.transport.peers import PeerLink, PeerState

OnMessage = Callable[[PeerMessage], None]
OnForward = Callable[[int, ForwardRequest], Awaitable[ForwardReply]]


class PubSubHandler(Protocol):
    """Receives pub/sub traffic (the node's pub/sub hub); both calls must not block."""

    def published(self, sender: int, msg: Publish) -> int:
        """Deliver `msg` to local subscribers; returns how many received it."""
        ...

    def counted(self, sender: int, msg: PublishCount) -> None:
        """A peer's receiver count for one of our Publish messages."""
        ...


class Transport:
    def __init__(
        self,
        node_id: int,
        listen: Address,
        peers: Mapping[int, Address],
        on_message: OnMessage,
        on_forward: OnForward,
        *,
        limits: TransportLimits = TransportLimits(),  # noqa: B008 (frozen, shared safely)
        rng: random.Random | None = None,
        client_addr: str = "",
        client_tls_port: int = 0,
        secrets: ClusterSecrets = ClusterSecrets.none(),  # noqa: B008 (frozen, shared safely)
        coalesce_raft: bool = False,
    ) -> None:
        if node_id <= 0:
            raise ValueError(f"node id must be > 0, got {node_id}")
        self.node_id = node_id
        self._listen = listen
        self._bound: Address | None = None
        self._on_message = on_message
        self._on_forward = on_forward
        self._client_addr = client_addr
        self._client_tls_port = client_tls_port
        self._secrets = secrets
        self._limits = limits
        self._rng = rng if rng is not None else random.Random()
        self._log = get_logger(__name__).bind(local=node_id)
        self._links: dict[int, PeerLink] = {}
        self._inbound: dict[int, trio.CancelScope] = {}
        self._handshaking = 0
        self._nursery: trio.Nursery | None = None
        self.undeliverable = 0  # messages for nodes that are not (or no longer) peers
        # Connections refused or closed for security reasons, by error class name.
        self.refused: collections.Counter[str] = collections.Counter()
        self.pubsub: PubSubHandler | None = None  # bound after construction (runner)
        self._coalescer = HeartbeatCoalescer(node_id)
        # With one data group a pass holds about one Raft message per peer: sent at once,
        # it skips the flush task's wake-up (the c=1 chain).
        self._raft_coalescer = raft_batch.RaftCoalescer(node_id) if coalesce_raft else None
        self._flush_due = trio.Event()
        self._coalescing = 0  # depth of `coalescing()` blocks
        self.update_peers(peers)

    @property
    def limits(self) -> TransportLimits:
        return self._limits

    @property
    def listen_address(self) -> Address:
        """The bound address (the real port when `listen` asked for port 0)."""
        if self._bound is None:
            raise RuntimeError("transport is not listening yet")
        return self._bound

    async def run(
        self, *, task_status: trio.TaskStatus[Address] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Listen and keep one connection task per peer until cancelled.

        `task_status.started(bound_address)` once the listener is bound.
        """
        listeners = await trio.open_tcp_listeners(self._listen.port, host=self._listen.host)
        port = listeners[0].socket.getsockname()[1]
        self._bound = Address(self._listen.host, port)
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                await nursery.start(trio.serve_listeners, self._serve_inbound, listeners)
                nursery.start_soon(self._flush_coalesced)
                for link in self._links.values():
                    nursery.start_soon(link.run)
                self._log.info("transport_listening", address=str(self._bound))
                task_status.started(self._bound)
        finally:
            self._nursery = None
            for link in self._links.values():
                link.close()

    def send(self, msg: PeerMessage) -> None:
        link = self._links.get(msg.dst)
        if link is None:
            self.undeliverable += 1
            self._log.debug("message_undeliverable", dst=msg.dst, kind=type(msg).__name__)
            return
        if self._coalesce(msg, link.peer_features):
            if not self._flush_due.is_set():
                self._flush_due.set()
        else:
            heartbeat = isinstance(msg, Heartbeat | HeartbeatResp)
            link.mailbox.push(frame_of(msg), Priority.HEARTBEAT if heartbeat else Priority.RAFT)

    @contextlib.contextmanager
    def coalescing(self) -> Iterator[None]:
        """Heartbeats and answers sent inside are coalesced too (on a node that coalesces;
        blocks nest): around a synchronous pass over several groups."""
        self._coalescing += 1
        try:
            yield
        finally:
            self._coalescing -= 1

    def _coalesce(self, msg: PeerMessage, features: int) -> bool:
        """Add `msg` to its peer's batch for the flush task, if this node coalesces (several
        data groups), the peer takes that batch and, for a heartbeat or its answer, a
        `coalescing()` block is open: whether it was added."""
        raft = self._raft_coalescer
        if raft is None or self._nursery is None:
            # One data group: about one message per peer per pass (a read round's heartbeat
            # and its answer among them), sent at once without the flush task's wake-up.
            return False
        if isinstance(msg, Heartbeat | HeartbeatResp):
            if not (self._coalescing and features & FEATURE_HEARTBEAT_BATCH):
                return False  # a read round's, alone in its pass: a flush would only wait
            self._coalescer.add(msg)
        elif features & FEATURE_RAFT_BATCH and not isinstance(
            msg, SnapshotChunk | SnapshotChunkAck
        ):
            raft.add(msg)
        else:
            return False
        return True

    async def _flush_coalesced(self) -> None:
        """Send the coalesced heartbeats and Raft messages: this task runs after the tasks
        that were runnable when the first one was added (the ticker's pass, a received
        batch's groups, the groups woken by one fsync round)."""
        while True:
            await self._flush_due.wait()
            self._flush_due = trio.Event()
            if self._raft_coalescer is not None:
                for dst, frame in self._raft_coalescer.drain():
                    link = self._links.get(dst)
                    if link is not None:
                        link.mailbox.push(frame, Priority.RAFT)
            for batch in self._coalescer.drain():
                link = self._links.get(batch.dst)
                if link is not None:
                    link.mailbox.push(frame_of(batch), Priority.HEARTBEAT)

    def publish(self, msg: Publish) -> list[int]:
        """Queue `msg` for every connected peer that takes pub/sub messages; the peers it
        was queued for. Never blocks: a full queue loses it (fire-and-forget)."""
        frame: bytes | None = None
        queued = []
        for peer_id, link in self._links.items():
            if link.connected and link.peer_features & FEATURE_PUBSUB:
                frame = frame if frame is not None else frame_of(msg)
                if link.mailbox.push(frame, Priority.PUBSUB):
                    queued.append(peer_id)
        return queued

    def connected_peers(self) -> list[int]:
        """Peers with a live outbound connection."""
        return [peer_id for peer_id, link in self._links.items() if link.connected]

    def is_connected(self, peer_id: int) -> bool:
        """Whether the outbound connection to `peer_id` is up."""
        link = self._links.get(peer_id)
        return link is not None and link.connected

    async def forward(self, to: int, request: ForwardRequest, timeout: float) -> ForwardReply:
        """Execute `request` on node `to`; PeerUnavailable, ForwardFailed or trio.TooSlowError."""
        link = self._links.get(to)
        if link is None:
            raise ValueError(f"node {to} is not a peer of node {self.node_id}")
        return await link.forward(request, timeout)

    def is_peer(self, node_id: int) -> bool:
        """Whether `node_id` is a current peer: the only nodes whose connections are accepted."""
        return node_id in self._links

    def update_peers(self, peers: Mapping[int, Address]) -> None:
        """Adopt a new peer set: new links are dialled, removed or re-addressed ones closed
        (and a removed node's inbound connection with them)."""
        if self.node_id in peers:
            raise ValueError(f"node {self.node_id} cannot be its own peer")
        for peer_id, link in list(self._links.items()):
            if peers.get(peer_id) != link.address:
                link.close()
                del self._links[peer_id]
                if peer_id not in peers and (inbound := self._inbound.get(peer_id)) is not None:
                    inbound.cancel()
        for peer_id, address in peers.items():
            if peer_id not in self._links:
                link = PeerLink(
                    self.node_id,
                    peer_id,
                    address=address,
                    limits=self._limits,
                    rng=self._rng,
                    log=self._log,
                    client_addr=self._client_addr,
                    client_tls_port=self._client_tls_port,
                    secrets=self._secrets,
                    on_closed=functools.partial(
                        self._note_failure, direction="outbound", remote=str(address), peer=peer_id
                    ),
                    on_publish_count=self._publish_counted,
                )
                self._links[peer_id] = link
                if self._nursery is not None:
                    self._nursery.start_soon(link.run)

    def _publish_counted(self, peer_id: int, msg: PublishCount) -> None:
        if self.pubsub is not None:
            self.pubsub.counted(peer_id, msg)

    def client_address(self, peer_id: int, tls: bool = False) -> str | None:
        """`peer_id`'s RESP address as its Hello announced it (None before a handshake);
        with `tls`, its TLS client port on that host when it announced one."""
        link = self._links.get(peer_id)
        if link is None or link.peer_client_addr is None:
            return None
        if tls and link.peer_client_tls_port:
            try:
                host = Address.parse(link.peer_client_addr).host
            except ValueError:
                return link.peer_client_addr
            return str(Address(host, link.peer_client_tls_port))
        return link.peer_client_addr

    def peer_states(self) -> dict[int, PeerState]:
        return {peer_id: link.state() for peer_id, link in self._links.items()}

    def _note_failure(self, exc: BaseException, **fields: object) -> None:
        """Count and log a connection refused or closed for a security reason."""
        if isinstance(exc, AuthenticationError | HandshakeError):
            reason = type(exc).__name__
            self.refused[reason] += 1
            self._log.warning("peer_refused", reason=reason, detail=str(exc), **fields)

    async def _serve_inbound(self, stream: trio.SocketStream) -> None:
        remote = _remote(stream)
        log = self._log.bind(direction="inbound", remote=remote)
        if self._handshaking >= self._limits.max_pending_handshakes:
            self.refused["TooManyHandshakes"] += 1
            await trio.aclose_forcefully(stream)
            return
        sender: int | None = None
        scope = trio.CancelScope()
        plain = PlainSocketStream(stream)
        async with contextlib.aclosing(plain):
            with scope:
                tune_socket(plain, self._limits.tcp_user_timeout)
                framed = FramedStream(plain, self._limits.handshake_frame_bytes)
                self._handshaking += 1
                try:
                    peer = await handshake.accept(
                        framed,
                        local_id=self.node_id,
                        client_addr=self._client_addr,
                        client_tls_port=self._client_tls_port,
                        secrets=self._secrets,
                        is_member=self.is_peer,
                        limits=self._limits,
                    )
                except CONNECTION_FAILURES as exc:
                    self._note_failure(exc, direction="inbound", remote=remote)
                    log.warning(
                        "peer_connection_closed", reason=type(exc).__name__, detail=str(exc)
                    )
                    return
                finally:
                    self._handshaking -= 1
                sender = peer.node_id
                if (older := self._inbound.get(sender)) is not None:
                    older.cancel()
                self._inbound[sender] = scope
                log = log.bind(peer=sender)
                log.info("peer_accepted")
                mailbox = Mailbox(
                    self._limits.max_inflight_forwards + 1,  # replies + one "busy" answer
                    self._limits.max_queue_bytes,
                    self._limits.max_batch_bytes,
                )
                try:
                    async with trio.open_nursery() as handlers:
                        ended = await run_both(
                            lambda: self._receive_loop(framed, sender, mailbox, handlers),
                            lambda: mailbox.pump(framed, _ignore_batch),
                        )
                        handlers.cancel_scope.cancel()
                    self._note_failure(ended, direction="inbound", remote=remote, peer=sender)
                    log.warning(
                        "peer_connection_closed", reason=type(ended).__name__, detail=str(ended)
                    )
                finally:
                    if self._inbound.get(sender) is scope:
                        del self._inbound[sender]
            if scope.cancelled_caught:
                log.info(
                    "peer_connection_closed",
                    reason="replaced",
                    detail="newer connection from the same node",
                )

    async def _receive_loop(
        self, framed: FramedStream, sender: int, mailbox: Mailbox, handlers: trio.Nursery
    ) -> None:
        inflight = 0

        async def serve(request: ForwardRequest) -> None:
            nonlocal inflight
            try:
                reply: ForwardReply | ForwardError = await self._on_forward(sender, request)
                if reply.request_id != request.request_id:
                    reply = ForwardError(
                        request.request_id, "handler replied with another request id"
                    )
            except Exception as exc:  # a failing handler answers this request, not the node
                self._log.exception(
                    "forward_handler_failed", peer=sender, request_id=request.request_id
                )
                reply = ForwardError(request.request_id, f"{type(exc).__name__}: {exc}")
            finally:
                inflight -= 1
            frame = frame_of(reply)
            if len(frame) - FRAME_HEADER_BYTES > self._limits.max_frame_bytes:
                # The requester would refuse the frame and drop the link, and every message
                # on it: answer this request alone instead.
                self._log.warning(
                    "forward_reply_too_large", peer=sender, request_id=request.request_id
                )
                frame = frame_of(
                    ForwardError(
                        request.request_id,
                        f"the reply ({len(frame)} bytes) exceeds the frame limit "
                        f"({self._limits.max_frame_bytes} bytes)",
                    )
                )
            mailbox.push(frame, Priority.RELIABLE)

        while True:
            msg = await framed.receive()
            if isinstance(msg, ForwardRequest):
                if inflight >= self._limits.max_inflight_forwards:
                    busy = ForwardError(msg.request_id, "too many forwarded requests in flight")
                    mailbox.push(frame_of(busy), Priority.RELIABLE)
                    continue
                inflight += 1
                handlers.start_soon(serve, msg)
            elif isinstance(msg, Publish):
                receivers = 0 if self.pubsub is None else self.pubsub.published(sender, msg)
                if msg.request_id:
                    count = PublishCount(msg.request_id, receivers)
                    mailbox.push(frame_of(count), Priority.PUBSUB)
            elif isinstance(msg, Hello | HelloAuth | ForwardReply | ForwardError | PublishCount):
                raise ProtocolViolation(f"{type(msg).__name__} on an inbound connection")
            elif msg.src != sender or msg.dst != self.node_id:
                raise ProtocolViolation(
                    f"{type(msg).__name__} src={msg.src} dst={msg.dst} on the connection "
                    f"from node {sender} to node {self.node_id}"
                )
            elif isinstance(msg, HeartbeatBatch):
                with self.coalescing():  # several groups answer in this one pass
                    for beat in msg.messages():
                        self._on_message(beat)
            elif isinstance(msg, RaftBatch):
                for raft in raft_batch.unpack(msg):
                    self._on_message(raft)
            else:
                self._on_message(msg)


def _ignore_batch(_batch: object) -> None:
    """Inbound connections track nothing about written frames."""


def _remote(stream: trio.SocketStream) -> str:
    try:
        host, port = stream.socket.getpeername()[:2]
    except OSError:
        return "unknown"
    return f"{host}:{port}"
