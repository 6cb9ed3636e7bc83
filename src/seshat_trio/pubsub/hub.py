"""The node's pub/sub: local delivery, fan-out to the other nodes, receiver counts.

PUBLISH delivers to this node's subscribers at once and queues one `Publish` frame per
connected peer (the transport: one ordered connection per peer pair, so messages from one
publisher arrive in publish order; a frame is written at most once, never retried, so a
message reaches each subscriber at most once). It then waits up to `publish_wait_ms` for
each peer's `PublishCount` and returns the sum: the receivers across the cluster. A peer
that has not answered in time counts 0 for that message (its subscribers may still get it)
and is not waited for again until one of its counts arrives, so a hung peer costs one wait,
not one per message.

PUBSUB CHANNELS/NUMSUB/NUMPAT/SHARD* answer for the whole cluster: the hub asks each
connected peer (a ForwardRequest the peer runs on its own subscriptions) within one second
and merges the answers with its own; a peer that does not answer in time is left out.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable
from typing import Any, Protocol

import hiredis
import trio

from seshat_trio.pubsub.registry import Kind, Registry
from seshat_trio.transport import (
    NO_DATA_GROUP,
    ForwardReply,
    ForwardRequest,
    Publish,
    PublishCount,
)
from seshat_trio.transport.errors import TransportError

GATHER_TIMEOUT_S = 1.0
# Forward request ids of this hub live apart from the node service's (a peer link refuses
# an id already in flight).
GATHER_ID_BASE = 1 << 62


class Peers(Protocol):
    """The transport as the hub uses it."""

    def publish(self, msg: Publish) -> list[int]: ...

    def connected_peers(self) -> list[int]: ...

    def forward(
        self, to: int, request: ForwardRequest, timeout: float
    ) -> Awaitable[ForwardReply]: ...


class _Count:
    __slots__ = ("done", "missing", "total")

    def __init__(self, peers: set[int]) -> None:
        self.done = trio.Event()
        self.missing = peers
        self.total = 0


class PubSubHub:
    def __init__(self, *, wait_s: float, peers: Peers | None = None) -> None:
        self.registry = Registry()
        self._peers = peers
        self._wait_s = wait_s
        self._ids = itertools.count(1)
        self._gather_ids = itertools.count(GATHER_ID_BASE)
        self._waiting: dict[int, _Count] = {}
        self._late: set[int] = set()  # peers that missed their last deadline

    def attach(self, peers: Peers) -> None:
        self._peers = peers

    async def publish(self, channel: bytes, message: bytes, *, shard: bool = False) -> int:
        """Deliver everywhere; the receivers counted within the wait (see module doc)."""
        receivers = self.registry.publish(channel, message, shard=shard)
        peers = self._peers
        if peers is None:
            return receivers
        if not self._wait_s:
            peers.publish(Publish(0, channel, message, shard))
            return receivers
        request_id = next(self._ids)
        queued = peers.publish(Publish(request_id, channel, message, shard))
        awaited = {peer for peer in queued if peer not in self._late}
        if not awaited:
            return receivers
        count = _Count(awaited)
        self._waiting[request_id] = count
        try:
            with trio.move_on_after(self._wait_s):
                await count.done.wait()
        finally:
            del self._waiting[request_id]
        self._late |= count.missing
        return receivers + count.total

    def broadcast(self, channel: bytes, message: bytes) -> None:
        """Deliver everywhere without counting (keyspace notifications)."""
        self.registry.publish(channel, message)
        if self._peers is not None:
            self._peers.publish(Publish(0, channel, message))

    def info_fields(self) -> list[tuple[str, str]]:
        """INFO stats: this node's channels, patterns and shard channels in use."""
        return [
            ("pubsub_channels", str(self.registry.size(Kind.CHANNEL))),
            ("pubsub_patterns", str(self.registry.size(Kind.PATTERN))),
            ("pubsubshard_channels", str(self.registry.size(Kind.SHARD))),
        ]

    # -- the transport's PubSubHandler -----------------------------------------------------
    def published(self, sender: int, msg: Publish) -> int:
        return self.registry.publish(msg.channel, msg.message, shard=msg.shard)

    def counted(self, sender: int, msg: PublishCount) -> None:
        self._late.discard(sender)
        count = self._waiting.get(msg.request_id)
        if count is not None and sender in count.missing:
            count.missing.discard(sender)
            count.total += msg.receivers
            if not count.missing:
                count.done.set()

    # -- cluster-wide introspection --------------------------------------------------------
    async def gather(self, argv: list[bytes]) -> list[Any]:
        """`argv` run by each connected peer on its own subscriptions: the decoded replies
        of those that answered in time (errors left out)."""
        peers = self._peers
        answers: list[Any] = []
        if peers is None:
            return answers

        async def ask(peer: int) -> None:
            request = ForwardRequest(next(self._gather_ids), 2, (tuple(argv),), NO_DATA_GROUP)
            try:
                reply = await peers.forward(peer, request, GATHER_TIMEOUT_S)
            except (TransportError, trio.TooSlowError):
                return
            reader = hiredis.Reader()
            reader.feed(reply.payload)
            answer = reader.gets()
            if answer is not False and not isinstance(answer, hiredis.ReplyError):
                answers.append(answer)

        async with trio.open_nursery() as nursery:
            for peer in peers.connected_peers():
                nursery.start_soon(ask, peer)
        return answers
