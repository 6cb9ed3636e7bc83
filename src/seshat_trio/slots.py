"""Redis Cluster hash slots: which of the 16,384 slots a key belongs to.

A leaf module (imports nothing of the project): storage key layouts, the group router and the
CLUSTER commands all ask it, so the mapping is written once. The rule is Redis Cluster's,
exactly (cluster.c `keyHashSlot`): CRC16/XMODEM of the key, modulo 16384, except that a key
holding a non-empty `{...}` hash tag hashes only the tag. Only the first `{` counts, and the
tag ends at the first `}` after it; `{}` (empty) means the whole key is hashed.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable

SLOT_COUNT = 16384


def key_slot(key: bytes, _crc16: Callable[[bytes, int], int] = binascii.crc_hqx) -> int:
    """The hash slot of `key`, in range(SLOT_COUNT)."""
    # Only the part of the key inside its tag counts, if it has a usable one. Every stored
    # key is slotted on every node that applies it: `partition` (~80 ns) rather than `find`
    # and a slice (~140 ns a `find`; `in` first tries the operand as an integer and raises).
    _, brace, rest = key.partition(b"{")
    if brace:
        tag, close, _ = rest.partition(b"}")
        if close and tag:
            key = tag
    # crc_hqx is CRC-16/CCITT with the caller's initial value: with 0 it is XMODEM, the
    # variant Redis Cluster uses.
    return _crc16(key, 0) & (SLOT_COUNT - 1)
