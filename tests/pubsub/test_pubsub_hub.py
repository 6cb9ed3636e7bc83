"""The hub across nodes: real transports on 127.0.0.1 carry Publish/PublishCount (in order,
counted, only to peers that announced pub/sub), and a peer that does not answer in time is
waited for once, not on every message."""

from __future__ import annotations

import random

import trio
import trio.testing

from seshat_trio.config.model import Address
from seshat_trio.pubsub.hub import PubSubHub
from seshat_trio.pubsub.registry import Kind
from seshat_trio.transport import (
    ForwardReply,
    ForwardRequest,
    Publish,
    PublishCount,
    Transport,
    TransportLimits,
)

LIMITS = TransportLimits(backoff_initial=0.01, backoff_max=0.2, handshake_timeout=1.0)


class Inbox:
    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def deliver(self, frame: bytes) -> None:
        self.frames.append(frame)


async def no_forward(sender: int, request: ForwardRequest) -> ForwardReply:
    raise AssertionError("no forwarding here")


async def start_nodes(nursery: trio.Nursery, count: int) -> dict[int, tuple[Transport, PubSubHub]]:
    nodes = {}
    for node_id in range(1, count + 1):
        transport = Transport(
            node_id,
            Address("127.0.0.1", 0),
            {},
            lambda msg: None,
            no_forward,
            limits=LIMITS,
            rng=random.Random(node_id),
        )
        hub = PubSubHub(wait_s=2.0, peers=transport)
        transport.pubsub = hub
        await nursery.start(transport.run)
        nodes[node_id] = (transport, hub)
    for node_id, (transport, _) in nodes.items():
        transport.update_peers(
            {other: t.listen_address for other, (t, _) in nodes.items() if other != node_id}
        )
    with trio.fail_after(5):
        while not all(len(t.connected_peers()) == count - 1 for t, _ in nodes.values()):
            await trio.sleep(0.01)
    return nodes


async def test_publish_reaches_every_node_in_order_and_counts_them(nursery: trio.Nursery) -> None:
    nodes = await start_nodes(nursery, 3)
    inboxes = {node_id: Inbox() for node_id in nodes}
    for node_id, (_, hub) in nodes.items():
        hub.registry.add(Kind.CHANNEL, b"ch", inboxes[node_id])
    _, publisher = nodes[2]
    with trio.fail_after(10):
        counts = [await publisher.publish(b"ch", b"%d" % i) for i in range(200)]
        while any(len(inbox.frames) < 200 for inbox in inboxes.values()):
            await trio.sleep(0.01)
    assert counts == [3] * 200
    for inbox in inboxes.values():
        assert inbox.frames == [
            b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$%d\r\n%d\r\n" % (len(b"%d" % i), i)
            for i in range(200)
        ]


async def test_a_peer_without_the_feature_gets_nothing(nursery: trio.Nursery) -> None:
    nodes = await start_nodes(nursery, 2)
    transport, _ = nodes[1]
    link = transport._links[2]  # what an older peer's Hello announces
    link.peer_features = 0
    assert transport.publish(Publish(0, b"ch", b"m")) == []
    link.peer_features = 1
    assert transport.publish(Publish(0, b"ch", b"m")) == [2]


class SilentPeers:
    """Peers 2 and 3 take every message; only peer 2 ever answers (via the hub)."""

    def __init__(self, nursery: trio.Nursery) -> None:
        self.nursery = nursery
        self.hub: PubSubHub | None = None
        self.sent: list[Publish] = []

    def publish(self, msg: Publish) -> list[int]:
        self.sent.append(msg)
        assert self.hub is not None
        hub = self.hub

        async def answer() -> None:
            await trio.sleep(0.001)
            hub.counted(2, PublishCount(msg.request_id, 5))

        if msg.request_id:
            self.nursery.start_soon(answer)
        return [2, 3]

    def connected_peers(self) -> list[int]:
        return [2, 3]

    async def forward(self, to: int, request: ForwardRequest, timeout: float) -> ForwardReply:
        raise AssertionError


async def test_a_peer_that_misses_its_deadline_is_not_waited_for_again(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    peers = SilentPeers(nursery)
    hub = PubSubHub(wait_s=0.1, peers=peers)
    peers.hub = hub
    start = trio.current_time()
    assert await hub.publish(b"c", b"1") == 5  # peer 3 never answered: it counts 0
    assert trio.current_time() - start >= 0.1
    start = trio.current_time()
    assert await hub.publish(b"c", b"2") == 5  # peer 2 answered; 3 was not waited for
    assert trio.current_time() - start < 0.01
    hub.counted(3, PublishCount(999, 1))  # any answer from 3: it is waited for again
    start = trio.current_time()
    await hub.publish(b"c", b"3")
    assert trio.current_time() - start >= 0.1
