"""Length-prefixed framing, sans-IO: a frame is a 4-byte big-endian length then that many bytes.

Rules: no I/O; `FrameDecoder` accepts input split at any byte boundary and yields frames in
order; a header announcing 0 bytes or more than `max_frame_bytes` raises FrameError before
any of that frame's body is buffered, and the decoder then stays failed (the connection is
to be closed: after a framing error the stream position is meaningless). Once `authenticate`
is called (the handshake is done), every frame is followed by its MAC tag (auth.FrameMac),
and a frame whose tag does not verify raises ForgedFrame (the decoder stays failed too).
"""

from __future__ import annotations

import hmac
import struct

from seshat_trio.transport.auth import TAG_BYTES, FrameMac
from seshat_trio.transport.errors import ForgedFrame, FrameError, TransportError

_HEADER = struct.Struct(">I")
HEADER_BYTES = _HEADER.size
MAX_FRAME_BYTES_LIMIT = (1 << 32) - 1
# Drop consumed bytes from the buffer front once they exceed this, so a long-lived
# connection does not keep every byte it ever received (and trimming stays amortised O(1)).
_COMPACT_AFTER = 1 << 16


def encode_frame(payload: bytes) -> bytes:
    """Header + payload. The payload must be 1..2^32-1 bytes."""
    if not 0 < len(payload) <= MAX_FRAME_BYTES_LIMIT:
        raise ValueError(
            f"frame payload must be 1..{MAX_FRAME_BYTES_LIMIT} bytes, got {len(payload)}"
        )
    return _HEADER.pack(len(payload)) + payload


class FrameDecoder:
    def __init__(self, max_frame_bytes: int) -> None:
        if not 0 < max_frame_bytes <= MAX_FRAME_BYTES_LIMIT:
            raise ValueError(f"max_frame_bytes must be 1..{MAX_FRAME_BYTES_LIMIT}")
        self._max = max_frame_bytes
        self._buf = bytearray()
        self._pos = 0
        self._error: TransportError | None = None
        self._mac: FrameMac | None = None
        self._tag_bytes = 0

    def authenticate(self, mac: FrameMac, max_frame_bytes: int) -> None:
        """From the next frame on, expect each frame's tag after it (and a new size limit:
        frames before authentication are held to a small one)."""
        if not 0 < max_frame_bytes <= MAX_FRAME_BYTES_LIMIT:
            raise ValueError(f"max_frame_bytes must be 1..{MAX_FRAME_BYTES_LIMIT}")
        self._mac = mac
        self._tag_bytes = TAG_BYTES
        self._max = max_frame_bytes

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as frames."""
        return len(self._buf) - self._pos

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if self._error is not None:
            raise self._error
        self._buf += data

    def next_frame(self) -> bytes | None:
        """The next complete frame's payload, or None until more bytes are fed."""
        if self._error is not None:
            raise self._error
        available = len(self._buf) - self._pos
        if available < HEADER_BYTES:
            return None
        (length,) = _HEADER.unpack_from(self._buf, self._pos)
        if length == 0 or length > self._max:
            self._error = FrameError(
                f"frame length {length} outside 1..{self._max} (max_frame_bytes)"
            )
            raise self._error
        end = self._pos + HEADER_BYTES + length
        if len(self._buf) < end + self._tag_bytes:
            return None
        # Read through a view: one copy of the payload, the header and tag not copied.
        with memoryview(self._buf) as view:
            frame = bytes(view[self._pos + HEADER_BYTES : end])
            forged = self._mac is not None and not hmac.compare_digest(
                self._mac.tag(view[self._pos : end]), view[end : end + TAG_BYTES]
            )
        if forged:
            self._error = ForgedFrame(f"frame of {length} bytes failed its MAC")
            raise self._error
        end += self._tag_bytes
        self._pos = end
        if self._pos == len(self._buf):
            self._buf.clear()
            self._pos = 0
        elif self._pos >= _COMPACT_AFTER:
            del self._buf[: self._pos]
            self._pos = 0
        return frame
