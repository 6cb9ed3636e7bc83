"""Limits over all of a node's client connections: input memory, idle time, slow requests.

- `maxmemory-clients`: the input every client buffers, together (each connection's unparsed
  bytes plus the arguments already read of a request still arriving: Redis's query
  buffers), stays under the cap. Whenever a read takes the total over it, the connections
  holding the most are closed, largest first, until it is under again (Redis 7 evicts
  clients the same way; output buffers have their own limit, client-output-buffer-limit).
- `timeout` (seconds): a connection that has sent nothing and run nothing for that long is
  closed, as Redis closes idle clients. A connection executing a request, or subscribed to
  pub/sub channels, is never idle (as in Redis).
- `limits.request_read_timeout_ms`: once the first bytes of a request have arrived, the
  whole request must arrive within this, or the connection is closed: a client cannot hold
  a buffer, or a connection slot, by sending a request slowly.

Both caps are tunables (CONFIG SET changes them at once). Each closing is logged
(`client_closed reason=<limit>`) and counted in the node's limit hits. Time limits are
checked once a second, as Redis's clientsCron does; nothing here runs per read but the
bookkeeping of `note_input`.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Protocol

import trio

from seshat_trio.commands.context import ClientState
from seshat_trio.logs import get_logger
from seshat_trio.node.stats import NodeStats
from seshat_trio.tunables import Tunables

log = get_logger(__name__)

CHECK_INTERVAL_S = 1.0


class Tracked(Protocol):
    """What these limits need of a client connection (`server.connection.Connection`)."""

    @property
    def client(self) -> ClientState: ...

    # Input held, as last reported to `note_input` (maintained by ClientLimits).
    input_bytes: int
    # trio time at which the request still arriving began (None between requests).
    partial_since: float | None
    # Executing a request: never idle.
    busy: bool

    def kill(self) -> None: ...


class ClientLimits:
    def __init__(
        self,
        tunables: Tunables,
        request_read_timeout_s: float,
        stats: NodeStats,
        connections: Collection[Tracked],
    ) -> None:
        self._tunables = tunables
        self._request_s = request_read_timeout_s
        self._stats = stats
        self._connections = connections

    def note_input(self, conn: Tracked, held: int) -> None:
        """`conn` now holds `held` bytes of input; over the cap, the largest are closed."""
        self._stats.clients_input_bytes += held - conn.input_bytes
        conn.input_bytes = held
        cap = self._tunables.clients_input_cap
        if cap and self._stats.clients_input_bytes > cap:
            self._evict(cap)

    def forget(self, conn: Tracked) -> None:
        """`conn` is closing: what it held no longer counts."""
        self._stats.clients_input_bytes -= conn.input_bytes
        conn.input_bytes = 0

    def _evict(self, cap: int) -> None:
        while self._stats.clients_input_bytes > cap:
            largest = max(self._connections, key=_held, default=None)
            if largest is None or not largest.input_bytes:
                return
            total = self._stats.clients_input_bytes
            held = largest.input_bytes
            self.forget(largest)
            self._close(largest, "maxmemory_clients", input_bytes=held, total=total, cap=cap)

    async def run(self) -> None:
        """Close idle and slow connections, once a second, until cancelled."""
        while True:
            await trio.sleep(CHECK_INTERVAL_S)
            self.check(trio.current_time(), time.monotonic())

    def check(self, now: float, now_monotonic: float) -> None:
        idle_s = self._tunables.timeout
        for conn in list(self._connections):
            client = conn.client
            if client.closing:
                continue
            started = conn.partial_since
            if self._request_s and started is not None and now - started > self._request_s:
                self._close(conn, "request_read_timeout", waited_s=round(now - started, 3))
            elif (
                idle_s
                and not conn.busy
                and now_monotonic - client.last_active > idle_s
                and not (client.pubsub is not None and client.pubsub.subscribed)
            ):
                self._close(conn, "timeout", idle_s=int(now_monotonic - client.last_active))

    def _close(self, conn: Tracked, limit: str, **fields: object) -> None:
        self._stats.hit(limit)
        client = conn.client
        log.info("client_closed", reason=limit, client=client.id, addr=client.addr, **fields)
        conn.kill()


def _held(conn: Tracked) -> int:
    return conn.input_bytes
