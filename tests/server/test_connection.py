"""Connection life cycle: a request already read is always executed and answered."""

from __future__ import annotations

import time

import trio
from tests.commands.test_dispatch import make_ctx

from seshat_trio.node.stats import NodeStats
from seshat_trio.protocol import ParserLimits
from seshat_trio.server.connection import Connection

PING = b"*1\r\n$4\r\nPING\r\n"


class StopWhileReceiving:
    """A client stream whose first read delivers a PING and, in the same step, has the
    server stop the connection: the stop lands after the data arrived, before the
    connection task resumed (a shutdown or CLIENT KILL racing a request)."""

    def __init__(self) -> None:
        self.connection: Connection | None = None
        self.sent: list[bytes] = []
        self.reads = 0

    async def receive_some(self, max_bytes: int) -> bytes:
        self.reads += 1
        if self.reads > 1:
            await trio.sleep_forever()
        await trio.lowlevel.checkpoint()
        assert self.connection is not None
        self.connection.stop()
        return PING

    async def send_all(self, data: bytes) -> None:
        await trio.lowlevel.checkpoint()  # as a socket does: a cancelled send raises here
        self.sent.append(data)

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()


async def test_stop_after_a_request_arrived_still_answers_it() -> None:
    stream = StopWhileReceiving()
    connection = Connection(
        stream,
        make_ctx(),
        ParserLimits(),
        NodeStats(started_at=time.monotonic()),
    )
    stream.connection = connection
    with trio.fail_after(5):
        await connection.serve()
    assert stream.sent == [b"+PONG\r\n"]
    assert stream.reads == 1  # and then it closed instead of reading again
