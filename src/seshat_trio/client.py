"""A minimal Trio RESP client, used by the benchmark load generator, the chaos harness and
tests. Replies are parsed by hiredis; Redis errors come back as `RedisReplyError` values
(not raised) so pipelines keep their positions. It can speak TLS and log in (AUTH) as it
connects.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from typing import Any

import hiredis
import trio


class RedisReplyError(Exception):
    """An error reply; `str()` is the Redis error text."""


def encode_command(args: Sequence[bytes | str | int]) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class RespClient:
    def __init__(self, stream: trio.abc.Stream) -> None:
        self._stream = stream
        self._reader = hiredis.Reader(replyError=RedisReplyError)

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        *,
        tls: ssl.SSLContext | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> RespClient:
        """A connection, over TLS with `tls`, authenticated as (user, password) with
        `credentials`; raises the AUTH error as `RedisReplyError`."""
        stream: trio.abc.Stream = await trio.open_tcp_stream(host, port)
        if tls is not None:
            stream = trio.SSLStream(stream, tls, server_hostname=host)
        client = cls(stream)
        if credentials is not None:
            reply = await client.call("AUTH", *credentials)
            if isinstance(reply, RedisReplyError):
                await client.aclose()
                raise reply
        return client

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def __aenter__(self) -> RespClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def send_raw(self, data: bytes) -> None:
        await self._stream.send_all(data)

    async def read_replies(self, count: int) -> list[Any]:
        replies: list[Any] = []
        while len(replies) < count:
            reply = self._reader.gets()
            if reply is False:
                data = await self._stream.receive_some(65536)
                if not data:
                    raise trio.BrokenResourceError("server closed the connection")
                self._reader.feed(data if isinstance(data, bytes) else bytes(data))
                continue
            replies.append(reply)
        return replies

    async def pipeline(self, commands: Sequence[Sequence[bytes | str | int]]) -> list[Any]:
        await self._stream.send_all(b"".join(encode_command(c) for c in commands))
        return await self.read_replies(len(commands))

    async def call(self, *args: bytes | str | int) -> Any:
        return (await self.pipeline([args]))[0]
