"""The admin HTTP server over in-memory streams, on MockClock time (autojump_clock)."""

from __future__ import annotations

import json

import h11
import trio
import trio.testing

from seshat_trio.admin import AdminServer, HttpLimits, Response
from seshat_trio.config import Address

LIMITS = HttpLimits(max_request_bytes=1024, read_timeout=5.0, write_timeout=5.0)


def echo(method: str, path: str) -> Response:
    return Response.json(200, {"method": method, "path": path})


async def read_response(
    stream: trio.abc.Stream, client: h11.Connection
) -> tuple[int, dict[str, str], bytes]:
    """One response, parsed by an h11 client connection."""
    status = 0
    headers: dict[str, str] = {}
    body = b""
    while True:
        event = client.next_event()
        if event is h11.NEED_DATA:
            client.receive_data(bytes(await stream.receive_some(65536)))
        elif isinstance(event, h11.Response):
            status = event.status_code
            headers = {k.decode(): v.decode() for k, v in event.headers}
        elif isinstance(event, h11.Data):
            body += bytes(event.data)
        elif isinstance(event, h11.EndOfMessage):
            return status, headers, body
        else:
            raise AssertionError(f"unexpected {event!r}")


async def request(
    server: AdminServer, raw: bytes, *, keep_open: bool = False
) -> tuple[int, dict[str, str], bytes]:
    """Send `raw` to a fresh connection served by `server` and parse its one response."""
    client_stream, server_stream = trio.testing.memory_stream_pair()
    client = h11.Connection(h11.CLIENT)
    # The client h11 needs to have "sent" a request to accept a response.
    client.send(h11.Request(method="GET", target="/", headers=[("host", "t")]))
    client.send(h11.EndOfMessage())
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.serve_stream, server_stream)
        await client_stream.send_all(raw)
        result = await read_response(client_stream, client)
        if not keep_open:
            await client_stream.aclose()
    return result


async def test_get_is_dispatched_with_path_without_query(autojump_clock: trio.abc.Clock) -> None:
    server = AdminServer(echo, LIMITS)
    status, headers, body = await request(server, b"GET /health?x=1 HTTP/1.1\r\nHost: a\r\n\r\n")
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"method": "GET", "path": "/health"}


async def test_keep_alive_serves_several_requests_then_closes_on_eof(
    autojump_clock: trio.abc.Clock,
) -> None:
    server = AdminServer(echo, LIMITS)
    client_stream, server_stream = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.serve_stream, server_stream)
        client = h11.Connection(h11.CLIENT)
        for path in ("/a", "/b"):
            data = client.send(h11.Request(method="GET", target=path, headers=[("host", "t")]))
            data = (data or b"") + (client.send(h11.EndOfMessage()) or b"")
            await client_stream.send_all(data)
            status, _, body = await read_response(client_stream, client)
            assert (status, json.loads(body)["path"]) == (200, path)
            client.start_next_cycle()
        await client_stream.aclose()
    # serve_stream returned by itself once the client closed.


async def test_malformed_request_gets_400_and_close(autojump_clock: trio.abc.Clock) -> None:
    server = AdminServer(echo, LIMITS)
    status, headers, body = await request(server, b"NOT HTTP AT ALL\r\n\r\n")
    assert status == 400
    assert headers["connection"] == "close"
    assert json.loads(body)["status"] == "error"


async def test_oversized_head_gets_431(autojump_clock: trio.abc.Clock) -> None:
    server = AdminServer(echo, LIMITS)
    raw = b"GET /health HTTP/1.1\r\nHost: a\r\nX-Big: " + b"x" * 4096 + b"\r\n\r\n"
    status, headers, _ = await request(server, raw)
    assert status == 431
    assert headers["connection"] == "close"


async def test_oversized_body_gets_413(autojump_clock: trio.abc.Clock) -> None:
    server = AdminServer(echo, LIMITS)
    raw = b"GET /health HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n" + b"y" * 5000
    status, headers, _ = await request(server, raw)
    assert status == 413
    assert headers["connection"] == "close"


async def test_slow_client_gets_408_after_read_timeout(autojump_clock: trio.abc.Clock) -> None:
    server = AdminServer(echo, LIMITS)
    started = trio.current_time()
    status, headers, _ = await request(server, b"GET /health HTTP/1.1\r\nHo")
    assert status == 408
    assert headers["connection"] == "close"
    assert trio.current_time() - started >= LIMITS.read_timeout


async def test_idle_connection_is_closed_silently(autojump_clock: trio.abc.Clock) -> None:
    server = AdminServer(echo, LIMITS)
    client_stream, server_stream = trio.testing.memory_stream_pair()
    started = trio.current_time()
    await server.serve_stream(server_stream)
    assert trio.current_time() - started >= LIMITS.read_timeout
    assert await client_stream.receive_some(100) == b""  # closed, nothing sent


async def test_client_that_never_reads_is_dropped_after_write_timeout(
    autojump_clock: trio.abc.Clock,
) -> None:
    big = Response(200, b"z" * 100_000, "text/plain")
    server = AdminServer(lambda method, path: big, LIMITS)
    client_stream, server_stream = trio.testing.lockstep_stream_pair()
    started = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.serve_stream, server_stream)
        await client_stream.send_all(b"GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
    # serve_stream returned on its own: the write timed out and the stream was closed.
    assert trio.current_time() - started >= LIMITS.write_timeout


async def test_handler_bug_answers_500_and_connection_survives(
    autojump_clock: trio.abc.Clock,
) -> None:
    def broken(method: str, path: str) -> Response:
        raise RuntimeError("bug")

    status, headers, body = await request(
        AdminServer(broken, LIMITS), b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
    )
    assert status == 500
    assert "connection" not in headers
    assert json.loads(body)["reason"] == "internal error"


async def test_listener_on_loopback_serves_real_sockets() -> None:
    server = AdminServer(echo, LIMITS)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(server.run, Address("127.0.0.1", 0))
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        client = h11.Connection(h11.CLIENT)
        data = client.send(h11.Request(method="GET", target="/x", headers=[("host", "t")]))
        await stream.send_all((data or b"") + (client.send(h11.EndOfMessage()) or b""))
        status, _, body = await read_response(stream, client)
        assert (status, json.loads(body)["path"]) == (200, "/x")
        assert server.open_connections == 1
        await stream.aclose()
        nursery.cancel_scope.cancel()


async def test_connections_over_the_limit_are_closed_at_accept() -> None:
    server = AdminServer(echo, HttpLimits(max_connections=1))
    async with trio.open_nursery() as nursery:
        port = await nursery.start(server.run, Address("127.0.0.1", 0))
        first = await trio.open_tcp_stream("127.0.0.1", port)
        while server.open_connections < 1:
            await trio.sleep(0.001)
        second = await trio.open_tcp_stream("127.0.0.1", port)
        assert await second.receive_some(100) == b""  # closed without an answer
        assert server.open_connections == 1
        await first.aclose()
        await second.aclose()
        nursery.cancel_scope.cancel()
