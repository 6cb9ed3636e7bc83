"""Micro benchmark: CPU per write on the apply path, which every node runs for every write.

Run: python bench/apply_path.py [--command set] [--entries N] [--keyspace K]
[--value-cache-mb M]. Each log entry holds a batch of 16 writes as a leader builds it under
load, with redis-benchmark's arguments (`-r K`: each __rand_int__ a random 12-digit number
below K): SET key:__rand_int__ of 100 bytes, HSET myhash element:__rand_int__ of 100 bytes,
SADD myset element:__rand_int__, ZADD myzset __rand_int__ element:__rand_int__. The entry
is appended to the log (unsynced) and applied, and the log is compacted behind, so LevelDB
holds log entries, tombstones and values together as on a real node. Reports process CPU
per applied write, per slice of the run. Compare commands (or trees, with
PYTHONPATH=<base>/src) in interleaved runs: the figures move with the machine's load.
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


def command(name: str, rng: random.Random, keyspace: int, value: bytes) -> tuple[bytes, ...]:
    """One write as redis-benchmark's test `name` sends it."""

    def rand() -> bytes:
        return b"%012d" % rng.randrange(keyspace)

    if name == "set":
        return (b"set", b"key:" + rand(), value)
    if name == "hset":
        return (b"hset", b"myhash", b"element:" + rand(), value)
    if name == "sadd":
        return (b"sadd", b"myset", b"element:" + rand())
    return (b"zadd", b"myzset", rand(), b"element:" + rand())


COMMANDS = ("set", "hset", "sadd", "zadd")


def entry(name: str, rng: random.Random, keyspace: int, value: bytes) -> bytes:
    return encode_batch(
        [
            encode_operation(Operation(1_000, (command(name, rng, keyspace, value),)))
            for _ in range(PER_ENTRY)
        ]
    )


def run(  # noqa: PLR0917
    path: Path, name: str, entries: int, keyspace: int, cache_mb: int, slices: int
) -> None:
    options = StoreOptions(value_cache_bytes=cache_mb << 20)
    rng = random.Random(7)
    value = b"v" * 100
    with Store.open(path, options) as store:
        machine = KvStateMachine(store, GROUP)
        spent, applied = 0.0, 0
        for index in range(1, entries + 1):
            data = entry(name, rng, keyspace, value)
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
                    f"{index * PER_ENTRY:>9,} {name.upper()}s: {spent / applied * 1e6:6.2f} us CPU "
                    f"per applied {name.upper()} (value cache {cache.hits:,} hits, "
                    f"{cache.misses:,} misses)"
                )
                spent, applied = 0.0, 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--command", choices=COMMANDS, default="set")
    ap.add_argument("--entries", type=int, default=12_000)
    ap.add_argument("--keyspace", type=int, default=100_000)
    ap.add_argument("--value-cache-mb", type=int, default=64)
    ap.add_argument("--slices", type=int, default=4)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="seshat-apply-") as tmp:
        run(
            Path(tmp) / "db",
            args.command,
            args.entries,
            args.keyspace,
            args.value_cache_mb,
            args.slices,
        )


if __name__ == "__main__":
    main()
