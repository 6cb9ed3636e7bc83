"""Client limits: maxmemory-clients evicts the largest input holders, `timeout` closes idle
clients, and a request that stops arriving is cut off; each hit is counted."""

from __future__ import annotations

import time

import pytest
import trio
import trio.testing
from tests.commands.test_dispatch import make_ctx
from tests.server.byte_streams import BytesStream, closed_within

from seshat_trio.memory_settings import ClientsCap
from seshat_trio.node.stats import NodeStats
from seshat_trio.protocol import ParserLimits
from seshat_trio.server.client_limits import ClientLimits
from seshat_trio.server.connection import Connection
from seshat_trio.tunables import Tunables


def echo_header(size: int) -> bytes:
    return b"*2\r\n$4\r\nECHO\r\n$%d\r\n" % size


class Subscribed:
    """A client's pub/sub state with one subscription (no hub needed)."""

    subscribed = True

    def unsubscribe_all(self) -> None:
        pass


class Clients:
    """Connections over in-memory streams, all under one ClientLimits."""

    def __init__(self, nursery: trio.Nursery, tunables: Tunables, read_timeout_s: float = 0):
        self.nursery = nursery
        self.stats = NodeStats(started_at=time.monotonic())
        self.connections: set[Connection] = set()
        self.limits = ClientLimits(tunables, read_timeout_s, self.stats, self.connections)

    async def connect(self) -> tuple[Connection, trio.abc.Stream]:
        client, server = trio.testing.memory_stream_pair()
        conn = Connection(BytesStream(server), make_ctx(), ParserLimits(), self.stats, self.limits)
        self.connections.add(conn)

        async def serve() -> None:
            try:
                await conn.serve()
            finally:
                self.connections.discard(conn)

        self.nursery.start_soon(serve)
        return conn, client


async def settle() -> None:
    for _ in range(20):
        await trio.lowlevel.checkpoint()


async def test_over_the_cap_the_largest_input_holder_is_closed(nursery: trio.Nursery) -> None:
    clients = Clients(nursery, Tunables(maxmemory_clients=ClientsCap(10_000)))
    small, small_stream = await clients.connect()
    big, big_stream = await clients.connect()
    await small_stream.send_all(echo_header(8000) + b"x" * 2000)
    await big_stream.send_all(echo_header(9500) + b"y" * 9000)
    await settle()
    assert small.input_bytes > 2000 and big.input_bytes == 0  # forgotten when closed
    assert await closed_within(big_stream, 0.3)
    assert clients.stats.limit_hits["maxmemory_clients"] == 1
    assert clients.stats.clients_input_bytes == small.input_bytes
    # The survivor's request completes and is answered; it then holds nothing.
    await small_stream.send_all(b"x" * 6000 + b"\r\n")
    reply = b""
    while not reply.endswith(b"x\r\n"):
        reply += await small_stream.receive_some(1 << 16)
    assert reply == b"$8000\r\n" + b"x" * 8000 + b"\r\n"
    assert clients.stats.clients_input_bytes == 0


async def test_percent_of_maxmemory_and_zero_mean_what_redis_says(nursery: trio.Nursery) -> None:
    tunables = Tunables(maxmemory_clients=ClientsCap(50, percent=True))
    assert tunables.clients_input_cap == 0  # no maxmemory: no cap
    tunables.maxmemory = 20_000
    assert tunables.clients_input_cap == 10_000
    clients = Clients(nursery, Tunables(maxmemory_clients=ClientsCap(0)))
    _, stream = await clients.connect()
    await stream.send_all(echo_header(100_000) + b"z" * 90_000)
    await settle()
    assert not await closed_within(stream, 0.3)
    assert clients.stats.limit_hits["maxmemory_clients"] == 0


async def test_a_request_that_stops_arriving_is_cut_off(nursery: trio.Nursery) -> None:
    clients = Clients(nursery, Tunables(), read_timeout_s=5.0)
    slow, slow_stream = await clients.connect()
    quick, quick_stream = await clients.connect()
    await slow_stream.send_all(echo_header(100) + b"x")
    await quick_stream.send_all(b"*1\r\n$4\r\nPING\r\n")
    assert await quick_stream.receive_some(100) == b"+PONG\r\n"
    await settle()
    assert slow.partial_since is not None and quick.partial_since is None
    clients.limits.check(slow.partial_since + 4.0, time.monotonic())
    assert not await closed_within(slow_stream, 0.3)
    clients.limits.check(slow.partial_since + 5.5, time.monotonic())
    assert await closed_within(slow_stream, 0.3)
    assert not await closed_within(quick_stream, 0.3)
    assert clients.stats.limit_hits["request_read_timeout"] == 1


async def test_a_pipelining_client_is_never_cut_off(nursery: trio.Nursery) -> None:
    """The deadline is per request: one that completes starts the clock again."""
    clients = Clients(nursery, Tunables(), read_timeout_s=5.0)
    conn, stream = await clients.connect()
    await stream.send_all(b"*1\r\n$4\r\nPI")
    await settle()
    first = conn.partial_since
    assert first is not None
    await stream.send_all(b"NG\r\n*1\r\n$4\r\nPI")  # one completes, the next begins
    assert await stream.receive_some(100) == b"+PONG\r\n"
    assert conn.partial_since is not None and conn.partial_since >= first


@pytest.mark.parametrize("subscribed", [False, True])
async def test_idle_clients_are_closed_after_timeout(
    nursery: trio.Nursery, subscribed: bool
) -> None:
    clients = Clients(nursery, Tunables(timeout=10))
    idle, idle_stream = await clients.connect()
    busy, busy_stream = await clients.connect()
    if subscribed:
        idle.client.pubsub = Subscribed()  # type: ignore[assignment]
    busy.busy = True  # executing a long request
    later = time.monotonic() + 11
    clients.limits.check(trio.current_time(), later)
    # Subscribed clients are not subject to timeout (as in Redis).
    assert await closed_within(idle_stream, 0.3) is not subscribed
    assert not await closed_within(busy_stream, 0.3)
    assert clients.stats.limit_hits["timeout"] == (0 if subscribed else 1)
