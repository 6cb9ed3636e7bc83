"""WriteBatch: a pure-Python, mergeable list of typed storage operations.

A batch holds intentions, not keys: the store turns it into one atomic LevelDB write at write
time, because some operations (log truncation, clearing values) depend on what the store
holds at that moment. Merging batches (`extend`) keeps their order, so group commit can turn
many batches into one write with the same effect as writing them one after another.
Arguments are checked here, when the batch is built, so a bad call fails at its caller.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence

import attrs

from seshat_trio.storage import keys
from seshat_trio.storage.records import HardState, LogRecord, SnapshotMeta, StoredValue


@attrs.frozen(slots=True)
class AppendLog:
    group: int
    records: tuple[LogRecord, ...]


@attrs.frozen(slots=True)
class TruncateLogFrom:
    group: int
    index: int


@attrs.frozen(slots=True)
class TruncateLogBefore:
    group: int
    index: int


@attrs.frozen(slots=True)
class PutHardState:
    group: int
    state: HardState


@attrs.frozen(slots=True)
class PutApplied:
    group: int
    index: int


@attrs.frozen(slots=True)
class PutSnapshotMeta:
    group: int
    meta: SnapshotMeta


@attrs.frozen(slots=True)
class PutValues:
    """Metadata records (for a string, its value) of one group, keys distinct: one
    operation for an apply run's writes, translated in one loop."""

    group: int
    values: tuple[tuple[bytes, StoredValue], ...]


@attrs.frozen(slots=True)
class DeleteValue:
    group: int
    key: bytes


@attrs.frozen(slots=True)
class PutElement:
    group: int
    key: bytes
    version: int
    suffix: bytes
    value: bytes


@attrs.frozen(slots=True)
class DeleteElement:
    group: int
    key: bytes
    version: int
    suffix: bytes


@attrs.frozen(slots=True)
class WriteElements:
    """Element records of one collection (key, version), each put or (None) deleted;
    `uncached` ones are kept out of the value cache (records only range scans read)."""

    group: int
    key: bytes
    version: int
    changes: tuple[tuple[bytes, bytes | None], ...]
    uncached: tuple[tuple[bytes, bytes | None], ...] = ()


@attrs.frozen(slots=True)
class DropElements:
    group: int
    key: bytes
    version: int


@attrs.frozen(slots=True)
class ClearValues:
    group: int


@attrs.frozen(slots=True)
class PutSystem:
    group: int
    name: str
    data: bytes


@attrs.frozen(slots=True)
class DeleteSystem:
    group: int
    name: str


Operation = (
    AppendLog
    | TruncateLogFrom
    | TruncateLogBefore
    | PutHardState
    | PutApplied
    | PutSnapshotMeta
    | PutValues
    | DeleteValue
    | PutElement
    | DeleteElement
    | WriteElements
    | DropElements
    | ClearValues
    | PutSystem
    | DeleteSystem
)


def _check_index(index: int) -> None:
    if not 1 <= index <= keys.MAX_U64:
        raise ValueError(f"log index {index} is out of range 1..2**64-1")


def _check_version(version: int) -> None:
    if not 1 <= version <= keys.MAX_U64:
        raise ValueError(f"element version {version} is out of range 1..2**64-1")


