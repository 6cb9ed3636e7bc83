"""Records round-trip through Cap'n Proto, newer versions and garbage are refused, keys sort."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seshat_trio.storage import (
    RECORD_VERSION,
    HardState,
    LogRecord,
    SnapshotMeta,
    StorageError,
    StoredValue,
    keys,
    records,
)

u64 = st.integers(min_value=0, max_value=2**64 - 1)
u16 = st.integers(min_value=0, max_value=2**16 - 1)


@given(u64, u64, u16, st.binary(max_size=300))
def test_log_record_round_trip(index: int, term: int, kind: int, data: bytes) -> None:
    record = LogRecord(index=index, term=term, kind=kind, data=data)
    assert records.decode_log_record(records.encode_log_record(record)) == record


@given(u16, st.binary(max_size=300), u64)
def test_stored_value_round_trip(kind: int, data: bytes, expires: int) -> None:
    value = StoredValue(kind=kind, data=data, expires_at_ms=expires)
    assert records.decode_stored_value(records.encode_stored_value(value)) == value


@given(u16, st.binary(max_size=300), u64)
def test_version_1_stored_values_are_still_read(kind: int, data: bytes, expires: int) -> None:
    v1 = records._schema.StoredValue.new_message(
        version=1, kind=kind, data=data, expiresAtMs=expires
    ).to_bytes_packed()
    assert v1[0] != 0  # what tells the two formats apart
    assert records.decode_stored_value(v1) == StoredValue(kind, data, expires)


def test_stored_value_formats_2_and_3_layout_and_refusals() -> None:
    encoded = records.encode_stored_value(StoredValue(kind=1, data=b"abc", expires_at_ms=5))
    assert encoded == b"\x00\x02\x00\x01" + (5).to_bytes(8, "big") + b"abc"
    # A collection's metadata: version 3 adds the element version.
    collection = StoredValue(kind=4, data=b"hdr", expires_at_ms=5, version=2**40 + 3)
    encoded3 = records.encode_stored_value(collection)
    assert (
        encoded3
        == b"\x00\x03\x00\x04" + (5).to_bytes(8, "big") + (2**40 + 3).to_bytes(8, "big") + b"hdr"
    )
    assert records.decode_stored_value(encoded3) == collection
    newer = b"\x00\x04" + encoded[2:]
    with pytest.raises(StorageError, match=r"version 4.*1 to 3"):
        records.decode_stored_value(newer)
    with pytest.raises(StorageError, match="too short"):
        records.decode_stored_value(encoded[:11])
    with pytest.raises(StorageError, match="too short"):
        records.decode_stored_value(encoded3[:19])


def test_hard_state_snapshot_meta_and_counter_round_trip() -> None:
    state = HardState(term=7, vote=3, commit=99)
    assert records.decode_hard_state(records.encode_hard_state(state)) == state
    meta = SnapshotMeta(index=10, term=2, voters=(1, 2, 3), learners=(4,))
    assert records.decode_snapshot_meta(records.encode_snapshot_meta(meta)) == meta
    assert records.decode_counter(records.encode_counter(2**64 - 1)) == 2**64 - 1


def test_newer_record_version_is_refused_with_both_versions() -> None:
    newer = records._schema.StoredValue.new_message(
        version=RECORD_VERSION + 1, kind=0, data=b"x"
    ).to_bytes_packed()
    both = rf"version {RECORD_VERSION + 1}.*version {RECORD_VERSION}"
    with pytest.raises(StorageError, match=both):
        records.decode_stored_value(newer)


def test_garbage_is_refused() -> None:
    with pytest.raises(StorageError, match="cannot decode StoredValue"):
        records.decode_stored_value(b"\xff" * 11)


def test_out_of_range_field_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="cannot encode"):
        records.encode_stored_value(StoredValue(kind=2**16, data=b"", expires_at_ms=0))
    with pytest.raises(ValueError, match="cannot encode"):
        records.encode_stored_value(StoredValue(kind=0, data=b"", expires_at_ms=2**64))
    with pytest.raises(ValueError, match="cannot encode"):
        records.encode_hard_state(HardState(term=2**64, vote=0, commit=0))


@given(st.lists(u64.filter(lambda i: i > 0), min_size=2, max_size=20, unique=True))
def test_log_keys_sort_by_index(indexes: list[int]) -> None:
    encoded = sorted(keys.log_key(5, i) for i in indexes)
    assert [keys.log_index(k) for k in encoded] == sorted(indexes)


def test_groups_and_keyspaces_are_disjoint_ranges() -> None:
    # Every key of group 1 sorts before every key of group 2, whatever the suffix.
    assert keys.log_key(1, 2**64 - 1) < keys.log_key(2, 1)
    assert keys.value_key(1, 2**64 - 1, b"\xff" * 10) < keys.value_key(2, 0, b"")
    tags = [
        keys.META,
        keys.SYSTEM_RAFT_LOG,
        keys.SYSTEM_RAFT_STATE,
        keys.SYSTEM_DATA,
        keys.DATA_RAFT_LOG,
        keys.DATA_RAFT_STATE,
        keys.DATA_KV,
    ]
    assert len(set(tags)) == len(tags)
    assert keys.log_prefix(0).startswith(keys.SYSTEM_RAFT_LOG)
    assert keys.log_prefix(3).startswith(keys.DATA_RAFT_LOG)
    assert keys.group_of(keys.state_key(9, keys.APPLIED)) == 9


def test_prefix_end_bounds_the_prefix() -> None:
    prefix = keys.generation_prefix(1, 255)
    end = keys.prefix_end(prefix)
    assert prefix + b"\xff" * 50 < end
    assert not end.startswith(prefix)


def test_a_stored_value_is_immutable_and_changed_by_replace() -> None:
    stored = StoredValue(kind=2, data=b"header", expires_at_ms=5, version=7)
    with pytest.raises(AttributeError):
        stored.data = b"other"  # type: ignore[misc]
    assert stored._replace(expires_at_ms=0) == StoredValue(2, b"header", 0, 7)
    assert records.decode_stored_value(records.encode_stored_value(stored)) == stored
