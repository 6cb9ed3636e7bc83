"""Sans-IO parser of client requests: bytes in, argument lists out (the model is h11).

Rules this module lives by:
- No I/O, no clock, no tasks: the caller feeds received bytes and pulls commands.
- Behaviour is Redis 7.0's processMultibulkBuffer / processInlineBuffer, error texts included;
  a request starting with ``*`` is a multibulk request, anything else is an inline line.
- Every decision depends only on the bytes available, so any split of the input into feeds
  yields the same commands (and, for the deterministic limit rules below, the same errors).
- A `ProtocolError` is terminal: the parser keeps it and raises it from every later call, so
  the caller answers ``-ERR <error>`` and closes the connection, as Redis does.
- Work stays linear in the input however it is split: bulk bodies are waited for by length
  (bytes that arrive meanwhile are kept as chunks and joined once), and a line still without
  its end is re-scanned only when its bytes have doubled or its end has arrived.

Two deliberate, documented differences from Redis, both about inputs Redis handles
inconsistently:
- A header or inline line longer than ``max_inline_len`` is rejected even when its line end
  is already buffered (Redis rejects it only if a read happened to stop inside the line).
- A NUL byte is an ordinary byte (Redis's C-string search would stop at it and wait forever).

With ``use_hiredis=True`` (the default) complete multibulk requests are proposed by the
hiredis C reader and accepted only after checks that make the result identical to this
module's own parsing (see `seshat_trio.protocol.accel`).
"""

from __future__ import annotations

from collections import deque

from seshat_trio.protocol.accel import HiredisAccelerator
from seshat_trio.protocol.errors import ProtocolError, RequestTooLarge
from seshat_trio.protocol.inline import split_inline
from seshat_trio.protocol.limits import DEFAULT_LIMITS, ParserLimits
from seshat_trio.protocol.numbers import SMALL_INTS, parse_ll

TOO_BIG_INLINE = "Protocol error: too big inline request"
TOO_BIG_MBULK_COUNT = "Protocol error: too big mbulk count string"
INVALID_MULTIBULK_LENGTH = "Protocol error: invalid multibulk length"
TOO_BIG_BULK_COUNT = "Protocol error: too big bulk count string"
INVALID_BULK_LENGTH = "Protocol error: invalid bulk length"
TOO_BIG_REQUEST = "Protocol error: request too large (max {} bytes of arguments)"

_STAR = ord("*")
_DOLLAR = ord("$")
_CR = ord("\r")


def _expected_dollar(byte: int) -> ProtocolError:
    """Redis's "expected '$', got 'X'", with CR and LF shown as spaces as Redis does."""
    shown = " " if byte in (0x0A, 0x0D) else bytes([byte]).decode("utf-8", "surrogateescape")
    return ProtocolError(f"Protocol error: expected '$', got '{shown}'")


