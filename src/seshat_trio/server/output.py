"""What a connection owes its client: replies and push messages, in order, bounded.

Replies are written by the connection's own task; push messages (pub/sub) arrive from other
tasks at any moment and must never wait for the client, so `push` only queues and, when
nobody is writing, starts a short-lived writer task that drains the queue. One queue keeps
every byte in the order it was produced; at most one task writes at a time.

`client-output-buffer-limit` bounds the bytes queued and not yet taken by the socket, per
client class (pubsub while the client has subscriptions, normal otherwise): past the hard
limit, or above the soft limit for longer than its seconds, the client is disconnected
(`on_overflow`) and everything it was owed is dropped, as Redis does. A reply the client
does not read holds up its connection (nothing more is read from it), so a normal client's
backlog is one read's replies plus the pushes queued behind them.
"""

from __future__ import annotations

import collections
from collections.abc import Callable

import trio

from seshat_trio.output_limits import LimitWatch, OutputLimit
from seshat_trio.plain_socket import ByteStream

# One write takes at most this much of the queue (pushes are small; replies go whole).
MAX_WRITE_BYTES = 1 << 18
_CLOSED = (trio.BrokenResourceError, trio.ClosedResourceError)


class ClientOutput:
    def __init__(
        self,
        stream: ByteStream,
        limit: Callable[[], OutputLimit],
        on_overflow: Callable[[], None],
    ) -> None:
        self._stream = stream
        # A plain socket's non-parking send: a reply the socket takes whole (nearly every
        # one) is written without the coroutine `send_all` and its memoryview.
        self._send_now: Callable[[bytes], int] | None = getattr(stream, "send_now", None)
        self._limit = limit
        self._on_overflow = on_overflow
        self._queue: collections.deque[bytes] = collections.deque()
        self.pending = 0  # bytes queued or being written, not yet taken by the socket
        self._queued_total = 0
        self._written_total = 0
        self._writing = False
        # Set (and dropped) at each write; made only when a task waits for one.
        self._progress: trio.Event | None = None
        self._nursery: trio.Nursery | None = None
        self._watch = LimitWatch()
        self._soft_check_at: float | None = None
        self.closed = False

    def attach(self, nursery: trio.Nursery) -> None:
        """Where writer tasks run (the connection's own nursery)."""
        self._nursery = nursery

    # -- from any task -----------------------------------------------------------------------
    def push(self, data: bytes) -> None:
        """Queue a push message; never waits. Starts a writer if nobody is writing."""
        if self.closed:
            return
        self._enqueue(data)
        if not self._writing and not self.closed and self._nursery is not None:
            self._writing = True
            self._nursery.start_soon(self._writer)

    def reserve(self, size: int) -> bool:
        """Count `size` bytes held elsewhere for this client (pushes collected into a
        pipeline's replies) against its limit; False when that overflowed it."""
        self.pending += size
        self._check()
        return not self.closed

    # -- from the connection task ------------------------------------------------------------
    async def send(self, payload: bytes, reserved: int = 0) -> None:
        """Queue one read's replies (which include `reserved` bytes counted by `reserve`)
        and return once the socket has taken them (or the client was cut off)."""
        self.pending -= reserved
        if self.closed or not payload:
            return
        if not self._queue and not self._writing:
            self._queued_total += len(payload)
            self.pending += len(payload)
            if self._check():
                return
            self._writing = True
            try:
                await self._write(payload)
            finally:
                self._writing = False
            if self._queue:  # pushes queued meanwhile
                self._restart_writer()
            return
        self._enqueue(payload)
        target = self._queued_total
        if not self._writing:
            self._writing = True
            try:
                await self._drain(target)
            finally:
                self._writing = False
            self._restart_writer()
            return
        while self._written_total < target and not self.closed:
            if self._progress is None:
                self._progress = trio.Event()
            await self._progress.wait()

    def close(self) -> None:
        """Drop everything owed; later pushes are ignored."""
        self.closed = True
        self._queue.clear()
        self.pending = 0
        self._signal_progress()

    # -- internals ---------------------------------------------------------------------------
    def _enqueue(self, data: bytes) -> None:
        self._queue.append(data)
        self._queued_total += len(data)
        self.pending += len(data)
        self._check()

    def _check(self) -> bool:
        """Enforce the limit now; True when the client was cut off."""
        limit = self._limit()
        if not (limit.hard or limit.soft):
            return False
        now = trio.current_time()
        if self._watch.over(limit, self.pending, now):
            self.close()
            self._on_overflow()
            return True
        deadline = self._watch.soft_deadline(limit)
        if deadline is not None and self._soft_check_at is None and self._nursery is not None:
            # Nothing else may be queued for a while: check again when the soft time is up.
            self._soft_check_at = deadline
            self._nursery.start_soon(self._check_soft_later, deadline)
        return False

    async def _check_soft_later(self, deadline: float) -> None:
        await trio.sleep_until(deadline + 0.001)
        self._soft_check_at = None
        if not self.closed:
            self._check()

    def _restart_writer(self) -> None:
        if self._queue and not self.closed and self._nursery is not None:
            self._writing = True
            self._nursery.start_soon(self._writer)

    async def _writer(self) -> None:
        try:
            await self._drain(None)
        except _CLOSED:
            # The client is gone: the connection task notices on its next read or write.
            self.close()
        finally:
            self._writing = False

    async def _drain(self, target: int | None) -> None:
        """Write queued bytes until `target` (a queued total) is written, or all of them."""
        queue = self._queue
        while queue and not self.closed and (target is None or self._written_total < target):
            chunk = queue.popleft()
            while queue and len(chunk) + len(queue[0]) <= MAX_WRITE_BYTES:
                chunk += queue.popleft()
            await self._write(chunk)

    async def _write(self, chunk: bytes) -> None:
        send_now = self._send_now
        sent = 0 if send_now is None else send_now(chunk)
        if sent < len(chunk):
            await self._stream.send_all(chunk[sent:] if sent else chunk)
        self._written_total += len(chunk)
        self.pending = max(0, self.pending - len(chunk))
        if self._watch.soft_since is not None:
            self._check()  # back below the soft limit: its clock restarts
        if self._progress is not None:
            self._signal_progress()

    def _signal_progress(self) -> None:
        progress = self._progress
        if progress is not None:
            self._progress = None
            progress.set()
