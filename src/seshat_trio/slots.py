"""Redis Cluster hash slots: which of the 16,384 slots a key belongs to.

A leaf module (imports nothing of the project): storage key layouts, the group router and the
CLUSTER commands all ask it, so the mapping is written once. The rule is Redis Cluster's,
exactly (cluster.c `keyHashSlot`): CRC16/XMODEM of the key, modulo 16384, except that a key
holding a non-empty `{...}` hash tag hashes only the tag. Only the first `{` counts, and the
tag ends at the first `}` after it; `{}` (empty) means the whole key is hashed.
"""

from __future__ import annotations

import binascii

SLOT_COUNT = 16384


def hash_tag(key: bytes) -> bytes:
    """The part of `key` that decides its slot (the whole key when there is no usable tag)."""
    start = key.find(b"{")
    if start != -1:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            return key[start + 1 : end]
    return key


def key_slot(key: bytes) -> int:
    """The hash slot of `key`, in range(SLOT_COUNT)."""
    # crc_hqx is CRC-16/CCITT with the caller's initial value: with 0 it is XMODEM, the
    # variant Redis Cluster uses. Every stored key is slotted, so a key without `{` skips a
    # call (`find`, not `in`: a bytes `in` first tries the operand as an integer and raises).
    if key.find(b"{") != -1:
        key = hash_tag(key)
    return binascii.crc_hqx(key, 0) & (SLOT_COUNT - 1)
