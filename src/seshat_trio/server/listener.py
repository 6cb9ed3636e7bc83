"""The RESP listener: accepts clients and supervises one task per connection.

It listens on the plain client port and, when `tls.tls_port` is set, on the TLS port too;
both serve the same commands. Each connection gets its own authentication session (the
default user until AUTH) from the node's users; protected mode may refuse it first.

Shutdown (`stop`) is graceful: the listener stops accepting, idle connections are closed,
and a connection that is executing a request finishes it and sends its replies first.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Awaitable, Callable
from functools import partial

import trio

from seshat_trio.commands.context import Backend, ClientIds, ClientState, CommandContext
from seshat_trio.commands.permissions import subscriptions_of
from seshat_trio.config import Config
from seshat_trio.logs import get_logger
from seshat_trio.node.stats import NodeStats
from seshat_trio.plain_socket import ByteStream, PlainSocketStream
from seshat_trio.protocol import ParserLimits
from seshat_trio.pubsub.hub import PubSubHub
from seshat_trio.server import protected_mode
from seshat_trio.server.client_limits import ClientLimits
from seshat_trio.server.connection import Connection
from seshat_trio.server.tls import TlsContext, accept_tls
from seshat_trio.tunables import Tunables

log = get_logger(__name__)

MAX_CLIENTS_REPLY = b"-ERR max number of clients reached\r\n"
ACCEPT_RESOURCE_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS}
ACCEPT_BACKOFF_S = 0.1


class RespListener:
    def __init__(
        self,
        config: Config,
        backend: Backend,
        stats: NodeStats,
        client_ids: ClientIds,
        *,
        pubsub: PubSubHub | None = None,
        tunables: Tunables | None = None,
    ) -> None:
        self._config = config
        self._pubsub = pubsub
        self._tunables = tunables or Tunables.from_config(config.redis)
        self._backend = backend
        self._stats = stats
        self._client_ids = client_ids
        limits = config.limits
        self._parser_limits = ParserLimits(
            max_bulk_len=limits.max_bulk_len,
            max_multibulk_len=limits.max_multibulk_len,
            max_inline_len=limits.max_inline_len,
            max_request_bytes=limits.max_request_bytes,
        )
        self._connections: set[Connection] = set()
        self._client_limits = ClientLimits(
            self._tunables, limits.request_read_timeout_ms / 1000, stats, self._connections
        )
        # Loaded here so that a bad certificate or key stops the node at start-up.
        self._tls = TlsContext(config.tls) if config.tls.tls_port else None
        self._accept_scope = trio.CancelScope()
        self._drained = trio.Event()

    async def run(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until `stop`; reports the bound (plain) port through `task_status`."""
        addr = self._config.node.client_addr
        listeners = await trio.open_tcp_listeners(addr.port, host=addr.host)
        port = int(listeners[0].socket.getsockname()[1])
        log.info("listening", client_addr=f"{addr.host}:{port}")
        tls_listeners: list[trio.SocketListener] = []
        if self._tls is not None:
            tls_port = self._config.tls.tls_port
            tls_listeners = await trio.open_tcp_listeners(tls_port, host=addr.host)
            log.info("listening_tls", tls_addr=f"{addr.host}:{tls_port}")
        if protected_mode.exposed(self._config.auth.protected_mode, self._backend.users, addr):
            log.warning(
                "protected_mode",
                note="the default user has no password: only loopback clients are served "
                "(set one with ACL SETUSER default on >password, or --no-protected-mode)",
            )
        # Connections live in their own nursery, outside the accept loop's cancel scope, so
        # that stopping the accept loop does not cancel requests in progress.
        async with trio.open_nursery() as connections:
            limits_scope = trio.CancelScope()
            connections.start_soon(_run_in, limits_scope, self._client_limits.run)
            task_status.started(port)
            with self._accept_scope:
                async with trio.open_nursery() as accepting:
                    for listener in listeners:
                        accepting.start_soon(self._accept_loop, listener, connections, False)
                    for listener in tls_listeners:
                        accepting.start_soon(self._accept_loop, listener, connections, True)
            # Accepting stopped: let busy connections answer, close the idle ones.
            for listener in listeners + tls_listeners:
                await listener.aclose()
            for conn in list(self._connections):
                conn.stop()
            limits_scope.cancel()
        self._drained.set()

    async def _accept_loop(
        self, listener: trio.SocketListener, connections: trio.Nursery, tls: bool
    ) -> None:
        while True:
            try:
                stream = await listener.accept()
            except OSError as exc:
                if exc.errno not in ACCEPT_RESOURCE_ERRNOS:
                    raise
                # Out of file descriptors or memory: back off instead of spinning; clients
                # that are already connected keep being served.
                log.warning("accept_failed", error=os.strerror(exc.errno or 0))
                await trio.sleep(ACCEPT_BACKOFF_S)
                continue
            connections.start_soon(self._serve_client, stream, tls)

    async def drained(self) -> None:
        """Return once `run` has stopped and every connection is closed."""
        await self._drained.wait()

    def stop(self) -> None:
        self._accept_scope.cancel()

    # -- ClientRegistry (CLIENT LIST / KILL) -------------------------------------------------
    def clients(self) -> list[ClientState]:
        return [conn.client for conn in self._connections]

    def kill(self, client_id: int) -> bool:
        for conn in self._connections:
            if conn.client.id == client_id:
                conn.kill()
                return True
        return False

    async def _serve_client(self, stream: trio.SocketStream, tls: bool) -> None:
        stats = self._stats
        stats.total_connections_received += 1
        if stats.connected_clients >= self._config.limits.max_clients:
            stats.rejected_connections += 1
            try:
                await stream.send_all(MAX_CLIENTS_REPLY)
            finally:
                await stream.aclose()
            return
        try:
            host, port = stream.socket.getpeername()[:2]
        except OSError:
            await stream.aclose()  # the client is already gone
            return
        sock: ByteStream | None
        if tls:
            assert self._tls is not None
            sock = await accept_tls(stream, self._tls.current())
            if sock is None:
                stats.tls_handshake_failures += 1
                return
        else:
            sock = PlainSocketStream(stream)
        users = self._backend.users
        if protected_mode.refused(self._config.auth.protected_mode, users, str(host)):
            stats.rejected_connections += 1
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await sock.send_all(protected_mode.DENIED)
            await sock.aclose()
            return
        client = ClientState(
            id=self._client_ids.take(), addr=f"{host}:{port}", auth=users.session(), tls=tls
        )
        ctx = CommandContext(
            client,
            self._backend,
            self._config,
            registry=self,
            pubsub=self._pubsub,
            tunables=self._tunables,
        )
        conn = Connection(sock, ctx, self._parser_limits, stats, self._client_limits)
        # Deleting its user, or taking away a channel it is subscribed to, closes it.
        client.auth.on_revoked = conn.kill
        client.auth.subscriptions = partial(subscriptions_of, client)
        stats.connected_clients += 1
        self._connections.add(conn)
        try:
            await conn.serve()
        except Exception:
            # A bug while serving one client must not take the node (and every other
            # client) down with it: log it loudly and drop only this connection.
            log.exception("connection_failed", client=client.id, addr=client.addr)
        finally:
            self._connections.discard(conn)
            stats.connected_clients -= 1


async def _run_in(scope: trio.CancelScope, task: Callable[[], Awaitable[None]]) -> None:
    with scope:
        await task()
