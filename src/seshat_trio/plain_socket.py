"""A TCP stream with the fewest scheduler passes per message: client and peer sockets.

`trio.SocketStream` yields to the scheduler after every successful `recv` and `send`
(a `cancel_shielded_checkpoint`) and wraps each call in conflict detectors and context
managers. At one command per read that is three scheduler passes per request, which
measured at about a fifth of a small command's cost on the reference machine. Here a
request costs one: the task parks in `wait_readable` until the peer sends, then reads and
answers without yielding again. Fairness is kept by yielding when a read found data
waiting without parking (a pipelining client must not starve the others).

One task may receive while another sends (a peer link's receive loop and its pump); at
most one task sends (there is no conflict detector). After `aclose`, calls raise
`trio.BrokenResourceError` (EBADF) rather than `ClosedResourceError`; both end a connection.
"""

from __future__ import annotations

import os
import socket
from typing import Protocol

import trio

# Larger buffers cost an mmap/munmap per receive (measured: 256 KiB halves round trips).
RECEIVE_BYTES = 1 << 16


class ByteStream(Protocol):
    """What the RESP connections and the peer links need of a byte stream (a
    `PlainSocketStream`, or an in-memory stream in tests)."""

    async def receive_some(self, max_bytes: int) -> bytes: ...

    async def send_all(self, data: bytes) -> None: ...

    async def aclose(self) -> None: ...


class PlainSocketStream:
    """A connected, non-blocking stream socket taken over from a `trio.SocketStream` (whose
    socket options, such as TCP_NODELAY, it keeps)."""

    __slots__ = ("_sock",)

    def __init__(self, stream: trio.SocketStream) -> None:
        # The file descriptor moves to a plain socket object; the Trio socket is left closed.
        fd = stream.socket.detach()
        try:
            self._sock = socket.socket(fileno=fd)
        except OSError:
            os.close(fd)
            raise
        self._sock.setblocking(False)

    async def wait_closed(self) -> None:
        """Return once the peer has closed the connection, consuming nothing: data waiting
        unread hides a close behind it, so then this waits on until cancelled."""
        while True:
            await trio.lowlevel.wait_readable(self._sock)
            try:
                waiting = self._sock.recv(1, socket.MSG_PEEK)
            except BlockingIOError:
                continue
            except OSError:
                return  # reset by the peer
            if not waiting:
                return
            await trio.sleep_forever()

    def setsockopt(self, level: int, option: int, value: int) -> None:
        self._sock.setsockopt(level, option, value)

    def getpeername(self) -> tuple[str, int]:
        host, port = self._sock.getpeername()[:2]
        return str(host), int(port)

    async def receive_some(self, max_bytes: int = RECEIVE_BYTES) -> bytes:
        """The next bytes from the peer; b"" at end of stream."""
        sock = self._sock
        # A cancellation point even when data is waiting (deadlines such as a handshake's
        # must fire while a peer keeps sending); it yields only if cancelled.
        await trio.lowlevel.checkpoint_if_cancelled()
        try:
            data = sock.recv(max_bytes)
        except BlockingIOError:
            pass
        except OSError as exc:
            raise trio.BrokenResourceError(str(exc)) from exc
        else:
            # It did not park: let other tasks run. Shielded, as a cancellation here would
            # drop bytes already taken from the socket.
            await trio.lowlevel.cancel_shielded_checkpoint()
            return data
        return await self.receive_after_reply(max_bytes)

    async def receive_after_reply(self, max_bytes: int = RECEIVE_BYTES) -> bytes:
        """The next bytes from a peer that was just answered; b"" at end of stream.

        A client that waits for its replies (each of redis-benchmark's, with or without
        -P) sends again only once the reply that just left reaches it: a `recv` now finds
        nothing (0.95 failed `recv` per GET at 50 clients, counted), so park first. Bytes
        already waiting cost a scheduler pass more; a cancellation takes none of them."""
        sock = self._sock
        while True:
            await trio.lowlevel.wait_readable(sock)
            try:
                return sock.recv(max_bytes)
            except BlockingIOError:
                continue  # a spurious wake-up
            except OSError as exc:
                raise trio.BrokenResourceError(str(exc)) from exc

    async def send_all(self, data: bytes) -> None:
        """Send all of `data`, parking only while the socket's buffer is full."""
        sock = self._sock
        view = memoryview(data)
        while view:
            try:
                sent = sock.send(view)
            except BlockingIOError:
                await trio.lowlevel.wait_writable(sock)
                continue
            except OSError as exc:
                raise trio.BrokenResourceError(str(exc)) from exc
            view = view[sent:]

    def send_now(self, data: bytes) -> int:
        """Send what the socket's buffer takes of `data` without parking: the bytes sent
        (0 when the buffer is full); BrokenResourceError when the connection is gone."""
        try:
            return self._sock.send(data)
        except BlockingIOError:
            return 0
        except OSError as exc:
            raise trio.BrokenResourceError(str(exc)) from exc

    async def aclose(self) -> None:
        if self._sock.fileno() != -1:
            trio.lowlevel.notify_closing(self._sock)
            self._sock.close()
        await trio.lowlevel.checkpoint()
