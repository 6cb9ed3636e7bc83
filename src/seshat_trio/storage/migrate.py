"""Migration of a format 1 or 2 store to the data record layout of format 3, at open.

Formats 1 and 2 kept one record per key, `generation | user key` -> StoredValue. Format 3
keys a value by its slot and a checksum (keys.py). For each data group, the records of its
current generation are copied, value bytes unchanged (every StoredValue version is still
read), under a fresh generation in the new layout, in unsynced batches of `BATCH_KEYS`;
then ONE synced write points every group at its new generation and records format 3. A
crash before that write leaves the old format and its values in force (the half-copied
generation is garbage the next open collects, and the migration starts again); after it,
the store is format 3 and the old generations are garbage the sweep deletes.

Work is O(keys) at open, in bounded memory (measured in docs/storage.md).
"""

from __future__ import annotations

from typing import Any

from seshat_trio.storage import keys
from seshat_trio.storage.records import decode_counter, encode_counter

BATCH_KEYS = 10_000


def _groups_with_values(db: Any) -> list[int]:
    groups: list[int] = []
    end = keys.prefix_end(keys.DATA_KV)
    start = keys.DATA_KV
    while True:
        with db.iterator(start=start, stop=end, include_value=False) as it:
            key = next(it, None)
        if key is None:
            return groups
        group = keys.group_of(key)
        groups.append(group)
        if group == keys.MAX_U64:
            return groups
        start = keys.group_prefix(keys.DATA_KV, group + 1)


def migrate_layout(db: Any, format_record: bytes) -> None:
    """Copy every group's current values into the format 3 layout, then flip (see above)."""
    flips: list[tuple[bytes, bytes]] = []
    for group in _groups_with_values(db):
        raw = db.get(keys.state_key(group, keys.VALUE_GENERATION))
        current = 0 if raw is None else decode_counter(raw)
        with db.iterator(prefix=keys.values_prefix(group), reverse=True) as it:
            last_key = next(it)[0]
        target = max(current, keys.generation_of(last_key)) + 1
        source = keys.generation_prefix(group, current)
        dest = keys.generation_prefix(group, target)
        skip = len(source)
        with db.iterator(prefix=source) as it:
            while True:
                chunk = [pair for _, pair in zip(range(BATCH_KEYS), it, strict=False)]
                if not chunk:
                    break
                with db.write_batch() as wb:
                    for key, value in chunk:
                        wb.put(dest + keys.meta_suffix(key[skip:]), value)
        flips.append((keys.state_key(group, keys.VALUE_GENERATION), encode_counter(target)))
    with db.write_batch(sync=True) as wb:
        for key, value in flips:
            wb.put(key, value)
        wb.put(keys.META_FORMAT_KEY, format_record)
