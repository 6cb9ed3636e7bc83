"""Hash slots against Redis Cluster's own reference values (redis-cli CLUSTER KEYSLOT)."""

from __future__ import annotations

import binascii

from hypothesis import given
from hypothesis import strategies as st

from seshat_trio.slots import SLOT_COUNT, key_slot


def test_crc16_is_the_xmodem_variant() -> None:
    # The check value of CRC-16/XMODEM, and the example of Redis Cluster's specification.
    assert binascii.crc_hqx(b"123456789", 0) == 0x31C3
    assert key_slot(b"123456789") == 0x31C3 % SLOT_COUNT


def test_reference_slots_from_redis() -> None:
    # Values from a Redis Cluster node (`CLUSTER KEYSLOT`).
    assert key_slot(b"foo") == 12182
    assert key_slot(b"bar") == 5061
    assert key_slot(b"hello") == 866
    assert key_slot(b"") == 0
    assert key_slot(b"somekey") == 11058
    assert key_slot(b"{user1000}.following") == key_slot(b"user1000")
    assert key_slot(b"{user1000}.followers") == key_slot(b"user1000")


def _crc(key: bytes) -> int:
    return binascii.crc_hqx(key, 0) % SLOT_COUNT


def test_hash_tag_rules() -> None:
    assert key_slot(b"{user1000}.following") == _crc(b"user1000")
    assert key_slot(b"foo{}{bar}") == _crc(b"foo{}{bar}")  # empty first tag: whole key
    assert key_slot(b"foo{{bar}}zap") == _crc(b"{bar")  # tag ends at the first }
    assert key_slot(b"foo{bar}{zap}") == _crc(b"bar")  # only the first tag counts
    assert key_slot(b"no}tag{here") == _crc(b"no}tag{here")  # no } after the {
    assert key_slot(b"{") == _crc(b"{")


@given(st.binary(max_size=64), st.binary(max_size=16), st.binary(max_size=16))
def test_keys_sharing_a_tag_share_a_slot(tag: bytes, a: bytes, b: bytes) -> None:
    tag = tag.replace(b"}", b"").replace(b"{", b"") or b"t"
    a, b = a.replace(b"{", b""), b.replace(b"{", b"")
    assert key_slot(a + b"{" + tag + b"}" + b) == key_slot(tag)
    assert 0 <= key_slot(a + b) < SLOT_COUNT