class WriteBatch:
    """Operations applied atomically, in order, by `Store.write`."""

    __slots__ = ("_ops",)

    def __init__(self) -> None:
        self._ops: list[Operation] = []

    def __len__(self) -> int:
        return len(self._ops)

    def __iter__(self) -> Iterator[Operation]:
        return iter(self._ops)

    def extend(self, other: WriteBatch) -> None:
        """Append `other`'s operations after this batch's own."""
        self._ops.extend(other._ops)

    @classmethod
    def merged(cls, batches: Iterable[WriteBatch]) -> WriteBatch:
        result = cls()
        for batch in batches:
            result.extend(batch)
        return result

    def append_log(self, group: int, records: Sequence[LogRecord]) -> None:
        """Append records with consecutive indexes, the first one right after the last stored."""
        keys.check_group(group)
        if not records:
            return
        for previous, record in itertools.pairwise(records):
            if record.index != previous.index + 1:
                raise ValueError(
                    f"log records must have consecutive indexes: {record.index} follows "
                    f"{previous.index}"
                )
        _check_index(records[0].index)
        _check_index(records[-1].index)
        self._ops.append(AppendLog(group, tuple(records)))

    def truncate_log_from(self, group: int, index: int) -> None:
        """Delete every entry with index >= `index` (a conflicting suffix)."""
        keys.check_group(group)
        _check_index(index)
        self._ops.append(TruncateLogFrom(group, index))

    def truncate_log_before(self, group: int, index: int) -> None:
        """Delete every entry with index < `index` (compaction); `index` becomes the first index."""
        keys.check_group(group)
        _check_index(index)
        self._ops.append(TruncateLogBefore(group, index))

    def put_hard_state(self, group: int, state: HardState) -> None:
        keys.check_group(group)
        self._ops.append(PutHardState(group, state))

    def put_applied(self, group: int, index: int) -> None:
        keys.check_group(group)
        if not 0 <= index <= keys.MAX_U64:
            raise ValueError(f"applied index {index} is out of range 0..2**64-1")
        self._ops.append(PutApplied(group, index))

    def put_snapshot_meta(self, group: int, meta: SnapshotMeta) -> None:
        keys.check_group(group)
        self._ops.append(PutSnapshotMeta(group, meta))

    def put_value(self, group: int, key: bytes, value: StoredValue) -> None:
        self.put_values(group, ((key, value),))

    def put_values(self, group: int, values: Iterable[tuple[bytes, StoredValue]]) -> None:
        """`put_value` of each (key, value), the keys distinct."""
        if not 1 <= group <= keys.MAX_U64:  # every write comes here: no call when valid
            keys.check_data_group(group)
        self._ops.append(PutValues(group, tuple([(bytes(k), v) for k, v in values])))

    def delete_value(self, group: int, key: bytes) -> None:
        keys.check_data_group(group)
        self._ops.append(DeleteValue(group, bytes(key)))

    def put_element(
        self, group: int, key: bytes, version: int, suffix: bytes, value: bytes
    ) -> None:
        """One element record of the collection (key, version)."""
        if not (1 <= group <= keys.MAX_U64 and 1 <= version <= keys.MAX_U64):
            keys.check_data_group(group)  # every element write comes here: no call when valid
            _check_version(version)
        self._ops.append(PutElement(group, bytes(key), version, bytes(suffix), bytes(value)))

    def delete_element(self, group: int, key: bytes, version: int, suffix: bytes) -> None:
        if not (1 <= group <= keys.MAX_U64 and 1 <= version <= keys.MAX_U64):
            keys.check_data_group(group)
            _check_version(version)
        self._ops.append(DeleteElement(group, bytes(key), version, bytes(suffix)))

    def write_elements(
        self,
        group: int,
        key: bytes,
        version: int,
        changes: Iterable[tuple[bytes, bytes | None]],
        uncached: Iterable[tuple[bytes, bytes | None]] = (),
    ) -> None:
        """Element records of the collection (key, version): (suffix, value) puts and
        (suffix, None) deletes, in one operation (an apply run's writes to a collection:
        cheaper per element than `put_element` and `delete_element`). The `uncached`
        changes are written alike but kept out of the value cache: records that are only
        read by range scans (`get_element` still reads them correctly, uncached)."""
        keys.check_data_group(group)
        _check_version(version)
        self._ops.append(WriteElements(group, bytes(key), version, tuple(changes), tuple(uncached)))

    def drop_elements(self, group: int, key: bytes, version: int) -> None:
        """Every element record of (key, version) becomes garbage, in O(1) here: a
        background sweep deletes them (docs/storage.md, "Garbage"). The caller guarantees
        that nothing reads that version again (its metadata record is gone or replaced)."""
        keys.check_data_group(group)
        _check_version(version)
        self._ops.append(DropElements(group, bytes(key), version))

    def clear_values(self, group: int) -> None:
        """Delete every value of `group` (in O(1): see docs/storage.md, "Generations")."""
        keys.check_data_group(group)
        self._ops.append(ClearValues(group))

    def put_system(self, group: int, name: str, data: bytes) -> None:
        keys.system_key(group, name)  # validates group and name
        self._ops.append(PutSystem(group, name, bytes(data)))

    def delete_system(self, group: int, name: str) -> None:
        keys.system_key(group, name)  # validates group and name
        self._ops.append(DeleteSystem(group, name))
