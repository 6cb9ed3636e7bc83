"""Micro benchmark: CPU per SET on the apply path, which every node runs for every write.

Run: python bench/apply_path.py [--entries N] [--keyspace K] [--value-cache-mb M]
Each log entry holds a batch of 16 SETs of 100-byte values on random keys, as a leader
builds it under pipelined load; the entry is appended to the log (unsynced) and applied, and
the log is compacted behind, so LevelDB holds log entries, tombstones and values together as
on a real node. Reports process CPU per applied SET, per slice of the run.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from seshat_trio.kv.operations import Operation, encode_batch, encode_operation
from seshat_trio.kv.state_machine import KvStateMachine
from seshat_trio.storage import Store, StoreOptions, WriteBatch
from seshat_trio.storage.records import LogRecord

GROUP = 1
PER_ENTRY = 16
KEEP_ENTRIES = 1000  # log entries kept behind the applied index, as after a compaction


def entry(rng: random.Random, keyspace: int, value: bytes) -> bytes:
    return encode_batch(
        [
            encode_operation(
                Operation(1_000, ((b"set", b"key:%012d" % rng.randrange(keyspace), value),))
            )
            for _ in range(PER_ENTRY)
        ]
    )


def run(path: Path, entries: int, keyspace: int, cache_mb: int, slices: int) -> None:
    options = StoreOptions(value_cache_bytes=cache_mb << 20)
    rng = random.Random(7)
    value = b"v" * 100
    with Store.open(path, options) as store:
        machine = KvStateMachine(store, GROUP)
        spent, applied = 0.0, 0
        for index in range(1, entries + 1):
            data = entry(rng, keyspace, value)
            append = WriteBatch()
            append.append_log(GROUP, [LogRecord(index=index, term=1, kind=1, data=data)])
            store.write(append)
            started = time.process_time()
            machine.apply([(index, data)])
            spent += time.process_time() - started
            applied += PER_ENTRY
            if index % 500 == 0 and index > KEEP_ENTRIES:
                compact = WriteBatch()
                compact.truncate_log_before(GROUP, index - KEEP_ENTRIES)
                store.write(compact)
            if index % (entries // slices) == 0:
                cache = store.value_cache
                print(
                    f"{index * PER_ENTRY:>9,} SETs: {spent / applied * 1e6:6.2f} us CPU per "
                    f"applied SET (value cache {cache.hits:,} hits, {cache.misses:,} misses)"
                )
                spent, applied = 0.0, 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--entries", type=int, default=12_000)
    ap.add_argument("--keyspace", type=int, default=100_000)
    ap.add_argument("--value-cache-mb", type=int, default=64)
    ap.add_argument("--slices", type=int, default=4)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="seshat-apply-") as tmp:
        run(Path(tmp) / "db", args.entries, args.keyspace, args.value_cache_mb, args.slices)


if __name__ == "__main__":
    main()
