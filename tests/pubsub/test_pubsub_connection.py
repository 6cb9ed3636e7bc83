"""Pub/sub on one connection, in process: subscribed-mode rules, RESP2/RESP3 framing, the
order of messages among a pipeline's replies, and client-output-buffer-limit cutting off a
client that does not read (soft limit timed with a MockClock)."""

from __future__ import annotations

import time

import trio
import trio.testing
from tests.commands.test_dispatch import FakeBackend

from seshat_trio.commands.context import ClientState, CommandContext
from seshat_trio.config import Config, NodeSection
from seshat_trio.node.stats import NodeStats
from seshat_trio.protocol import ParserLimits
from seshat_trio.pubsub.hub import PubSubHub
from seshat_trio.server.connection import Connection
from seshat_trio.tunables import Tunables


class Client:
    """A scripted client stream: `send` feeds the server; what it sent is in `received`.
    With `reading=False` it never reads: every server send blocks."""

    def __init__(self, reading: bool = True) -> None:
        self._in, self._out = trio.open_memory_channel[bytes](100)
        self.reading = reading
        self.received = b""
        self.closed = False

    def send(self, data: bytes) -> None:
        self._in.send_nowait(data)

    def hang_up(self) -> None:
        self._in.close()

    async def receive_some(self, max_bytes: int) -> bytes:
        try:
            return await self._out.receive()
        except trio.EndOfChannel:
            return b""

    async def send_all(self, data: bytes) -> None:
        if not self.reading:
            await trio.sleep_forever()
        await trio.lowlevel.checkpoint()
        self.received += data

    async def aclose(self) -> None:
        self.closed = True
        await trio.lowlevel.checkpoint()


class Node:
    def __init__(self) -> None:
        self.hub = PubSubHub(wait_s=0)
        self.tunables = Tunables()
        self.stats = NodeStats(started_at=time.monotonic())
        self.ids = iter(range(1, 1000))

    def connect(self, nursery: trio.Nursery, client: Client) -> Connection:
        ctx = CommandContext(
            ClientState(id=next(self.ids), addr="127.0.0.1:1"),
            FakeBackend(),
            Config(node=NodeSection(id=1)),
            pubsub=self.hub,
            tunables=self.tunables,
        )
        connection = Connection(client, ctx, ParserLimits(), self.stats)
        nursery.start_soon(connection.serve)
        return connection


async def settle() -> None:
    await trio.testing.wait_all_tasks_blocked()


def push(kind: bytes, *parts: bytes, resp3: bool = False) -> bytes:
    items = (kind, *parts)
    head = b">" if resp3 else b"*"
    return head + b"%d\r\n" % len(items) + b"".join(b"$%d\r\n%b\r\n" % (len(p), p) for p in items)


async def test_resp2_subscribed_mode(nursery: trio.Nursery) -> None:
    node, client = Node(), Client()
    node.connect(nursery, client)
    client.send(b"SUBSCRIBE a\r\nGET x\r\nCLIENT LIST\r\nPING hi\r\nSSUBSCRIBE s\r\n")
    await settle()
    refusal = (
        b"only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in "
        b"this context\r\n"
    )
    assert client.received == (
        b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"
        + b"-ERR Can't execute 'get': " + refusal
        + b"-ERR Can't execute 'client|list': " + refusal
        + b"*2\r\n$4\r\npong\r\n$2\r\nhi\r\n"
        + b"*3\r\n$10\r\nssubscribe\r\n$1\r\ns\r\n:1\r\n"
    )  # fmt: skip
    client.received = b""
    assert await node.hub.publish(b"a", b"m") == 1
    assert await node.hub.publish(b"s", b"m") == 0  # a shard channel is another namespace
    assert await node.hub.publish(b"s", b"m", shard=True) == 1
    await settle()
    assert client.received == push(b"message", b"a", b"m") + push(b"smessage", b"s", b"m")
    client.received = b""
    client.send(b"UNSUBSCRIBE\r\nPING\r\nSUNSUBSCRIBE\r\nPING\r\n")
    await settle()
    assert client.received == (
        b"*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:0\r\n"
        b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"  # still a shard subscription
        b"*3\r\n$12\r\nsunsubscribe\r\n$1\r\ns\r\n:0\r\n"
        b"+PONG\r\n"
    )


