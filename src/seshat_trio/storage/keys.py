"""The byte layout of every LevelDB key (see docs/storage.md, "Groups and keyspaces").

Six keyspaces stand in for column families; each is a one-byte tag. Every key is
`tag | group (8 bytes big-endian) | suffix`, so a group's keys are one contiguous range and
groups never interleave. Log suffixes are the index (8 bytes big-endian) so log keys sort by
index. Group 0 is the system group (system_* keyspaces); groups >= 1 are data groups
(data_* keyspaces).

Data records (data_kv) are `generation | slot | class | rest`, all big-endian: the user key's
Redis Cluster hash slot (2 bytes) comes right after the generation, so one slot of one
generation is one contiguous range (metadata and elements together). Two classes:

    META     0x00 | crc32(key) (4 bytes) | key                      -> StoredValue
    ELEMENT  0x01 | len(key) (4 bytes) | key | version (8 bytes) | suffix   -> element bytes

Metadata records sort by (slot, crc32(key), key): a 46-bit position that SCAN cursors
carry. A collection's element records share one prefix per (key, version); the suffix is
the value type's business (kv/). A version is never reused, so the elements of a deleted
collection are garbage nobody can read, removed later (docs/storage.md, "Garbage").
"""

from __future__ import annotations

import binascii
import functools
import struct
from collections.abc import Callable

import attrs

from seshat_trio.slots import SLOT_COUNT, key_slot

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
GARBAGE = b"T"  # + the first LevelDB key of a range to delete; the value is its end

# Record classes of a data record, right after its slot.
META_CLASS = 0
ELEMENT_CLASS = 1
# A metadata record's position: slot (14 bits) then crc32 of the key (32 bits).
POSITION_BITS = 46
POSITION_END = SLOT_COUNT << 32

_U64 = struct.Struct(">Q")
_META_HEAD = struct.Struct(">HBI")  # slot, META_CLASS, crc32(key)
_ELEMENT_HEAD = struct.Struct(">HBI")  # slot, ELEMENT_CLASS, len(key)
_SLOT_CLASS = struct.Struct(">HB")


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


@functools.lru_cache(maxsize=256)
def meta_prefixes(group: int, generation: int) -> tuple[bytes, bytes]:
    """(LevelDB key prefix, value cache key prefix) of the group's metadata records.

    The value cache's key of a metadata record is the second prefix and the user key:
    cheaper to build than the LevelDB key (no slot, no checksum), and never equal to a
    LevelDB key (whose first byte is a keyspace tag, never 0xff), which the cache uses for
    elements."""
    prefix = generation_prefix(group, generation)
    return prefix, b"\xff" + prefix[1:]


def meta_suffix(
    key: bytes,
    _pack: Callable[..., bytes] = _META_HEAD.pack,
    _slot: Callable[[bytes], int] = key_slot,
    _crc: Callable[[bytes], int] = binascii.crc32,
) -> bytes:
    """A metadata record's key after its generation (locals bound: every write builds one)."""
    return _pack(_slot(key), META_CLASS, _crc(key)) + key


def value_key(group: int, generation: int, key: bytes) -> bytes:
    """The LevelDB key of `key`'s metadata record."""
    return generation_prefix(group, generation) + meta_suffix(key)


def position(key: bytes) -> int:
    """Where `key`'s metadata record sorts: (slot << 32) | crc32(key)."""
    return key_slot(key) << 32 | binascii.crc32(key)


def position_prefix(position: int) -> bytes:
    """The metadata suffix prefix of the records at `position` (< POSITION_END)."""
    return _META_HEAD.pack(position >> 32, META_CLASS, position & 0xFFFFFFFF)


def slot_meta_prefix(slot: int) -> bytes:
    """The suffix prefix of every metadata record of `slot`."""
    return _SLOT_CLASS.pack(slot, META_CLASS)


def element_suffix_prefix(key: bytes, version: int) -> bytes:
    """The suffix (after the generation) shared by the element records of (key, version)."""
    return _ELEMENT_HEAD.pack(key_slot(key), ELEMENT_CLASS, len(key)) + key + u64(version)


# Cached: every element read and write builds one, and a command (or an apply run of a
# hot collection) builds the same one again and again.
@functools.lru_cache(maxsize=1024)
def element_prefix(group: int, generation: int, key: bytes, version: int) -> bytes:
    return generation_prefix(group, generation) + element_suffix_prefix(key, version)


@attrs.frozen(slots=True)
class DataSuffix:
    """A data record's key after its generation, parsed (see the module doc)."""

    slot: int
    record_class: int
    key: bytes
    version: int = 0  # elements only
    element: bytes = b""  # elements only: the type's suffix


def parse_data_suffix(suffix: bytes) -> DataSuffix:
    """Parse and check a data record key (after the generation); ValueError if malformed."""
    if len(suffix) < _META_HEAD.size:
        raise ValueError(f"data record key too short ({len(suffix)} bytes)")
    slot, record_class, word = _META_HEAD.unpack_from(suffix)
    head = _META_HEAD.size
    if record_class == META_CLASS:
        key = suffix[head:]
        if binascii.crc32(key) != word or key_slot(key) != slot:
            raise ValueError("metadata record key does not match its slot or checksum")
        return DataSuffix(slot, META_CLASS, key)
    if record_class == ELEMENT_CLASS:
        end = head + word
        if len(suffix) < end + 8:
            raise ValueError("element record key too short")
        key = suffix[head:end]
        if key_slot(key) != slot:
            raise ValueError("element record key does not match its slot")
        version: int = _U64.unpack_from(suffix, end)[0]
        return DataSuffix(slot, ELEMENT_CLASS, key, version, suffix[end + 8 :])
    raise ValueError(f"unknown data record class {record_class}")


@attrs.frozen(slots=True)
class Span:
    """A range of a collection's element suffixes, start <= suffix < stop (None: to the
    end), read in suffix order or (`reverse`) backwards."""

    start: bytes = b""
    stop: bytes | None = None
    reverse: bool = False


EVERY_ELEMENT = Span()


def garbage_key(group: int, start: bytes) -> bytes:
    """The record saying that the LevelDB range starting at `start` is garbage."""
    return state_key(group, GARBAGE) + start


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
