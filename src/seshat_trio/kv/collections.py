"""Collections: values whose elements are records of their own (docs/storage.md).

A collection is a metadata record (StoredValue: kind, expiry, version) plus one element
record per field or member under (key, version). The metadata's data is

    u64 stamp | u64 count | the type's tail (a list's head and tail counters, ...)

`stamp` is a fresh `new_version()` at every write, so a write that changes nothing else (an
HSET of a field to another value) still changes the metadata, and WATCH, which compares
metadata records, sees every change. `count` makes HLEN/SCARD/... O(1).

`Collection` is what a type module works with: read or create it (WRONGTYPE checked here,
through kv/types.py), read, put and delete elements at the cost of those elements, `save`
once at the end (an emptied collection deletes its key, as Redis does). Members of hashes,
sets and sorted sets are stored under `member_suffix(member)`: a crc32 of the member, then
the member, so they sort in an order a 32-bit SCAN cursor can resume from (kv/scan.py).
"""

from __future__ import annotations

import binascii
import struct
from collections.abc import Iterator

from seshat_trio.kv.types import typed
from seshat_trio.kv.view import KeyView, WritableView
from seshat_trio.storage import EVERY_ELEMENT, Span, StoredValue

_HEADER = struct.Struct(">QQ")
_CRC = struct.Struct(">I")


def member_suffix(member: bytes) -> bytes:
    """The element suffix of a hash field, set member or sorted-set member."""
    return _CRC.pack(binascii.crc32(member)) + member


def member_of(suffix: bytes) -> bytes:
    return suffix[_CRC.size :]


def member_position(suffix: bytes) -> int:
    """Where a member suffix sorts (its crc32): the unit of HSCAN/SSCAN/ZSCAN cursors."""
    position: int = _CRC.unpack_from(suffix)[0]
    return position


def from_position(position: int) -> Span:
    """The members at `position` (< 2**32) and after, in order (HSCAN, random picks)."""
    return Span(_CRC.pack(position))


class Collection:
    """A collection read by a command (see the module doc)."""

    __slots__ = ("count", "expires_at_ms", "key", "kind", "tail", "version", "view")

    def __init__(self, view: KeyView, key: bytes, kind: int, value: StoredValue | None) -> None:
        self.view = view
        self.key = key
        self.kind = kind
        if value is None:
            self.version = 0
            self.count = 0
            self.tail = b""
            self.expires_at_ms = 0
        else:
            _, self.count = _HEADER.unpack_from(value.data)
            self.version = value.version
            self.tail = value.data[_HEADER.size :]
            self.expires_at_ms = value.expires_at_ms

    @classmethod
    def read(cls, view: KeyView, key: bytes, kind: int) -> Collection | None:
        """The live collection at `key`, None if there is none; WrongType if another type."""
        value = typed(view.get(key), kind)
        return None if value is None else cls(view, key, kind, value)

    def get(self, suffix: bytes) -> bytes | None:
        return self.view.element(self.key, self.version, suffix)

    def items(self, span: Span = EVERY_ELEMENT) -> Iterator[tuple[bytes, bytes]]:
        return self.view.elements(self.key, self.version, span)


class MutableCollection(Collection):
    """A collection a write command changes; created (unsaved) when the key is absent."""

    __slots__ = ("writer",)

    def __init__(
        self, view: WritableView, key: bytes, kind: int, value: StoredValue | None
    ) -> None:
        super().__init__(view, key, kind, value)
        self.writer = view
        if value is None:
            self.version = view.new_version()

    @classmethod
    def open(cls, view: WritableView, key: bytes, kind: int) -> MutableCollection:
        """The collection at `key`, empty and new if absent; WrongType if another type."""
        return cls(view, key, kind, typed(view.get(key), kind))

    @classmethod
    def existing(cls, view: WritableView, key: bytes, kind: int) -> MutableCollection | None:
        value = typed(view.get(key), kind)
        return None if value is None else cls(view, key, kind, value)

    def put(self, suffix: bytes, element: bytes, *, known_new: bool = False) -> bool:
        """Store an element; True if it is new (`known_new`: the caller knows it is)."""
        new = known_new or self.get(suffix) is None
        self.writer.put_element(self.key, self.version, suffix, element)
        self.count += new
        return new

    def delete(self, suffix: bytes) -> bool:
        """Remove an element; True if it was there."""
        if self.get(suffix) is None:
            return False
        self.writer.delete_element(self.key, self.version, suffix)
        self.count -= 1
        return True

    def save(self) -> None:
        """Write the metadata (a new stamp); an empty collection deletes the key."""
        if self.count == 0:
            self.writer.delete(self.key)
            return
        header = _HEADER.pack(self.writer.new_version(), self.count)
        value = StoredValue(self.kind, header + self.tail, self.expires_at_ms, self.version)
        self.writer.put(self.key, value)


def restamp(view: WritableView, value: StoredValue) -> StoredValue:
    """`value` with a new stamp if it is a collection (a changed expiry: WATCH sees it)."""
    if not value.version:
        return value
    _, count = _HEADER.unpack_from(value.data)
    data = _HEADER.pack(view.new_version(), count) + value.data[_HEADER.size :]
    return value._replace(data=data)


def copy_value(view: WritableView, source: bytes, value: StoredValue, dest: bytes) -> StoredValue:
    """The value to store at `dest` for a copy of `source` (RENAME, COPY): a string as is;
    a collection's elements are copied under a new version, O(elements)."""
    if not value.version:
        return value
    version = view.new_version()
    for suffix, element in view.elements(source, value.version):
        view.put_element(dest, version, suffix, element)
    return restamp(view, value._replace(version=version))
