"""Streams in tests: `BytesStream`, a trio memory stream that reads `bytes` as a socket does
(the RESP parser and the peer framing take bytes; trio's memory streams hand out
bytearrays), and `closed_within`, whether the other side closes a stream in time."""

from __future__ import annotations

import trio


class BytesStream:
    def __init__(self, stream: trio.abc.Stream) -> None:
        self._stream = stream

    async def receive_some(self, max_bytes: int) -> bytes:
        return bytes(await self._stream.receive_some(max_bytes))

    async def send_all(self, data: bytes) -> None:
        await self._stream.send_all(data)

    async def aclose(self) -> None:
        await self._stream.aclose()


async def closed_within(stream: trio.abc.Stream, seconds: float) -> bool:
    """Whether the other side closes `stream` within `seconds` (what it still sends is read
    and dropped)."""
    with trio.move_on_after(seconds):
        while True:
            try:
                if not await stream.receive_some(1 << 16):
                    return True
            except trio.BrokenResourceError:
                return True
    return False
