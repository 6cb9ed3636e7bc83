"""FUNCTION DUMP / RESTORE payloads, in Redis 7.0's own format, so payloads move both ways
between seshat-trio and Redis.

A payload is, for each library, the RDB opcode FUNCTION2 (245) and the library's code as an
RDB string; then the RDB version (10, two bytes little-endian) and the CRC-64 (Jones,
reflected, as Redis's crc64.c) of everything before it, eight bytes little-endian. We
write strings uncompressed; reading accepts every RDB string encoding Redis writes (plain,
integer-encoded, LZF-compressed) and the 7.0-rc opcode FUNCTION (246: name, engine,
optional description, body). Written from the RDB format's description, not from Redis's
code.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

RDB_VERSION = 10
OPCODE_FUNCTION2 = 245
OPCODE_FUNCTION = 246  # 7.0 rc1/rc2: name, engine, description, body
BAD_PAYLOAD = "ERR DUMP payload version or checksum are wrong"


class PayloadError(ValueError):
    """A payload that passed its checksum but does not hold libraries: the error text."""


def _crc64_table() -> list[int]:
    poly = 0x95AC9329AC4BC9B5  # 0xad93d23594c935a9 bit-reversed
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc64_table()


def crc64(data: bytes, crc: int = 0) -> int:
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc


def _length(n: int) -> bytes:
    if n < 1 << 6:
        return bytes((n,))
    if n < 1 << 14:
        return bytes((0x40 | (n >> 8), n & 0xFF))
    if n <= 0xFFFFFFFF:
        return b"\x80" + struct.pack(">I", n)
    return b"\x81" + struct.pack(">Q", n)


def dump(codes: Iterable[bytes]) -> bytes:
    """The payload of libraries whose codes (shebang included) are `codes`."""
    body = bytearray()
    for code in codes:
        body += bytes((OPCODE_FUNCTION2,)) + _length(len(code)) + code
    body += struct.pack("<H", RDB_VERSION)
    return bytes(body) + struct.pack("<Q", crc64(bytes(body)))


def verify(payload: bytes) -> bool:
    """Redis's verifyDumpPayload: a known RDB version and a matching checksum."""
    if len(payload) < 10:
        return False
    version = struct.unpack_from("<H", payload, len(payload) - 10)[0]
    if version > RDB_VERSION:
        return False
    stored: int = struct.unpack_from("<Q", payload, len(payload) - 8)[0]
    return stored == crc64(payload[:-8])


def restore(payload: bytes) -> list[bytes]:
    """The library codes of a verified payload (PayloadError when it holds anything else)."""
    reader = _Reader(payload, len(payload) - 10)
    codes = []
    while reader.pos < reader.end:
        opcode = reader.byte("can not read data type")
        if opcode == OPCODE_FUNCTION2:
            codes.append(reader.string("Failed loading library payload"))
        elif opcode == OPCODE_FUNCTION:
            name = reader.string("Failed loading library name")
            engine = reader.string("Failed loading engine name")
            if reader.length("Failed loading library description indicator"):
                reader.string("Failed loading library description")
            code = reader.string("Failed loading library blob")
            codes.append(b"#!" + engine + b" name=" + name + b"\n" + code)
        else:
            raise PayloadError("given type is not a function")
    return codes


class _Reader:
    def __init__(self, data: bytes, end: int) -> None:
        self.data = data
        self.pos = 0
        self.end = end

    def take(self, n: int, error: str) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise PayloadError(error)
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def byte(self, error: str) -> int:
        return self.take(1, error)[0]

    def _length_or_encoding(self, error: str) -> tuple[int, bool]:
        first = self.byte(error)
        kind = first >> 6
        if kind == 0:
            return first & 0x3F, False
        if kind == 1:
            return ((first & 0x3F) << 8) | self.byte(error), False
        if kind == 3:
            return first & 0x3F, True
        if first == 0x80:
            return struct.unpack(">I", self.take(4, error))[0], False
        if first == 0x81:
            return struct.unpack(">Q", self.take(8, error))[0], False
        raise PayloadError(error)

    def length(self, error: str) -> int:
        n, encoded = self._length_or_encoding(error)
        if encoded:
            raise PayloadError(error)
        return n

    def string(self, error: str) -> bytes:
        n, encoded = self._length_or_encoding(error)
        if not encoded:
            return self.take(n, error)
        if n in (0, 1, 2):  # an integer of 8, 16 or 32 bits, little-endian, signed
            size = 1 << n
            return b"%d" % int.from_bytes(self.take(size, error), "little", signed=True)
        if n == 3:  # LZF
            compressed = self.length(error)
            plain = self.length(error)
            return lzf_decompress(self.take(compressed, error), plain, error)
        raise PayloadError(error)


def lzf_decompress(data: bytes, size: int, error: str = "invalid LZF data") -> bytes:
    """LZF (liblzf's format): literal runs `000LLLLL` + L+1 bytes; back references
    `LLLooooo oooooooo` (L = 7: one more length byte), length L+2, offset o+1 back."""
    out = bytearray()
    i = 0
    while i < len(data):
        ctrl = data[i]
        i += 1
        if ctrl < 32:
            run = ctrl + 1
            if i + run > len(data):
                raise PayloadError(error)
            out += data[i : i + run]
            i += run
            continue
        length = ctrl >> 5
        if length == 7:
            if i >= len(data):
                raise PayloadError(error)
            length += data[i]
            i += 1
        if i >= len(data):
            raise PayloadError(error)
        start = len(out) - ((ctrl & 0x1F) << 8) - data[i] - 1
        i += 1
        if start < 0:
            raise PayloadError(error)
        for k in range(length + 2):  # may overlap what it copies, byte by byte
            out.append(out[start + k])
    if len(out) != size:
        raise PayloadError(error)
    return bytes(out)
