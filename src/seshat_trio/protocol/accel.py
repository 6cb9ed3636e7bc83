"""The hiredis fast path of the request parser: C parsing, Python-identical results.

hiredis parses any RESP reply, while a request is a far narrower language (only ``$`` bulks
inside one ``*`` array, Redis's limits, Redis's leniencies). So hiredis only *proposes*
commands, and a proposal is accepted only if the buffered bytes at the parser's position are
exactly its canonical encoding (each ``*<n>`` / ``$<len>`` header spelled as Redis writes it,
compared byte for byte at the offsets the accepted lengths imply). By induction over the
elements, hiredis then read every element from those very offsets, so it consumed exactly
those bytes, and the pure parser would read the same command from them: the two paths agree
and stay in step. Anything else (a hiredis error, a partial request, an inline line, odd but
valid input such as Redis's unchecked two bytes after a bulk body) drops the reader, and the
pure parser decides from the same offset for the rest of that buffer.

hiredis allocates an aggregate's list when it reads the header, before any element arrives,
so a nested ``*2147483647`` would cost seconds of CPU. Input is therefore scanned before
hiredis sees it: if any aggregate type byte is followed by six or more digits, that buffer
is left to the pure parser, which never allocates ahead of the data. The scan costs about
a nanosecond and a half per byte while hiredis saves well under a microsecond per request,
so buffers of long requests (large values) are left to the pure parser too: its cost is
per argument, not per byte.
"""

from __future__ import annotations

from collections import deque

import hiredis

from seshat_trio.protocol.limits import ParserLimits

_STAR = ord("*")
_AGGREGATE_DIGITS = bytes.maketrans(b"*%~>|0123456789", b"*****0000000000")
_HUGE_AGGREGATE = b"*000000"
# Above this many bytes per request the scan costs more than hiredis saves.
_MAX_BYTES_PER_REQUEST = 512
_SAMPLE_BYTES = 4096
_TABLE_SIZE = 1024
_STAR_HEADERS = [b"*%d\r\n" % n for n in range(_TABLE_SIZE)]
_BULK_HEADERS = [b"$%d\r\n" % n for n in range(_TABLE_SIZE)]
# A canonical header line is at most 21 bytes; with a smaller line limit the pure parser
# rejects requests hiredis would accept.
_MIN_LINE_LIMIT = 21


class _NotEnough:
    """hiredis's "no complete reply yet" marker (None is a valid reply)."""


_NOT_ENOUGH = _NotEnough()


class HiredisAccelerator:
    """Parses canonical multibulk requests with a hiredis.Reader kept in step with the parser."""

    __slots__ = ("_blocked", "_max_bulk", "_max_multibulk", "_reader")

    def __init__(self, limits: ParserLimits) -> None:
        self._max_bulk = limits.max_bulk_len
        self._max_multibulk = limits.max_multibulk_len
        self._reader: hiredis.Reader | None = None
        # The buffer hiredis gave up on: the pure parser finishes it, so that a buffer of
        # requests hiredis cannot take costs one scan and one reader, not one per request.
        self._blocked = b""

    @staticmethod
    def usable(limits: ParserLimits) -> bool:
        """Whether canonical requests can pass the limits' header-line rule at all."""
        return limits.max_inline_len >= _MIN_LINE_LIMIT

    @property
    def active(self) -> bool:
        """Whether a reader is in step with the parser and must see every fed byte."""
        return self._reader is not None

    def gave_up_on(self, buf: bytes) -> bool:
        """Whether the rest of `buf` is left to the pure parser."""
        return buf is self._blocked

    def feed(self, data: bytes, buf: bytes, start: int) -> None:
        """`data` was appended to the parser's input; it now occupies ``buf[start:]``."""
        if buf is not self._blocked:
            self._blocked = b""  # the parser moved to a new buffer: let the old one go
        reader = self._reader
        if reader is None:
            return
        # Six bytes of overlap catch a huge header split across two feeds.
        if not self._worthwhile_and_safe(buf, max(0, start - 6)):
            self._give_up(buf)
        else:
            reader.feed(data)

    def parse(self, buf: bytes, pos: int, ready: deque[list[bytes]]) -> int:
        """Append the commands hiredis can take from ``buf[pos:]``; return the offset after."""
        reader = self._reader
        end = len(buf)
        if reader is None:
            if pos == end or buf[pos] != _STAR or buf is self._blocked:
                return pos
            if not self._worthwhile_and_safe(buf, pos):
                self._give_up(buf)
                return pos
            reader = self._reader = hiredis.Reader(notEnoughData=_NOT_ENOUGH)
            reader.feed(buf, pos)
        gets = reader.gets
        max_multibulk = self._max_multibulk
        max_bulk = self._max_bulk
        headers = _BULK_HEADERS
        startswith = buf.startswith
        while pos < end and buf[pos] == _STAR:
            try:
                reply = gets()
            except hiredis.HiredisError:
                break
            if type(reply) is not list:
                break  # not enough data (or a nil request): the pure parser decides
            count = len(reply)
            if not 0 < count <= max_multibulk:
                break
            header = _STAR_HEADERS[count] if count < _TABLE_SIZE else b"*%d\r\n" % count
            if not startswith(header, pos):
                break
            offset = pos + len(header)
            try:
                for arg in reply:
                    length = len(arg)
                    header = headers[length] if length < _TABLE_SIZE else b"$%d\r\n" % length
                    if length > max_bulk or not startswith(header, offset):
                        offset = -1
                        break
                    offset += len(header) + length + 2
            except TypeError:
                break  # an integer, nil or error element: never read from a bulk string
            if offset < 0:
                break
            # Only a list of bytes can have been read from a canonical encoding.
            ready.append(reply)
            pos = offset
        else:
            if pos == end:
                return pos  # every byte consumed: the reader stays in step
        self._give_up(buf)
        return pos

    def _give_up(self, buf: bytes) -> None:
        self._reader = None
        self._blocked = buf

    @staticmethod
    def _worthwhile_and_safe(buf: bytes, start: int) -> bool:
        # Request sizes are estimated on a sample: requests start after a line end, and
        # values rarely hold "\n*".
        sampled = min(len(buf) - start, _SAMPLE_BYTES)
        requests = buf.count(b"\n*", start, start + sampled) + 1
        if sampled > _MAX_BYTES_PER_REQUEST * requests:
            return False
        return buf[start:].translate(_AGGREGATE_DIGITS).find(_HUGE_AGGREGATE) < 0
