"""Connection life cycle: a request already read is always executed and answered."""

from __future__ import annotations

import time

import trio
import trio.testing
from tests.commands.test_dispatch import FakeBackend, make_ctx

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


class OneRead:
    """Delivers `data` in one read, then EOF; records what the server sent. With
    `block_send` it is a client that never reads: every send waits forever."""

    def __init__(self, data: bytes, block_send: bool = False) -> None:
        self.data = data
        self.block_send = block_send
        self.sent: list[bytes] = []
        self.reads = 0

    async def receive_some(self, max_bytes: int) -> bytes:
        self.reads += 1
        await trio.lowlevel.checkpoint()
        return self.data if self.reads == 1 else b""

    async def send_all(self, data: bytes) -> None:
        if self.block_send:
            await trio.sleep_forever()
        await trio.lowlevel.checkpoint()
        self.sent.append(data)

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()


def _connection(stream: OneRead) -> Connection:
    return Connection(stream, make_ctx(), ParserLimits(), NodeStats(started_at=time.monotonic()))


async def _served(data: bytes) -> tuple[bytes, Connection]:
    stream = OneRead(data)
    connection = _connection(stream)
    with trio.fail_after(5):
        await connection.serve()
    return b"".join(stream.sent), connection


async def test_replies_before_hello_keep_the_old_protocol() -> None:
    sent, _ = await _served(b"CLIENT GETNAME\r\nHELLO 3\r\nCLIENT GETNAME\r\n")
    assert sent.startswith(b"$-1\r\n%")  # RESP2 null, then HELLO's RESP3 map
    assert sent.endswith(b"_\r\n")  # RESP3 null after the switch


async def test_the_hello_reply_takes_its_own_protocol_whatever_follows() -> None:
    sent, _ = await _served(b"HELLO 3\r\nHELLO 2\r\nCLIENT GETNAME\r\n")
    assert sent.startswith(b"%")  # HELLO 3 answers with a map
    second = sent.index(b"*", 1)  # HELLO 2 answers with an array
    assert sent[second:].endswith(b"$-1\r\n")


async def test_nothing_is_read_after_quit() -> None:
    sent, connection = await _served(b"QUIT\r\n*x\r\n")
    assert sent == b"+OK\r\n"
    assert connection.stats.protocol_errors == 0


async def test_commands_processed_counts_commands_not_replies() -> None:
    # On a follower the three SETs go to the leader as one request with one reply entry.
    backend = FakeBackend()
    backend.leading = False
    backend.remote_leader_known = True
    stream = OneRead(b"SET a 1\r\nSET b 2\r\nSET c 3\r\nQUIT\r\nPING\r\n")
    connection = Connection(
        stream, make_ctx(backend), ParserLimits(), NodeStats(started_at=time.monotonic())
    )
    with trio.fail_after(5):
        await connection.serve()
    assert b"".join(stream.sent) == b"+FWD a\r\n+FWD b\r\n+FWD c\r\n+OK\r\n"
    assert connection.stats.total_commands_processed == 4  # the PING after QUIT never ran


async def test_a_killed_client_that_does_not_read_is_closed() -> None:
    stream = OneRead(PING, block_send=True)
    connection = _connection(stream)
    closed = trio.Event()

    async def serve() -> None:
        await connection.serve()
        closed.set()

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve)
            await trio.testing.wait_all_tasks_blocked()  # the reply is stuck in send_all
            connection.kill()
            await closed.wait()
    assert connection.client.closing


class ScriptedReads:
    """Hands out `reads` one per call, recording which method asked (a socket's
    `receive_after_reply` parks before reading; `receive_some` reads first), then EOF."""

    def __init__(self, reads: list[bytes]) -> None:
        self.reads = list(reads)
        self.calls: list[str] = []
        self.sent: list[bytes] = []

    async def _next(self, how: str) -> bytes:
        self.calls.append(how)
        await trio.lowlevel.checkpoint()
        return self.reads.pop(0) if self.reads else b""

    async def receive_some(self, max_bytes: int) -> bytes:
        return await self._next("read first")

    async def receive_after_reply(self, max_bytes: int) -> bytes:
        return await self._next("park first")

    async def send_all(self, data: bytes) -> None:
        await trio.lowlevel.checkpoint()
        self.sent.append(data)

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()


async def test_a_read_after_a_reply_parks_first_and_one_after_a_partial_request_does_not() -> None:
    # A PING, half a PING (no reply), its other half, a CLIENT REPLY OFF'd PING, then EOF.
    stream = ScriptedReads(
        [PING, PING[:7], PING[7:], b"*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$3\r\nOFF\r\n", PING]
    )
    connection = Connection(stream, make_ctx(), ParserLimits(), NodeStats(started_at=0.0))
    with trio.fail_after(5):
        await connection.serve()
    assert stream.sent == [b"+PONG\r\n", b"+PONG\r\n"]
    assert stream.calls == [
        "read first",  # the connection's first read
        "park first",  # after a reply: the client sends only once it has it
        "read first",  # after half a request: nothing was answered, the rest may be there
        "park first",  # after the second PONG
        "read first",  # after CLIENT REPLY OFF, nothing answered: the client does not wait
        "read first",  # after the silenced PING: EOF
    ]
