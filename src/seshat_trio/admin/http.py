"""A small HTTP/1.1 server for the admin endpoints: Trio streams, h11 parsing (sans-IO).

The server knows nothing about seshat: it parses requests and hands (method, path and the
Authorization header) to a synchronous handler that returns a `Response`. One task per
connection, owned by the `serve_listeners` nursery inside `run` (so by the node nursery
that runs it).

Rules it lives by, because anything on the network may send anything:
- The request head is bounded (`max_request_bytes`, else 431) and so is a body (else 413);
  a request that h11 cannot parse gets 400. Each of these closes the connection.
- A request's head must arrive within `header_timeout` of the wait for it starting (at
  accept, or after the previous response), and the whole request within `read_timeout`
  (408 if it started, a silent close if the connection was merely idle between keep-alive
  requests); a response must be taken by the client within `write_timeout`, else the
  connection is dropped.
- At most `max_connections` connections at once, and slow ones never lock health checks
  out: when a connection arrives at the cap, the one that has waited longest for its
  request head (idle or trickling bytes) is closed to make room; only when every
  connection is busy answering is the newcomer closed instead. A health check sends its
  request at once, so it is never the one waiting longest.
- Each limit hit is reported through `on_limit(name)` (the node counts them).
- A handler bug answers 500 and is logged; no connection failure ever reaches the node.
"""

from __future__ import annotations

import http
import json
import math
from collections.abc import Callable, Mapping
from typing import Protocol

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


class Handler(Protocol):
    """(method, path without query, Authorization header) -> response; runs on the event
    loop, so it must be quick."""

    def __call__(self, method: str, path: str, *, authorization: str = "") -> Response: ...


@attrs.frozen(slots=True, kw_only=True)
class HttpLimits:
    max_request_bytes: int = 8192  # request line + headers, and separately any body
    header_timeout: float = 2.0  # to receive a request's head (or idle between requests)
    read_timeout: float = 10.0  # to receive one whole request
    write_timeout: float = 10.0  # for the client to take one response
    max_connections: int = 32


class _Slot:
    """One open connection: its scope (to evict it) and since when it waits for a head."""

    __slots__ = ("scope", "waiting_since")

    def __init__(self) -> None:
        self.scope = trio.CancelScope()
        self.waiting_since: float | None = None


class AdminServer:
    def __init__(
        self,
        handler: Handler,
        limits: HttpLimits | None = None,
        on_limit: Callable[[str], None] = lambda _name: None,
    ) -> None:
        self._handler = handler
        self._limits = limits or HttpLimits()
        self._on_limit = on_limit
        self._slots: set[_Slot] = set()

    @property
    def open_connections(self) -> int:
        return len(self._slots)

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
        if len(self._slots) >= self._limits.max_connections and not self._evict_slowest():
            self._on_limit("http_max_connections")
            await trio.aclose_forcefully(stream)
            return
        slot = _Slot()
        self._slots.add(slot)
        try:
            with slot.scope:
                await self.serve_stream(stream, slot)
        except Exception:
            log.exception("admin_connection_failed")
        finally:
            self._slots.discard(slot)
            await trio.aclose_forcefully(stream)

    def _evict_slowest(self) -> bool:
        """Close the connection waiting longest for a request head; False if none waits."""
        waiting = [slot for slot in self._slots if slot.waiting_since is not None]
        if not waiting:
            return False
        slowest = min(waiting, key=_waiting_since)
        self._slots.discard(slowest)
        slowest.waiting_since = None
        slowest.scope.cancel()
        self._on_limit("http_slow_connection_evicted")
        return True

    async def serve_stream(self, stream: trio.abc.Stream, slot: _Slot | None = None) -> None:
        """Answer requests on `stream` (keep-alive) until either side closes; closes it."""
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self._limits.max_request_bytes)
        slot = slot if slot is not None else _Slot()
        try:
            while True:
                response = await self._next_response(conn, stream, slot)
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
        self, conn: h11.Connection, stream: trio.abc.Stream, slot: _Slot
    ) -> Response | None:
        """The response to the next request; None when the client closed or went idle."""
        started = trio.current_time()
        slot.waiting_since = started
        try:
            with trio.CancelScope(deadline=started + self._limits.header_timeout) as wait:
                try:
                    return await self._read_request(conn, stream, slot, wait, started)
                except h11.RemoteProtocolError as exc:
                    return Response.error(exc.error_status_hint, f"bad request: {exc}")
        finally:
            slot.waiting_since = None
        pending, _ = conn.trailing_data
        if conn.their_state is h11.IDLE and not pending:
            return None
        self._on_limit("http_request_timeout")
        return Response.error(408, "request not received in time")

    async def _read_request(
        self,
        conn: h11.Connection,
        stream: trio.abc.Stream,
        slot: _Slot,
        wait: trio.CancelScope,
        started: float,
    ) -> Response | None:
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
                # The head is in: no longer evictable, and the body gets the rest of
                # read_timeout.
                slot.waiting_since = None
                wait.deadline = started + self._limits.read_timeout
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
        # h11 lower-cases header names.
        found = [value for name, value in request.headers if name == b"authorization"]
        authorization = found[0].decode("latin-1") if found else ""
        try:
            return self._handler(method, path, authorization=authorization)
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
        if resp.status >= 400 and resp.status not in (401, 404, 405, 500, 503):
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


def _waiting_since(slot: _Slot) -> float:
    return slot.waiting_since if slot.waiting_since is not None else math.inf


def _head_bytes(request: h11.Request) -> int:
    """The size of the request line and headers as sent (h11 normalizes only whitespace)."""
    line = len(request.method) + len(request.target) + len(b"  HTTP/1.1\r\n")
    return line + sum(len(name) + len(value) + 4 for name, value in request.headers) + 2