async def test_closing_or_reset_leaves_every_subscription(nursery: trio.Nursery) -> None:
    node, first, second = Node(), Client(), Client()
    node.connect(nursery, first)
    node.connect(nursery, second)
    first.send(b"SUBSCRIBE a b\r\nPSUBSCRIBE a*\r\n")
    second.send(b"SUBSCRIBE a\r\nRESET\r\nPING\r\n")
    await settle()
    assert second.received.endswith(b"+RESET\r\n+PONG\r\n")  # out of subscribed mode
    assert await node.hub.publish(b"a", b"x") == 2  # first: channel and pattern
    first.hang_up()
    await settle()
    assert first.closed
    assert await node.hub.publish(b"a", b"x") == 0
    assert node.hub.info_fields() == [
        ("pubsub_channels", "0"), ("pubsub_patterns", "0"), ("pubsubshard_channels", "0")
    ]  # fmt: skip


async def test_resp3_messages_keep_their_place_among_a_pipelines_replies(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    node, client = Node(), Client()
    node.connect(nursery, client)
    client.send(b"HELLO 3\r\n")
    await settle()
    client.received = b""

    async def publish_soon() -> None:
        await trio.sleep(0.05)
        assert await node.hub.publish(b"a", b"during") == 1

    nursery.start_soon(publish_soon)
    # DEBUG SLEEP holds the read for 0.1 s: the message arrives in the middle of it.
    client.send(b"SUBSCRIBE a\r\nDEBUG SLEEP 0.1\r\nUNSUBSCRIBE a\r\n")
    await trio.sleep(1)
    assert client.received == (
        b">3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"
        + push(b"message", b"a", b"during", resp3=True)
        + b"+OK\r\n"
        + b">3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:0\r\n"
    )


async def test_a_subscriber_that_does_not_read_is_cut_off_at_the_hard_limit(
    nursery: trio.Nursery,
) -> None:
    node, slow, fast = Node(), Client(), Client()
    node.tunables.set_all({"client-output-buffer-limit": "pubsub 10000 0 0"})
    slow_connection = node.connect(nursery, slow)
    node.connect(nursery, fast)
    slow.send(b"SUBSCRIBE c\r\n")
    fast.send(b"SUBSCRIBE c\r\n")
    await settle()
    slow.reading = False
    counts = []
    for _ in range(30):
        counts.append(await node.hub.publish(b"c", b"x" * 1000))
        await settle()
    assert counts[0] == 2 and counts[-1] == 1
    assert slow.closed and slow_connection.output.pending == 0
    assert node.stats.output_limit_disconnections == 1
    assert fast.received.count(b"x" * 1000) == 30


async def test_the_soft_limit_cuts_off_after_its_seconds(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    node, slow = Node(), Client()
    node.tunables.set_all({"client-output-buffer-limit": "pubsub 0 2000 5"})
    node.connect(nursery, slow)
    slow.send(b"SUBSCRIBE c\r\n")
    await settle()
    slow.reading = False
    for _ in range(3):
        await node.hub.publish(b"c", b"x" * 1000)
    await trio.sleep(4.9)
    assert not slow.closed  # above the soft limit, but not for 5 s yet
    await trio.sleep(0.2)
    assert slow.closed  # nothing else was published: the connection checked on its own
    assert node.stats.output_limit_disconnections == 1


async def test_normal_clients_are_unlimited_by_default_and_limited_when_set(
    nursery: trio.Nursery,
) -> None:
    node = Node()
    big = Client()
    node.connect(nursery, big)
    big.send(b"ECHO " + b"y" * 50_000 + b"\r\n")
    await settle()
    assert big.received.endswith(b"y" * 50_000 + b"\r\n")
    node.tunables.set_all({"client-output-buffer-limit": "normal 10000 0 0"})
    capped = Client()
    node.connect(nursery, capped)
    capped.send(b"ECHO " + b"y" * 50_000 + b"\r\n")
    await settle()
    assert capped.closed and capped.received == b""  # a reply over the hard limit: cut off
