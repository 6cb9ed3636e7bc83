"""A trio memory stream that reads `bytes`, as a socket does (the RESP parser and the peer
framing take bytes; trio's memory streams hand out bytearrays)."""

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
