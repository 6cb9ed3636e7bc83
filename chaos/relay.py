"""A fault-injecting TCP relay for one directed link between two nodes (Trio).

Node A's `--initial-members` names a relay's listen port instead of B's internal port, so
every byte A sends to B, and every byte B answers on A's connection, passes through the
relay of the link A->B (the transport opens one connection per direction per pair, see
docs/protocol.md). The relay can:

- block: existing connections are closed and new ones are accepted and closed at once, so
  nothing of A's reaches B on this link (a one-way partition A -x-> B is exactly this; B's
  own messages to A travel on the link B->A, which stays open);
- add latency: each chunk is delayed by a fixed time in each direction, order preserved;
- drop connections: close every current connection once (the nodes redial).

Rules: the relay never reorders or alters bytes it delivers; every connection it opens is
closed when the link is closed or its task is cancelled; it binds 127.0.0.1 only.
"""

from __future__ import annotations

import attrs
import trio

#: Largest read per chunk; also bounds what one delayed chunk holds.
CHUNK_BYTES = 65536
#: Most chunks a latency pipe buffers before it applies back-pressure to the sender.
PIPE_BUFFER_CHUNKS = 4096


@attrs.frozen(slots=True)
class LinkStats:
    """Counters of one link, for reports."""

    accepted: int
    refused: int
    dropped: int
    forwarded_bytes: int


class Link:
    """The relay of one directed link `src -> dst` forwarding to `target_port`."""

    def __init__(self, src: int, dst: int, target_port: int) -> None:
        self.src = src
        self.dst = dst
        self.target_port = target_port
        self.port = 0  # known once `serve` has bound its listener
        self.blocked = False
        self.latency = 0.0
        self._connections: set[trio.CancelScope] = set()
        self._accepted = 0
        self._refused = 0
        self._dropped = 0
        self._forwarded = 0

    def __repr__(self) -> str:
        return f"Link({self.src}->{self.dst} :{self.port} -> :{self.target_port})"

    @property
    def stats(self) -> LinkStats:
        return LinkStats(self._accepted, self._refused, self._dropped, self._forwarded)

    async def serve(self, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Listen and relay until cancelled; reports the bound port through `task_status`."""
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            task_status.started(self.port)
            await trio.serve_listeners(self._handle, listeners, handler_nursery=nursery)

    def block(self) -> None:
        """Refuse new connections and close the current ones."""
        self.blocked = True
        self.drop_connections()

    def heal(self) -> None:
        """Undo `block` and remove any latency."""
        self.blocked = False
        self.latency = 0.0

    def drop_connections(self) -> None:
        """Close every connection currently relayed (both ends)."""
        for scope in list(self._connections):
            scope.cancel()
        self._dropped += len(self._connections)

    async def _handle(self, downstream: trio.SocketStream) -> None:
        async with downstream:
            if self.blocked:
                self._refused += 1
                return
            try:
                upstream = await trio.open_tcp_stream("127.0.0.1", self.target_port)
            except OSError:
                self._refused += 1
                return
            self._accepted += 1
            with trio.CancelScope() as scope:
                self._connections.add(scope)
                try:
                    async with upstream, trio.open_nursery() as nursery:
                        nursery.start_soon(self._pipe, downstream, upstream, scope)
                        nursery.start_soon(self._pipe, upstream, downstream, scope)
                finally:
                    self._connections.discard(scope)

    async def _pipe(
        self, source: trio.SocketStream, sink: trio.SocketStream, scope: trio.CancelScope
    ) -> None:
        """Copy one direction; a chunk leaves `latency` seconds after it arrived.

        Any end of either direction ends the whole connection (`scope`): a half-closed
        relayed connection would hide a peer's crash from the other side."""
        send, receive = trio.open_memory_channel[tuple[float, bytes]](PIPE_BUFFER_CHUNKS)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._deliver, receive, sink)
                async with send:
                    while True:
                        data = await source.receive_some(CHUNK_BYTES)
                        if not data:
                            break
                        await send.send((trio.current_time() + self.latency, data))
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass
        finally:
            scope.cancel()

    async def _deliver(
        self, receive: trio.MemoryReceiveChannel[tuple[float, bytes]], sink: trio.SocketStream
    ) -> None:
        async with receive:
            async for due, data in receive:
                await trio.sleep_until(due)
                if self.blocked:
                    continue
                await sink.send_all(data)
                self._forwarded += len(data)


class RelayMesh:
    """One `Link` per ordered pair of nodes; `port_of(a, b)` is what a dials for b."""

    def __init__(self, internal_ports: dict[int, int]) -> None:
        self.links = {
            (a, b): Link(a, b, internal_ports[b])
            for a in internal_ports
            for b in internal_ports
            if a != b
        }

    async def start(self, nursery: trio.Nursery) -> None:
        for link in self.links.values():
            await nursery.start(link.serve)

    def port_of(self, src: int, dst: int) -> int:
        return self.links[(src, dst)].port

    def block(self, src: int, dst: int) -> None:
        """One-way partition: nothing src sends to dst arrives (dst -> src still flows)."""
        self.links[(src, dst)].block()

    def partition(self, *sides: set[int]) -> None:
        """Cut every link between nodes on different sides (both directions)."""
        for (a, b), link in self.links.items():
            if not any(a in side and b in side for side in sides):
                link.block()

    def isolate(self, node: int) -> None:
        others = {n for n, _ in self.links if n != node}
        self.partition({node}, others)

    def set_latency(self, seconds: float) -> None:
        """Delay every chunk on every link by `seconds` in each direction."""
        for link in self.links.values():
            link.latency = seconds

    def drop_connections(self) -> None:
        for link in self.links.values():
            link.drop_connections()

    def heal(self) -> None:
        for link in self.links.values():
            link.heal()