class RequestParser:
    """Incremental parser of pipelined RESP2 multibulk and inline requests."""

    __slots__ = (
        "_accel",
        "_args",
        "_args_bytes",
        "_args_counted",
        "_buf",
        "_bulk",
        "_chunks",
        "_chunks_len",
        "_error",
        "_max_bulk",
        "_max_line",
        "_max_multibulk",
        "_merge_at",
        "_merge_due",
        "_merge_on",
        "_pos",
        "_ready",
        "_remaining",
        "limits",
    )

    def __init__(self, limits: ParserLimits = DEFAULT_LIMITS, *, use_hiredis: bool = True) -> None:
        self.limits = limits
        self._max_bulk = limits.max_bulk_len
        self._max_multibulk = limits.max_multibulk_len
        self._max_line = limits.max_inline_len
        # Unparsed input is self._buf[self._pos:] followed by the unmerged self._chunks.
        self._buf = b""
        self._pos = 0
        self._chunks: list[bytes] = []
        self._chunks_len = 0
        # Merge the chunks once this many bytes are available from self._pos, or once a
        # chunk contains self._merge_on (the line end being waited for).
        self._merge_at = 0
        self._merge_on: bytes | None = None
        self._merge_due = False
        # Commands parsed ahead (a whole buffer is parsed in one go: fewer calls per command).
        self._ready: deque[list[bytes]] = deque()
        # A multibulk request in progress: arguments so far, arguments still to read, and
        # the length of the bulk whose body is awaited (-1 while its header is unread).
        self._args: list[bytes] | None = None
        # The bytes of its first `_args_counted` arguments (kept as it grows: summing every
        # argument at each read would be quadratic in a long request arriving slowly).
        self._args_bytes = 0
        self._args_counted = 0
        self._remaining = 0
        self._bulk = -1
        self._error: ProtocolError | None = None
        self._accel = (
            HiredisAccelerator(limits)
            if use_hiredis and HiredisAccelerator.usable(limits)
            else None
        )

    @property
    def error(self) -> ProtocolError | None:
        """The terminal protocol error once detected; the connection must then be closed.

        Commands that preceded the error are still returned by `next_command` first.
        """
        return self._error

    @property
    def buffered_bytes(self) -> int:
        """Input held for requests still arriving (Redis's query buffer): unparsed bytes
        plus the arguments already read of an incomplete request."""
        held = len(self._buf) - self._pos + self._chunks_len
        if self._args is not None:
            held += self._args_bytes
        return held

    @property
    def uses_hiredis(self) -> bool:
        """Whether the hiredis fast path is on (it needs ``max_inline_len`` >= 21)."""
        return self._accel is not None

    def feed(self, data: bytes) -> None:
        """Append received bytes; raises the terminal error if the parser has failed."""
        if self._error is not None:
            raise self._error
        if not data:
            return
        buffered = len(self._buf) - self._pos
        if not buffered and not self._chunks:
            # Everything before was consumed: parse the new bytes in place, without a copy.
            self._buf = data
            self._pos = 0
            if self._accel is not None:
                self._accel.feed(data, data, 0)
            return
        self._chunks.append(data)
        self._chunks_len += len(data)
        if self._accel is not None and self._accel.active:
            # The hiredis reader sees every byte at once, so our copy must keep up.
            self._merge()
            self._accel.feed(data, self._buf, len(self._buf) - len(data))
            return
        if not self._merge_due:
            available = buffered + self._chunks_len
            self._merge_due = available >= self._merge_at or (
                self._merge_on is not None
                and (self._merge_on in data or self._chunks_len >= buffered)
            )

    def next_command(self) -> list[bytes] | None:
        """The next complete command, or None until more bytes are fed.

        Empty inline lines and ``*0`` / ``*-1`` requests are skipped, as Redis does.
        Raises `ProtocolError` once the commands before a protocol violation were returned;
        from then on every call raises it again.
        """
        ready = self._ready
        if ready:
            return ready.popleft()
        if self._error is not None:
            raise self._error
        if self._chunks:
            if not self._merge_due:
                return None  # the buffer is unchanged since the parser last needed more
            self._merge()
        try:
            self._fill(ready)
        except ProtocolError as exc:
            self._fail(exc)
        if ready:
            return ready.popleft()
        if self._error is not None:
            raise self._error
        return None

    def take_commands(self) -> tuple[list[list[bytes]], ProtocolError | None]:
        """Every complete command buffered now, in order, and the protocol error that ends
        the input (None while it is sound): what `next_command` returns call by call until
        None or the error, in one parse instead of one more that finds nothing left."""
        ready = self._ready
        leftover = bool(ready)
        try:
            first = self.next_command()
        except ProtocolError as exc:
            return [], exc
        if first is None:
            return [], None
        commands = [first, *ready]
        ready.clear()
        if not leftover:
            # That parse took every complete command (`_fill`) and kept the error, if any.
            return commands, self._error
        try:
            while (command := self.next_command()) is not None:
                commands.append(command)
        except ProtocolError as exc:
            return commands, exc
        return commands, None

    def close(self) -> None:
        """Let go of everything buffered (the connection is closing): a connection object
        may outlive its task until the cyclic collector reaches it, and must not keep a
        request's megabytes alive meanwhile."""
        self._fail(ProtocolError("the connection is closed"))
        self._ready.clear()

    def _fail(self, error: ProtocolError) -> None:
        self._error = error
        self._buf = b""
        self._pos = 0
        self._chunks.clear()
        self._args = None
        self._accel = None

    def _merge(self) -> None:
        tail = memoryview(self._buf)[self._pos :]
        self._buf = b"".join([tail, *self._chunks])
        tail.release()
        self._pos = 0
        self._chunks.clear()
        self._chunks_len = 0
        self._merge_due = False

    def _wait(self, merge_at: int, merge_on: bytes | None) -> None:
        self._merge_at = merge_at
        self._merge_on = merge_on

    def _wait_for_line(self, buf: bytes, pos: int, found: int, end: bytes, too_big: str) -> None:
        """Handle a line at `pos` that is incomplete (`found` < 0) or too long."""
        limit = self._max_line
        if found - pos > limit or (found < 0 and len(buf) - pos > limit):
            raise ProtocolError(too_big)
        self._pos = pos
        if found < 0:
            # Doubling merges keep the total re-scan of a slowly arriving line linear.
            self._wait(limit + 1, end)
        else:
            self._wait(found + 2 - pos, None)  # the CR is there; Redis needs one byte more

    def _fill(self, ready: deque[list[bytes]]) -> None:
        """Parse every complete command in the buffer into `ready`."""
        accel = self._accel
        while True:
            if self._args is None:
                if accel is not None:
                    self._pos = accel.parse(self._buf, self._pos, ready)
                buf = self._buf
                pos = self._pos
                if pos == len(buf):
                    self._merge_at, self._merge_on = 1, None  # `_wait(1, None)`, inline
                    return
                if buf[pos] != _STAR:
                    args = self._inline(buf, pos)
                    if args is None:
                        return
                    if args:
                        ready.append(args)
                    continue
            # Hand back after one request if hiredis may take the rest of this buffer.
            single = accel is not None and not accel.gave_up_on(self._buf)
            if not self._multibulk(ready, single):
                return

    def _inline(self, buf: bytes, pos: int) -> list[bytes] | None:
        """The inline line at `pos` ([] for a blank line), or None until it is complete."""
        newline = buf.find(b"\n", pos)
        if newline < 0 or newline - pos > self._max_line:
            self._wait_for_line(buf, pos, newline, b"\n", TOO_BIG_INLINE)
            return None
        stop = newline - 1 if newline > pos and buf[newline - 1] == _CR else newline
        args = split_inline(buf[pos:stop])
        self._pos = newline + 1
        return args

    def _multibulk(self, ready: deque[list[bytes]], single: bool) -> bool:
        """Parse consecutive multibulk requests (or one if `single`) from self._pos.

        Returns False when more data is needed, True when the caller should go on.
        One long function on purpose: this is the per-byte hot path, and locals are cheap.
        """
        buf = self._buf
        pos = self._pos
        end = len(buf)
        max_line = self._max_line
        max_bulk = self._max_bulk
        small_ints = SMALL_INTS
        find = buf.find
        args = self._args
        if args is not None:
            remaining = self._remaining
            bulk = self._bulk
        while True:
            if args is None:
                if pos == end or buf[pos] != _STAR:
                    self._pos = pos
                    self._wait(0, None)
                    return pos < end
                newline = find(b"\r", pos)
                if newline < 0 or newline - pos > max_line or newline + 1 >= end:
                    self._wait_for_line(buf, pos, newline, b"\r", TOO_BIG_MBULK_COUNT)
                    return False
                text = buf[pos + 1 : newline]
                count = small_ints.get(text)
                if count is None:
                    count = parse_ll(text)
                if count is None or count > self._max_multibulk:
                    raise ProtocolError(INVALID_MULTIBULK_LENGTH)
                pos = newline + 2
                if count <= 0:
                    continue  # Redis skips empty and null requests
                args = []
                remaining = count
                bulk = -1
            while remaining:
                if bulk < 0:
                    newline = find(b"\r", pos)
                    if newline < 0 or newline - pos > max_line or newline + 1 >= end:
                        self._save(args, remaining, -1)
                        self._wait_for_line(buf, pos, newline, b"\r", TOO_BIG_BULK_COUNT)
                        return False
                    if buf[pos] != _DOLLAR:
                        raise _expected_dollar(buf[pos])
                    text = buf[pos + 1 : newline]
                    bulk = small_ints.get(text, -1)
                    if bulk < 0:
                        length = parse_ll(text)
                        if length is None or length < 0:
                            raise ProtocolError(INVALID_BULK_LENGTH)
                        bulk = length
                    if bulk > max_bulk:
                        raise ProtocolError(INVALID_BULK_LENGTH)
                    pos = newline + 2
                stop = pos + bulk
                if stop + 2 > end:
                    # Redis skips the two bytes after a body without looking at them; so do we.
                    self._save(args, remaining, bulk)
                    self._pos = pos
                    self._wait(bulk + 2, None)
                    return False
                args.append(buf[pos:stop])
                pos = stop + 2
                bulk = -1
                remaining -= 1
            ready.append(args)
            args = None
            self._args = None
            self._merge_at = 0
            self._merge_on = None
            if single:
                self._pos = pos
                return True

    def _save(self, args: list[bytes], remaining: int, bulk: int) -> None:
        """Keep an incomplete request; refuse it if what it declared so far is too large.
        Only incomplete requests are checked: a complete one is already in memory, and this
        keeps the check off the per-argument path."""
        if args is not self._args:  # a new request
            self._args_bytes = self._args_counted = 0
        self._args_bytes += sum(map(len, args[self._args_counted :]))
        self._args_counted = len(args)
        limit = self.limits.max_request_bytes
        if self._args_bytes + max(bulk, 0) > limit:
            raise RequestTooLarge(TOO_BIG_REQUEST.format(limit))
        self._args = args
        self._remaining = remaining
        self._bulk = bulk
