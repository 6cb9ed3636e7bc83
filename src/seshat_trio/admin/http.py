"""A small HTTP/1.1 server for the admin endpoints: Trio streams, h11 parsing (sans-IO).

The server knows nothing about seshat: it parses requests and hands (method, path) to a
synchronous handler that returns a `Response`. One task per connection, owned by the
`serve_listeners` nursery inside `run` (so by the node nursery that runs it).

Rules it lives by, because anything on the network may send anything:
- The request head is bounded (`max_request_bytes`, else 431) and so is a body (else 413);
  a request that h11 cannot parse gets 400. Each of these closes the connection.
- A request must arrive within `read_timeout` (408 if it started, a silent close if the
  connection was merely idle between keep-alive requests); a response must be taken by
  the client within `write_timeout`, else the connection is dropped.
- At most `max_connections` connections at once; more are closed at accept.
- A handler bug answers 500 and is logged; no connection failure ever reaches the node.
"""

from __future__ import annotations

import http
import json
from collections.abc import Callable, Mapping

import attrs
import h11
import trio

from seshat_trio.config import Address
from seshat_trio.logs import get_logger

log = get_logger(__name__)

RECEIVE_BYTES = 16384
JSON_CONTENT_TYPE = "application/json"


@attrs.frozen(slots=True)
class Response:
    status: int
    body: bytes
    content_type: str = JSON_CONTENT_TYPE
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(
        cls, status: int, payload: Mapping[str, object], headers: tuple[tuple[str, str], ...] = ()
    ) -> Response:
        return cls(status, json.dumps(payload).encode() + b"\n", JSON_CONTENT_TYPE, headers)

    @classmethod
    def error(cls, status: int, reason: str) -> Response:
        return cls.json(status, {"status": "error", "reason": reason})


# (method, path without query) -> response; runs on the event loop, so it must be quick.
Handler = Callable[[str, str], Response]


@attrs.frozen(slots=True, kw_only=True)
class HttpLimits:
    max_request_bytes: int = 8192  # request line + headers, and separately any body
    read_timeout: float = 10.0  # to receive one whole request (or idle between requests)
    write_timeout: float = 10.0  # for the client to take one response
    max_connections: int = 32


class AdminServer:
    def __init__(self, handler: Handler, limits: HttpLimits | None = None) -> None:
        self._handler = handler
        self._limits = limits or HttpLimits()
        self._open = 0

    @property
    def open_connections(self) -> int:
        return self._open

    async def run(
        self, addr: Address, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Serve on `addr` until cancelled; reports the bound port through `task_status`."""
        listeners = await trio.open_tcp_listeners(addr.port, host=addr.host)
        port = int(listeners[0].socket.getsockname()[1])
        log.info("admin_listening", http_addr=f"{addr.host}:{port}")
        task_status.started(port)
        await trio.serve_listeners(self._serve_client, listeners)

    async def _serve_client(self, stream: trio.SocketStream) -> None:
        if self._open >= self._limits.max_connections:
            await trio.aclose_forcefully(stream)
            return
        self._open += 1
        try:
            await self.serve_stream(stream)
        except Exception:
            log.exception("admin_connection_failed")
        finally:
            self._open -= 1

    async def serve_stream(self, stream: trio.abc.Stream) -> None:
        """Answer requests on `stream` (keep-alive) until either side closes; closes it."""
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self._limits.max_request_bytes)
        try:
            while True:
                response = await self._next_response(conn, stream)
                if response is None or not await self._send(conn, stream, response):
                    return
                if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    return
                conn.start_next_cycle()
        except (trio.BrokenResourceError, trio.ClosedResourceError, h11.LocalProtocolError):
            return
        finally:
            await trio.aclose_forcefully(stream)

    async def _next_response(
        self, conn: h11.Connection, stream: trio.abc.Stream
    ) -> Response | None:
        """The response to the next request; None when the client closed or went idle."""
        with trio.move_on_after(self._limits.read_timeout):
            try:
                return await self._read_request(conn, stream)
            except h11.RemoteProtocolError as exc:
                return Response.error(exc.error_status_hint, f"bad request: {exc}")
        pending, _ = conn.trailing_data
        if conn.their_state is h11.IDLE and not pending:
            return None
        return Response.error(408, "request not received in time")

    async def _read_request(self, conn: h11.Connection, stream: trio.abc.Stream) -> Response | None:
        request: h11.Request | None = None
        body_bytes = 0
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(bytes(await stream.receive_some(RECEIVE_BYTES)))
            elif isinstance(event, h11.Request):
                # h11 bounds only a head still incomplete in its buffer; one that arrived
                # whole in a single receive is measured here.
                if _head_bytes(event) > self._limits.max_request_bytes:
                    return Response.error(431, "request head too large")
                request = event
            elif isinstance(event, h11.Data):
                body_bytes += len(event.data)
                if body_bytes > self._limits.max_request_bytes:
                    return Response.error(413, "request body too large")
            elif isinstance(event, h11.EndOfMessage):
                assert request is not None
                return self._dispatch(request)
            elif isinstance(event, h11.ConnectionClosed):
                return None

    def _dispatch(self, request: h11.Request) -> Response:
        method = request.method.decode("ascii", "replace")
        path = request.target.split(b"?", 1)[0].decode("ascii", "replace")
        try:
            return self._handler(method, path)
        except Exception:
            log.exception("admin_handler_failed", method=method, path=path)
            return Response.error(500, "internal error")

    async def _send(self, conn: h11.Connection, stream: trio.abc.Stream, resp: Response) -> bool:
        """Send `resp`; False when the client did not take it in time."""
        headers = [
            ("content-type", resp.content_type),
            ("content-length", str(len(resp.body))),
            *resp.headers,
        ]
        if resp.status >= 400 and resp.status not in (404, 405, 500, 503):
            # The request was not understood or not received whole: the stream cannot be
            # trusted to be at a request boundary.
            headers.append(("connection", "close"))
        reason = http.HTTPStatus(resp.status).phrase.encode()
        events = (
            h11.Response(status_code=resp.status, headers=headers, reason=reason),
            h11.Data(data=resp.body),
            h11.EndOfMessage(),
        )
        data = b"".join(conn.send(event) or b"" for event in events)
        with trio.move_on_after(self._limits.write_timeout):
            await stream.send_all(data)
            return True
        return False


def _head_bytes(request: h11.Request) -> int:
    """The size of the request line and headers as sent (h11 normalizes only whitespace)."""
    line = len(request.method) + len(request.target) + len(b"  HTTP/1.1\r\n")
    return line + sum(len(name) + len(value) + 4 for name, value in request.headers) + 2
