"""Streaming a group's values out of a point-in-time snapshot, and installing them elsewhere.

Chunk format (bytes, self-describing so it can cross the network as-is): one version byte,
then for each entry `u32 key length | key | u32 value length | encoded StoredValue`, all
big-endian. Values travel in their stored encoding: producing a chunk decodes nothing.

Install writes chunks under a fresh *generation* of the group's value keyspace, invisible to
readers, then flips the generation in one small synced write (see docs/storage.md,
"Snapshot install"). A crash before the flip leaves the old values; after it, the new ones.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from seshat_trio.storage import keys
from seshat_trio.storage.batch import WriteBatch
from seshat_trio.storage.errors import DB_ERRORS, StorageError, translate
from seshat_trio.storage.records import SnapshotMeta, StoredValue, decode_stored_value

if TYPE_CHECKING:
    from seshat_trio.storage.store import Store

CHUNK_VERSION = 1
_LEN = struct.Struct(">I")


def encode_chunk(items: list[tuple[bytes, bytes]]) -> bytes:
    """Frame (key, encoded value) pairs into one chunk."""
    parts = [bytes([CHUNK_VERSION])]
    for key, value in items:
        parts += (_LEN.pack(len(key)), key, _LEN.pack(len(value)), value)
    return b"".join(parts)


def decode_chunk(chunk: bytes) -> list[tuple[bytes, StoredValue]]:
    """The (key, value) pairs of a chunk; StorageError if it is malformed or too new."""
    return [(key, decode_stored_value(value)) for key, value in _split_chunk(chunk)]


def _split_chunk(chunk: bytes) -> list[tuple[bytes, bytes]]:
    if not chunk:
        raise StorageError("snapshot chunk is empty")
    if chunk[0] > CHUNK_VERSION:
        raise StorageError(
            f"snapshot chunk has version {chunk[0]}, newer than the supported version "
            f"{CHUNK_VERSION}"
        )
    items: list[tuple[bytes, bytes]] = []
    view = memoryview(chunk)
    pos = 1
    try:
        while pos < len(chunk):
            fields = []
            for _ in range(2):
                (length,) = _LEN.unpack_from(view, pos)
                pos += _LEN.size
                if pos + length > len(chunk):
                    raise StorageError(f"snapshot chunk is truncated at byte {pos}")
                fields.append(bytes(view[pos : pos + length]))
                pos += length
            items.append((fields[0], fields[1]))
    except struct.error as exc:
        raise StorageError(f"snapshot chunk is truncated at byte {pos}") from exc
    return items


class ValueSnapshot:
    """A group's values (and applied index / snapshot metadata) at one point in time.

    Holds a LevelDB snapshot, never the values: iterate `chunks` to stream them. Close it
    (or use it as a context manager) to release the snapshot.
    """

    def __init__(
        self,
        *,
        db: Any,
        group: int,
        generation: int,
        path: Path,
        applied: int,
        meta: SnapshotMeta | None,
    ) -> None:
        self._db = db
        self._prefix = keys.generation_prefix(group, generation)
        self._path = path
        self.group = group
        self.applied = applied
        self.meta = meta

    def __enter__(self) -> ValueSnapshot:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def _raw(self, start: bytes = b"", stop: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        upper = keys.prefix_end(self._prefix) if stop is None else self._prefix + stop
        skip = len(self._prefix)
        try:
            with self._db.iterator(start=self._prefix + start, stop=upper) as it:
                for key, value in it:
                    yield key[skip:], value
        except DB_ERRORS as exc:
            raise translate(exc, "read snapshot", self._path) from exc

    def items(
        self, start: bytes = b"", stop: bytes | None = None
    ) -> Iterator[tuple[bytes, StoredValue]]:
        """Decoded (key, value) pairs with start <= key < stop, sorted by key."""
        for key, value in self._raw(start, stop):
            yield key, decode_stored_value(value)

    def chunks(self, max_bytes: int) -> Iterator[bytes]:
        """Encoded chunks of about `max_bytes` each (one entry may exceed it), in key order."""
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        pending: list[tuple[bytes, bytes]] = []
        size = 0
        for key, value in self._raw():
            pending.append((key, value))
            size += 2 * _LEN.size + len(key) + len(value)
            if size >= max_bytes:
                yield encode_chunk(pending)
                pending, size = [], 0
        if pending:
            yield encode_chunk(pending)


class ValueInstaller:
    """Replaces a group's values with streamed chunks; nothing is visible until `finish`.

    Use as a context manager: leaving it without `finish` aborts and cleans up.
    """

    def __init__(self, store: Store, group: int, generation: int) -> None:
        self._store = store
        self._group = group
        self._generation = generation
        self._open = True

    def __enter__(self) -> ValueInstaller:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._open:
            self.abort()

    def _check_open(self) -> None:
        if not self._open:
            raise StorageError(f"the snapshot install into group {self._group} is already over")

    def add_chunk(self, chunk: bytes) -> None:
        """Validate a chunk and stage its entries (durably, still invisible)."""
        self._check_open()
        items = _split_chunk(chunk)
        for _, value in items:
            decode_stored_value(value)  # refuse garbage before it is stored
        self._store.stage_values(self._group, self._generation, items)

    def finish(self, batch: WriteBatch | None = None) -> None:
        """Make the staged values the group's values, together with `batch` (e.g. the
        snapshot metadata, applied index and log truncation), in one synced write."""
        self._check_open()
        self._open = False
        self._store.finish_install(self._group, self._generation, batch)

    def abort(self) -> None:
        """Drop everything staged; the group keeps its values."""
        self._check_open()
        self._open = False
        self._store.abort_install(self._group)
