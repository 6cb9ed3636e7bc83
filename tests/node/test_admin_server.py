"""The admin HTTP server over in-memory streams, on MockClock time (autojump_clock)."""

from __future__ import annotations

import json

import h11
import trio
import trio.testing

from seshat_trio.admin import AdminServer, HttpLimits, Response
from seshat_trio.config import Address

LIMITS = HttpLimits(max_request_bytes=1024, read_timeout=5.0, write_timeout=5.0)


def echo(method: str, path: str, *, authorization: str = "") -> Response:
    return Response.json(200, {"method": method, "path": path, "auth": authorization})


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
    assert json.loads(body) == {"method": "GET", "path": "/health", "auth": ""}


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


async def test_slow_head_gets_408_after_header_timeout(autojump_clock: trio.abc.Clock) -> None:
    hits: list[str] = []
    server = AdminServer(echo, LIMITS, on_limit=hits.append)
    started = trio.current_time()
    status, headers, _ = await request(server, b"GET /health HTTP/1.1\r\nHo")
    assert status == 408
    assert headers["connection"] == "close"
    assert LIMITS.header_timeout <= trio.current_time() - started < LIMITS.read_timeout
    assert hits == ["http_request_timeout"]


async def test_slow_body_gets_408_after_read_timeout(autojump_clock: trio.abc.Clock) -> None:
    server = AdminServer(echo, LIMITS)
    started = trio.current_time()
    raw = b"GET /health HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc"
    status, _, _ = await request(server, raw)
    assert status == 408
    assert trio.current_time() - started >= LIMITS.read_timeout


async def test_idle_connection_is_closed_silently(autojump_clock: trio.abc.Clock) -> None:
    server = AdminServer(echo, LIMITS)
    client_stream, server_stream = trio.testing.memory_stream_pair()
    started = trio.current_time()
    await server.serve_stream(server_stream)
    assert trio.current_time() - started >= LIMITS.header_timeout
    assert await client_stream.receive_some(100) == b""  # closed, nothing sent


async def test_client_that_never_reads_is_dropped_after_write_timeout(
    autojump_clock: trio.abc.Clock,
) -> None:
    big = Response(200, b"z" * 100_000, "text/plain")
    server = AdminServer(lambda method, path, authorization="": big, LIMITS)
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
    def broken(method: str, path: str, *, authorization: str = "") -> Response:
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


async def _get(port: int, path: str = "/health") -> tuple[int, bytes]:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    client = h11.Connection(h11.CLIENT)
    data = client.send(h11.Request(method="GET", target=path, headers=[("host", "t")]))
    await stream.send_all((data or b"") + (client.send(h11.EndOfMessage()) or b""))
    status, _, body = await read_response(stream, client)
    await stream.aclose()
    return status, body


async def _closed(stream: trio.abc.Stream) -> bool:
    with trio.fail_after(5):
        try:
            while await stream.receive_some(100):
                pass
        except trio.BrokenResourceError:
            pass
    return True


async def test_slow_connections_at_the_cap_make_room_for_health_checks() -> None:
    """The issue's attack: every slot held by a connection trickling a request head."""
    hits: list[str] = []
    limits = HttpLimits(max_connections=4, header_timeout=30.0, read_timeout=60.0)
    server = AdminServer(echo, limits, on_limit=hits.append)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(server.run, Address("127.0.0.1", 0))
        slow = []
        for _ in range(4):
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            await stream.send_all(b"GET /health HTTP/1.1\r\nX-Slow: ")
            slow.append(stream)
        while server.open_connections < 4:
            await trio.sleep(0.001)
        with trio.fail_after(2):  # at once, though every slot was taken
            for _ in range(8):
                status, body = await _get(port)
                assert status == 200 and json.loads(body)["path"] == "/health"
        # One trickler made room; each health check then left its slot free for the next.
        assert hits == ["http_slow_connection_evicted"]
        assert await _closed(slow[0])  # the oldest trickler went first
        assert server.open_connections <= 4
        for stream in slow:
            await stream.aclose()
        nursery.cancel_scope.cancel()


async def test_a_newcomer_is_closed_only_when_no_connection_waits() -> None:
    hits: list[str] = []
    limits = HttpLimits(max_connections=1, write_timeout=30.0)
    big = Response(200, b"z" * (32 << 20), "text/plain")
    server = AdminServer(lambda method, path, authorization="": big, limits, on_limit=hits.append)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(server.run, Address("127.0.0.1", 0))
        busy = await trio.open_tcp_stream("127.0.0.1", port)
        await busy.send_all(b"GET /big HTTP/1.1\r\nHost: a\r\n\r\n")  # and never read
        await trio.sleep(0.2)  # its response fills the socket buffers: busy, not waiting
        second = await trio.open_tcp_stream("127.0.0.1", port)
        assert await _closed(second)
        assert hits == ["http_max_connections"]
        await busy.aclose()
        nursery.cancel_scope.cancel()
