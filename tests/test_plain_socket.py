"""PlainSocketStream over real loopback TCP."""

from __future__ import annotations

import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing

from seshat_trio.plain_socket import PlainSocketStream


@asynccontextmanager
async def connected() -> AsyncIterator[tuple[PlainSocketStream, trio.SocketStream]]:
    """A PlainSocketStream (server side) and the client's ordinary Trio stream."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    client = await trio.open_tcp_stream("127.0.0.1", port)
    server = PlainSocketStream(await listeners[0].accept())
    try:
        yield server, client
    finally:
        await server.aclose()
        await client.aclose()
        for listener in listeners:
            await listener.aclose()


async def receive_exactly(stream: trio.SocketStream, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = await stream.receive_some(65536)
        assert chunk, "stream ended early"
        data += chunk
    return bytes(data)


async def test_round_trip_and_peer_name() -> None:
    with trio.fail_after(10):
        async with connected() as (server, client):
            host, port = server.getpeername()
            assert host == "127.0.0.1" and port == client.socket.getsockname()[1]
            await client.send_all(b"*1\r\n$4\r\nPING\r\n")
            assert await server.receive_some(65536) == b"*1\r\n$4\r\nPING\r\n"
            await server.send_all(b"+PONG\r\n")
            assert await receive_exactly(client, 7) == b"+PONG\r\n"


async def test_a_send_bigger_than_the_socket_buffer_arrives_whole() -> None:
    payload = bytes(range(256)) * (32 * 1024)  # 8 MiB: many times the kernel buffers
    with trio.fail_after(30):
        async with connected() as (server, client), trio.open_nursery() as nursery:
            received: list[bytes] = []

            async def read_all() -> None:
                received.append(await receive_exactly(client, len(payload)))

            nursery.start_soon(read_all)
            await server.send_all(payload)
    assert received == [payload]


async def test_end_of_stream_reads_empty() -> None:
    with trio.fail_after(10):
        async with connected() as (server, client):
            await client.send_all(b"last")
            await client.send_eof()
            assert await server.receive_some(65536) == b"last"
            assert await server.receive_some(65536) == b""


async def test_a_cancelled_receive_loses_nothing() -> None:
    with trio.fail_after(10):
        async with connected() as (server, client):
            with trio.move_on_after(0.05) as scope:
                await server.receive_some(65536)
            assert scope.cancelled_caught
            await client.send_all(b"after")
            assert await server.receive_some(65536) == b"after"


async def test_closing_wakes_a_waiting_receiver() -> None:
    with trio.fail_after(10):
        async with connected() as (server, _client), trio.open_nursery() as nursery:
            outcome: list[BaseException] = []

            async def wait_for_data() -> None:
                try:
                    await server.receive_some(65536)
                except trio.ClosedResourceError as exc:
                    outcome.append(exc)

            nursery.start_soon(wait_for_data)
            await trio.testing.wait_all_tasks_blocked()
            await server.aclose()
    assert len(outcome) == 1


async def test_a_reset_connection_is_a_broken_resource() -> None:
    with trio.fail_after(10):
        async with connected() as (server, client):
            # SO_LINGER 0: close sends RST, so the server's next read fails.
            client.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.socket.close()
            await trio.sleep(0.05)
            with pytest.raises(trio.BrokenResourceError):
                await server.receive_some(65536)


async def test_a_cancelled_scope_stops_reads_even_while_data_is_waiting() -> None:
    with trio.fail_after(10):
        async with connected() as (server, client):
            await client.send_all(b"waiting")
            await trio.sleep(0.05)  # the bytes are in the server's socket buffer
            with trio.CancelScope() as scope:
                scope.cancel()
                await server.receive_some(65536)
            assert scope.cancelled_caught
            assert await server.receive_some(65536) == b"waiting"  # nothing was lost


async def test_a_read_after_a_reply_waits_for_the_peer_then_takes_what_it_sent() -> None:
    with trio.fail_after(10):
        async with connected() as (server, client):
            got: list[bytes] = []

            async def read() -> None:
                got.append(await server.receive_after_reply(65536))

            async with trio.open_nursery() as nursery:
                nursery.start_soon(read)
                await trio.testing.wait_all_tasks_blocked()
                assert got == []  # parked: nothing was sent yet
                await client.send_all(b"next")
            assert got == [b"next"]
            await client.send_all(b"waiting")
            await trio.sleep(0.05)  # already in the socket buffer: taken at the next epoll pass
            assert await server.receive_after_reply(65536) == b"waiting"
            with trio.move_on_after(0.05) as scope:
                await server.receive_after_reply(65536)
            assert scope.cancelled_caught
            await client.send_all(b"after")
            assert await server.receive_after_reply(65536) == b"after"  # the cancel lost nothing
