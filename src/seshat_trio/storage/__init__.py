"""Storage: one LevelDB per node with six keyspaces, typed records, atomic batches.

The layer knows nothing of Raft: it stores typed records where it is told to. Callers never
build keys; they use `WriteBatch` operations and `Store` reads. See docs/storage.md.
"""

from seshat_trio.storage.batch import WriteBatch
from seshat_trio.storage.errors import StorageError
from seshat_trio.storage.group_commit import CommitStats, GroupCommitter
from seshat_trio.storage.keys import EVERY_ELEMENT, SYSTEM_GROUP, Span, position
from seshat_trio.storage.records import (
    RECORD_VERSION,
    HardState,
    LogRecord,
    SnapshotMeta,
    StoredValue,
)
from seshat_trio.storage.snapshot import ValueInstaller, ValueSnapshot, decode_chunk, encode_chunk
from seshat_trio.storage.store import FORMAT_VERSION, Store, StoreOptions

__all__ = [
    "EVERY_ELEMENT",
    "FORMAT_VERSION",
    "RECORD_VERSION",
    "SYSTEM_GROUP",
    "CommitStats",
    "GroupCommitter",
    "HardState",
    "LogRecord",
    "SnapshotMeta",
    "Span",
    "StorageError",
    "Store",
    "StoreOptions",
    "StoredValue",
    "ValueInstaller",
    "ValueSnapshot",
    "WriteBatch",
    "decode_chunk",
    "encode_chunk",
    "position",
]
