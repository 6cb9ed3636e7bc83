"""The byte layout of every LevelDB key (see docs/storage.md, "Key layout").

Six keyspaces stand in for column families; each is a one-byte tag. Every key is
`tag | group (8 bytes big-endian) | suffix`, so a group's keys are one contiguous range and
groups never interleave. Log suffixes are the index (8 bytes big-endian) so log keys sort by
index; value suffixes are `generation (8 bytes big-endian) | user key`. Group 0 is the system
group (system_* keyspaces); groups >= 1 are data groups (data_* keyspaces).
"""

from __future__ import annotations

import functools
import struct

SYSTEM_GROUP = 0
MAX_U64 = 2**64 - 1

META = b"\x00"  # the store-level meta record lives under META + b"format"
SYSTEM_RAFT_LOG = b"\x01"
SYSTEM_RAFT_STATE = b"\x02"
SYSTEM_DATA = b"\x03"
DATA_RAFT_LOG = b"\x11"
DATA_RAFT_STATE = b"\x12"
DATA_KV = b"\x13"

META_FORMAT_KEY = META + b"format"

# One-byte record names inside a *_raft_state keyspace.
HARD_STATE = b"H"
APPLIED = b"A"
SNAPSHOT_META = b"S"
LOG_FLOOR = b"F"  # first index not removed by prefix truncation
VALUE_GENERATION = b"G"

_U64 = struct.Struct(">Q")


def u64(value: int) -> bytes:
    if not 0 <= value <= MAX_U64:
        raise ValueError(f"{value} does not fit an unsigned 64-bit key field")
    return _U64.pack(value)


def check_group(group: int) -> None:
    if not 0 <= group <= MAX_U64:
        raise ValueError(f"group id {group} is out of range 0..2**64-1")


def check_data_group(group: int) -> None:
    check_group(group)
    if group == SYSTEM_GROUP:
        raise ValueError("group 0 is the system group: it has no value keyspace")


def group_prefix(tag: bytes, group: int) -> bytes:
    check_group(group)
    return tag + _U64.pack(group)


@functools.cache
def log_prefix(group: int) -> bytes:
    return group_prefix(SYSTEM_RAFT_LOG if group == SYSTEM_GROUP else DATA_RAFT_LOG, group)


def log_key(group: int, index: int) -> bytes:
    return log_prefix(group) + u64(index)


def log_index(key: bytes) -> int:
    """The index encoded in a log key (the last 8 bytes)."""
    index: int = _U64.unpack_from(key, len(key) - 8)[0]
    return index


def state_key(group: int, name: bytes) -> bytes:
    tag = SYSTEM_RAFT_STATE if group == SYSTEM_GROUP else DATA_RAFT_STATE
    return group_prefix(tag, group) + name


def system_key(group: int, name: str) -> bytes:
    if not name:
        raise ValueError("a system record needs a non-empty name")
    return group_prefix(SYSTEM_DATA, group) + name.encode("utf-8")


def values_prefix(group: int) -> bytes:
    """Every value of `group`, all generations."""
    check_data_group(group)
    return group_prefix(DATA_KV, group)


# Cached: built for every value read and written; a node has a handful of groups and each
# one's generations change only on FLUSHALL or a snapshot install.
@functools.lru_cache(maxsize=256)
def generation_prefix(group: int, generation: int) -> bytes:
    return values_prefix(group) + u64(generation)


def value_key(group: int, generation: int, key: bytes) -> bytes:
    return generation_prefix(group, generation) + key


def generation_of(value_key_bytes: bytes) -> int:
    """The generation of a data_kv key (bytes 9..17)."""
    generation: int = _U64.unpack_from(value_key_bytes, 9)[0]
    return generation


def group_of(key: bytes) -> int:
    """The group of any keyspace key (bytes 1..9)."""
    group: int = _U64.unpack_from(key, 1)[0]
    return group


def prefix_end(prefix: bytes) -> bytes:
    """The smallest key greater than every key starting with `prefix` (prefix is never all 0xff)."""
    stripped = prefix.rstrip(b"\xff")
    return stripped[:-1] + bytes([stripped[-1] + 1])
