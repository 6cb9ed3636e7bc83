"""One framed TCP connection: decoded inbound messages, batched outbound frames.

`FramedStream.receive()` reads until one whole frame is buffered and decodes it; once the
handshake has `authenticate`d it, every frame sent carries its MAC tag and every frame
received must carry a valid one. `Mailbox` is an Outbox plus a wake-up for the single sender
task of a connection, which writes everything queued (up to max_batch_bytes) with ONE
send_all: one syscall and one scheduler pass per batch instead of per message. While that
task is parked with nothing queued, a frame pushed without a tag is written at once by the
pusher itself (one `send`, no wake-up and no scheduler pass for the sender task: the Raft
driver's Appends and acknowledgements, a forwarded reply); bytes the socket does not take
go to the sender task, ahead of anything queued later, so frames (and their MAC sequence
numbers) reach the wire in push order. `run_both`
runs a connection's receive and send loops and reports why the connection ended, so callers
deal with one reason instead of an exception group.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable

import trio

from seshat_trio.plain_socket import ByteStream, PlainSocketStream
from seshat_trio.transport import codec
from seshat_trio.transport.auth import SessionKeys
from seshat_trio.transport.errors import PeerClosed, TransportError
from seshat_trio.transport.framing import FrameDecoder, encode_frame
from seshat_trio.transport.messages import WireMessage
from seshat_trio.transport.outbox import Outbox, Priority, QueuedFrame

# Receive buffer per read: 64 KiB, larger buffers measured slower here (mmap per call).
READ_BYTES = 1 << 16

# Failures that end one connection and nothing else.
CONNECTION_FAILURES = (trio.BrokenResourceError, trio.ClosedResourceError, OSError, TransportError)
ConnectionEnd = trio.BrokenResourceError | trio.ClosedResourceError | OSError | TransportError


def frame_of(msg: WireMessage) -> bytes:
    return encode_frame(codec.encode(msg))


def tune_socket(stream: PlainSocketStream, user_timeout: float) -> None:
    """Notice a dead peer within `user_timeout` even while only sending (Linux only)."""
    option = getattr(socket, "TCP_USER_TIMEOUT", None)
    if option is not None:
        stream.setsockopt(socket.IPPROTO_TCP, option, int(user_timeout * 1000))


class FramedStream:
    def __init__(self, stream: ByteStream, max_frame_bytes: int) -> None:
        self.stream = stream
        self._decoder = FrameDecoder(max_frame_bytes)
        self._keys: SessionKeys | None = None

    def authenticate(self, keys: SessionKeys, max_frame_bytes: int) -> None:
        """Tag every later frame in both directions; frames may now be `max_frame_bytes`."""
        self._keys = keys
        self._decoder.authenticate(keys.receive, max_frame_bytes)

    async def receive(self) -> WireMessage:
        """The next message; PeerClosed at end of stream, FrameError/CodecError on bad bytes."""
        while True:
            frame = self._decoder.next_frame()
            if frame is not None:
                return codec.decode(frame)
            data = await self.stream.receive_some(READ_BYTES)
            if not data:
                raise PeerClosed("peer closed the connection")
            self._decoder.feed(data)

    async def send(self, msg: WireMessage) -> None:
        await self.send_frames([frame_of(msg)])

    async def send_frames(self, frames: list[bytes]) -> None:
        """Write encoded frames (with their tags once authenticated) in one send_all."""
        await self.stream.send_all(self._wire(frames))

    def _wire(self, frames: list[bytes]) -> bytes:
        if self._keys is not None:
            tag = self._keys.send.tag
            frames = [part for frame in frames for part in (frame, tag(frame))]
        return b"".join(frames)

    @property
    def can_send_now(self) -> bool:
        return isinstance(self.stream, PlainSocketStream)

    def send_now(self, frame: bytes) -> bytes:
        """Write `frame` (tagged) without parking; the bytes the socket did not take.
        Only with `can_send_now`; BrokenResourceError when the connection is gone."""
        assert isinstance(self.stream, PlainSocketStream)
        data = self._wire([frame])
        return data[self.stream.send_now(data) :]


class Mailbox:
    """Outbound frames of one peer/connection and the wake-up of its sender task."""

    def __init__(self, max_frames: int, max_bytes: int, max_batch_bytes: int) -> None:
        self.outbox = Outbox(max_frames, max_bytes)
        self._max_batch_bytes = max_batch_bytes
        self._wakeup = trio.Event()
        # The stream while the sender task is parked with nothing queued (pushes may write
        # to it directly), and the tail of a direct write the socket did not take.
        self._direct: FramedStream | None = None
        self._unsent = b""

    def push(self, frame: bytes, priority: Priority, tag: int | None = None) -> bool:
        if self._direct is not None and tag is None:
            try:
                self._unsent = self._direct.send_now(frame)
            except CONNECTION_FAILURES:
                pass  # queued below: the sender task meets the failure and ends the connection
            else:
                if self._unsent:
                    self._direct = None
                    self._wakeup.set()
                return True
        accepted = self.outbox.push(frame, priority, tag)
        if accepted:
            self._direct = None
            self._wakeup.set()
        return accepted

    async def pump(
        self, framed: FramedStream, on_batch: Callable[[list[QueuedFrame]], None]
    ) -> None:
        """Send batches forever; `on_batch` sees each batch just before it is written."""
        try:
            while True:
                if self._unsent:
                    unsent, self._unsent = self._unsent, b""
                    await framed.stream.send_all(unsent)
                    continue
                if not len(self.outbox):
                    self._direct = framed if framed.can_send_now else None
                    await self._wakeup.wait()
                    self._direct = None
                    self._wakeup = trio.Event()
                    continue
                batch = self.outbox.pop_batch(self._max_batch_bytes)
                on_batch(batch)
                await framed.send_frames([item.frame for item in batch])
        finally:
            # A frame cut short belongs to this connection: the next one starts clean.
            self._direct = None
            self._unsent = b""


async def run_both(
    receive_loop: Callable[[], Awaitable[None]], send_loop: Callable[[], Awaitable[None]]
) -> ConnectionEnd:
    """Run both loops until either fails; returns the first failure (the connection's end)."""
    failures: list[ConnectionEnd] = []

    async def guarded(loop: Callable[[], Awaitable[None]], cancel: trio.CancelScope) -> None:
        try:
            await loop()
        except CONNECTION_FAILURES as exc:
            failures.append(exc)
        finally:
            cancel.cancel()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(guarded, receive_loop, nursery.cancel_scope)
        nursery.start_soon(guarded, send_loop, nursery.cancel_scope)
    return failures[0] if failures else PeerClosed("connection loops ended")
