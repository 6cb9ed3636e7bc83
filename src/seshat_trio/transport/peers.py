"""The outbound side of one peer: dial, handshake, send queued frames, match forward replies.

Rules: exactly one connection task per peer (`PeerLink.run`), redialling with jittered
exponential backoff; the handshake must complete (the peer proves it is `peer_id` and holds
the cluster secret, handshake.dial) before anything else is written. Everything this node
sends to the peer travels on this connection; the only traffic coming back on it is replies
to our forwards. A forward is pending on the connection it was queued for: when that
connection ends, every pending forward fails with PeerUnavailable at once (`maybe_delivered`
tells whether its frame had been written).
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Callable

import attrs
import trio

from seshat_trio.config.model import Address
from seshat_trio.logs import EventLogger
from seshat_trio.plain_socket import PlainSocketStream
from seshat_trio.transport import handshake
from seshat_trio.transport.auth import ClusterSecrets
from seshat_trio.transport.backoff import Backoff
from seshat_trio.transport.connection import (
    CONNECTION_FAILURES,
    ConnectionEnd,
    FramedStream,
    Mailbox,
    frame_of,
    run_both,
    tune_socket,
)
from seshat_trio.transport.errors import (
    ForwardFailed,
    PeerUnavailable,
    ProtocolViolation,
    TransportError,
)
from seshat_trio.transport.limits import TransportLimits
from seshat_trio.transport.messages import (
    ForwardError,
    ForwardReply,
    ForwardRequest,
    PublishCount,
)
from seshat_trio.transport.outbox import Priority, QueuedFrame


@attrs.frozen(slots=True, kw_only=True)
class PeerState:
    """A snapshot of one outbound link, for INFO and metrics."""

    address: Address
    connected: bool
    queue_frames: int
    queue_bytes: int
    dropped: int
    dropped_heartbeats: int
    connects: int  # completed handshakes
    reconnects: int  # completed handshakes after the first
    client_addr: str | None  # the peer's RESP address, once its Hello arrived
    client_tls_port: int = 0  # the peer's TLS client port (0: none, or not known yet)


_Outcome = ForwardReply | TransportError | trio.TooSlowError


class _Pending:
    """One forward waiting for its reply until `deadline` (trio time)."""

    __slots__ = ("deadline", "done", "outcome", "written")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.done = trio.Event()
        self.outcome: _Outcome | None = None
        self.written = False

    def finish(self, outcome: _Outcome) -> None:
        if self.outcome is None:
            self.outcome = outcome
            self.done.set()


class PeerLink:
    def __init__(
        self,
        node_id: int,
        peer_id: int,
        *,
        address: Address,
        limits: TransportLimits,
        rng: random.Random,
        log: EventLogger,
        client_addr: str = "",
        client_tls_port: int = 0,
        secrets: ClusterSecrets = ClusterSecrets.none(),  # noqa: B008 (frozen, shared safely)
        on_closed: Callable[[BaseException], None] = lambda _exc: None,
        on_publish_count: Callable[[int, PublishCount], None] | None = None,
    ) -> None:
        self.node_id = node_id
        self._secrets = secrets
        self._on_closed = on_closed  # sees why each connection attempt ended
        self.peer_id = peer_id
        self.address = address
        self._client_addr = client_addr
        self._client_tls_port = client_tls_port
        self.peer_client_addr: str | None = None  # from the peer's Hello
        self.peer_client_tls_port = 0
        self.peer_features = 0  # from the peer's Hello: the optional messages it takes
        self._on_publish_count = on_publish_count
        self._limits = limits
        self._backoff = Backoff(rng, limits.backoff_initial, limits.backoff_max)
        self._log = log.bind(peer=peer_id, direction="outbound")
        self.mailbox = Mailbox(
            limits.max_queue_frames, limits.max_queue_bytes, limits.max_batch_bytes
        )
        self._pending: dict[int, _Pending] = {}
        # The sleep of `_expire_overdue`, which ends at the earliest pending deadline.
        self._expiry_sleep: trio.CancelScope | None = None
        self._connected = False
        self._connects = 0
        self._scope = trio.CancelScope()

    @property
    def connected(self) -> bool:
        return self._connected

    def state(self) -> PeerState:
        outbox = self.mailbox.outbox
        return PeerState(
            address=self.address,
            connected=self._connected,
            queue_frames=len(outbox),
            queue_bytes=outbox.queued_bytes,
            dropped=outbox.dropped,
            dropped_heartbeats=outbox.dropped_heartbeats,
            connects=self._connects,
            reconnects=max(0, self._connects - 1),
            client_addr=self.peer_client_addr,
            client_tls_port=self.peer_client_tls_port,
        )

    def close(self) -> None:
        """Stop this link for good (peer removed or re-addressed); pending forwards fail."""
        self._scope.cancel()
        self._fail_pending("peer removed from the transport")

    async def run(self) -> None:
        with self._scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._expire_overdue)
                while True:
                    reason = await self._connect_once()
                    self._on_closed(reason)
                    self._log.info(
                        "peer_connection_closed",
                        remote=str(self.address),
                        reason=_reason(reason),
                        detail=str(reason),
                    )
                    await trio.sleep(self._backoff.next_delay())

    async def forward(self, request: ForwardRequest, timeout: float) -> ForwardReply:
        rid = request.request_id
        if not self._connected:
            raise PeerUnavailable(self.peer_id, "not connected", maybe_delivered=False)
        if rid in self._pending:
            raise ValueError(f"forward request id {rid} is already in flight to {self.peer_id}")
        pending = _Pending(trio.current_time() + timeout)
        self._pending[rid] = pending
        try:
            if not self.mailbox.push(frame_of(request), Priority.RELIABLE, tag=rid):
                raise PeerUnavailable(self.peer_id, "outbound queue full", maybe_delivered=False)
            sleep = self._expiry_sleep
            if sleep is not None and pending.deadline < sleep.deadline:
                sleep.deadline = pending.deadline
            await pending.done.wait()
        finally:
            if self._pending.get(rid) is pending:
                del self._pending[rid]
                self.mailbox.outbox.discard_tag(rid)
        if isinstance(pending.outcome, ForwardReply):
            return pending.outcome
        assert pending.outcome is not None  # done is only set together with an outcome
        raise pending.outcome

    async def _expire_overdue(self) -> None:
        """Fail each forward whose deadline passed with trio.TooSlowError. One task per link
        instead of a cancel scope per forward: a scope costs as much as the rest of
        forwarding a SET, and every forward on a link has nearly the same timeout."""
        while True:
            now = trio.current_time()
            earliest = math.inf
            for pending in list(self._pending.values()):
                if pending.deadline <= now:
                    pending.finish(trio.TooSlowError())
                else:
                    earliest = min(earliest, pending.deadline)
            with trio.CancelScope(deadline=earliest) as self._expiry_sleep:
                await trio.sleep_forever()
            self._expiry_sleep = None

    async def _connect_once(self) -> ConnectionEnd:
        try:
            with trio.fail_after(self._limits.connect_timeout):
                stream = await trio.open_tcp_stream(self.address.host, self.address.port)
        except trio.TooSlowError:
            return TimeoutError(f"connect to {self.address} timed out")
        except OSError as exc:
            return exc
        plain = PlainSocketStream(stream)
        async with contextlib.aclosing(plain):
            tune_socket(plain, self._limits.tcp_user_timeout)
            framed = FramedStream(plain, self._limits.handshake_frame_bytes)
            try:
                peer = await handshake.dial(
                    framed,
                    local_id=self.node_id,
                    peer_id=self.peer_id,
                    client_addr=self._client_addr,
                    client_tls_port=self._client_tls_port,
                    secrets=self._secrets,
                    limits=self._limits,
                )
            except CONNECTION_FAILURES as exc:
                return exc
            self.peer_client_addr = peer.client_addr or None
            self.peer_client_tls_port = peer.client_tls_port
            self.peer_features = peer.features
            self._connected = True
            self._connects += 1
            self._backoff.reset()
            self._log.info("peer_connected", remote=str(self.address), connects=self._connects)
            try:
                return await run_both(
                    lambda: self._receive_loop(framed),
                    lambda: self.mailbox.pump(framed, self._mark_written),
                )
            finally:
                self._connected = False
                self._fail_pending("connection lost")

    async def _receive_loop(self, framed: FramedStream) -> None:
        while True:
            msg = await framed.receive()
            if isinstance(msg, ForwardReply):
                self._settle(msg.request_id, msg)
            elif isinstance(msg, ForwardError):
                self._settle(msg.request_id, ForwardFailed(self.peer_id, msg.reason))
            elif isinstance(msg, PublishCount) and self._on_publish_count is not None:
                self._on_publish_count(self.peer_id, msg)
            else:
                raise ProtocolViolation(f"{type(msg).__name__} on an outbound connection")

    def _settle(self, request_id: int, outcome: _Outcome) -> None:
        pending = self._pending.get(request_id)
        if pending is None:  # the caller timed out and left; nobody wants this reply
            self._log.debug("forward_reply_unmatched", request_id=request_id)
            return
        pending.finish(outcome)

    def _mark_written(self, batch: list[QueuedFrame]) -> None:
        for item in batch:
            if item.tag is not None and (pending := self._pending.get(item.tag)) is not None:
                pending.written = True

    def _fail_pending(self, reason: str) -> None:
        self.mailbox.outbox.discard_reliable()
        for pending in self._pending.values():
            pending.finish(PeerUnavailable(self.peer_id, reason, maybe_delivered=pending.written))


def _reason(exc: BaseException) -> str:
    """A stable, greppable reason code for a connection's end."""
    return type(exc).__name__
