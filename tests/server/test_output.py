"""ClientOutput's writes: a reply the socket takes whole goes out without `send_all`; one it
takes in part goes out whole and in order all the same (server/output.py)."""

from __future__ import annotations

import socket

import trio

from seshat_trio.output_limits import OutputLimit
from seshat_trio.plain_socket import PlainSocketStream
from seshat_trio.server.output import ClientOutput

NO_LIMIT = OutputLimit(0, 0, 0)


class ShortSends:
    """A stream whose `send_now` takes at most `take` bytes; records every call."""

    def __init__(self, take: int) -> None:
        self.take = take
        self.now: list[bytes] = []
        self.all: list[bytes] = []

    def send_now(self, data: bytes) -> int:
        self.now.append(bytes(data[: self.take]))
        return min(self.take, len(data))

    async def send_all(self, data: bytes) -> None:
        self.all.append(bytes(data))

    async def receive_some(self, max_bytes: int) -> bytes:
        raise AssertionError("not read here")

    async def aclose(self) -> None:
        pass


async def test_a_reply_taken_whole_needs_no_send_all() -> None:
    stream = ShortSends(take=1 << 20)
    output = ClientOutput(stream, lambda: NO_LIMIT, lambda: None)
    await output.send(b"+OK\r\n")
    assert (stream.now, stream.all, output.pending) == ([b"+OK\r\n"], [], 0)


async def test_a_reply_taken_in_part_sends_the_rest_in_order() -> None:
    stream = ShortSends(take=3)
    output = ClientOutput(stream, lambda: NO_LIMIT, lambda: None)
    await output.send(b"$5\r\nhello\r\n")
    assert stream.now == [b"$5\r"]
    assert stream.all == [b"\nhello\r\n"]
    assert output.pending == 0
    stream.take = 0  # a full socket buffer: all of it through send_all
    await output.send(b":1\r\n")
    assert stream.all[-1] == b":1\r\n"


async def test_a_reply_larger_than_the_socket_buffer_arrives_whole() -> None:
    left, right = trio.socket.socketpair()
    left.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    stream = PlainSocketStream(trio.SocketStream(left))
    output = ClientOutput(stream, lambda: NO_LIMIT, lambda: None)
    payload = bytes(range(256)) * 4096  # 1 MiB: the first send_now takes only part
    received = bytearray()

    async def read() -> None:
        while len(received) < len(payload):
            received.extend(await right.recv(1 << 16))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(read)
        await output.send(payload)
    assert bytes(received) == payload
    assert output.pending == 0
    await stream.aclose()
    right.close()
