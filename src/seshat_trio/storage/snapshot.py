"""Streaming a group's values out of a point-in-time snapshot, and installing them elsewhere.

Chunk format (bytes, self-describing so it can cross the network as-is): one version byte,
then for each entry `u32 key length | key | u32 value length | value`, all big-endian.
Version 2: the key is a data record's LevelDB key after its generation (keys.py: metadata
and element records), the value its stored bytes, so producing a chunk decodes nothing but
the metadata of each collection met (the elements of a collection that no metadata record
owns any more are garbage and do not travel). Version 1 (a build of store format 2): the
key is a user key, the value a StoredValue; it is still read, as metadata records.

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

from seshat_trio.slots import SLOT_COUNT
from seshat_trio.storage import keys
from seshat_trio.storage.batch import WriteBatch
from seshat_trio.storage.errors import DB_ERRORS, StorageError, translate
from seshat_trio.storage.keys import EVERY_ELEMENT, Span
from seshat_trio.storage.records import SnapshotMeta, StoredValue, decode_stored_value

if TYPE_CHECKING:
    from seshat_trio.storage.store import Store

CHUNK_VERSION = 2
_LEN = struct.Struct(">I")


def encode_chunk(items: list[tuple[bytes, bytes]]) -> bytes:
    """Frame (data record key after its generation, stored bytes) pairs into one chunk."""
    parts = [bytes([CHUNK_VERSION])]
    for key, value in items:
        parts += (_LEN.pack(len(key)), key, _LEN.pack(len(value)), value)
    return b"".join(parts)


def decode_chunk(chunk: bytes) -> list[tuple[bytes, bytes]]:
    """The (record key, stored bytes) pairs of a chunk, checked: every key is a well-formed
    data record key and every metadata record decodes. StorageError otherwise (or if the
    chunk is malformed or too new)."""
    items = _split_chunk(chunk)
    if chunk[0] == 1:
        items = [(keys.meta_suffix(key), value) for key, value in items]
    for suffix, value in items:
        try:
            parsed = keys.parse_data_suffix(suffix)
        except ValueError as exc:
            raise StorageError(f"snapshot chunk holds a malformed record key: {exc}") from exc
        if parsed.record_class == keys.META_CLASS:
            decode_stored_value(value)
    return items


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

    def _error(self, exc: BaseException) -> StorageError:
        return translate(exc, "read snapshot", self._path)

    def get(self, key: bytes) -> StoredValue | None:
        """The metadata record of `key`."""
        try:
            raw = self._db.get(self._prefix + keys.meta_suffix(key))
        except DB_ERRORS as exc:
            raise self._error(exc) from exc
        return None if raw is None else decode_stored_value(raw)

    def items(self, start: int = 0) -> Iterator[tuple[bytes, StoredValue]]:
        """(key, metadata) pairs from position `start` on, in position order (keys.py):
        the metadata records of each slot in turn, skipping the slots' element records."""
        if start >= keys.POSITION_END:
            return
        prefix = self._prefix
        meta_start = len(prefix) + 7  # slot, class, crc32
        try:
            with self._db.iterator(
                start=prefix + keys.position_prefix(start), stop=keys.prefix_end(prefix)
            ) as it:
                for key, value in it:
                    if key[len(prefix) + 2] == keys.META_CLASS:
                        yield key[meta_start:], decode_stored_value(value)
                        continue
                    slot = int.from_bytes(key[len(prefix) : len(prefix) + 2], "big") + 1
                    if slot >= SLOT_COUNT:
                        return
                    it.seek(prefix + keys.slot_meta_prefix(slot))
        except DB_ERRORS as exc:
            raise self._error(exc) from exc

    def elements(
        self, key: bytes, version: int, span: Span = EVERY_ELEMENT
    ) -> Iterator[tuple[bytes, bytes]]:
        """(suffix, element) pairs of (key, version) in `span`."""
        prefix = self._prefix + keys.element_suffix_prefix(key, version)
        upper = keys.prefix_end(prefix) if span.stop is None else prefix + span.stop
        lower = prefix + span.start
        skip = len(prefix)
        try:
            # plyvel 1.5 iterating backwards skips a first record equal to `start`: start
            # at the bare prefix (no element suffix is empty) and stop below `lower` here.
            with self._db.iterator(
                start=prefix if span.reverse else lower, stop=upper, reverse=span.reverse
            ) as it:
                for full_key, value in it:
                    if full_key < lower:
                        return
                    yield full_key[skip:], value
        except DB_ERRORS as exc:
            raise self._error(exc) from exc

    def _records(self) -> Iterator[tuple[bytes, bytes]]:
        """Every live data record (key after the generation, stored bytes) in key order:
        element records whose collection's metadata is gone or newer are skipped."""
        prefix = self._prefix
        skip = len(prefix)
        live = b""  # the element prefix last found owned by its metadata
        try:
            with self._db.iterator(start=prefix, stop=keys.prefix_end(prefix)) as it:
                for key, value in it:
                    suffix = key[skip:]
                    if suffix[2] == keys.ELEMENT_CLASS and not (live and suffix.startswith(live)):
                        parsed = keys.parse_data_suffix(suffix)
                        owner = keys.element_suffix_prefix(parsed.key, parsed.version)
                        meta = self.get(parsed.key)
                        if meta is None or meta.version != parsed.version:
                            it.seek(prefix + keys.prefix_end(owner))
                            continue
                        live = owner
                    yield suffix, value
        except DB_ERRORS as exc:
            raise self._error(exc) from exc

    def chunks(self, max_bytes: int) -> Iterator[bytes]:
        """Encoded chunks of about `max_bytes` each (one entry may exceed it), in key order."""
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        pending: list[tuple[bytes, bytes]] = []
        size = 0
        for key, value in self._records():
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
        items = decode_chunk(chunk)  # refuse garbage before it is stored
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
        self._store.abort_install(self._group, self._generation)
