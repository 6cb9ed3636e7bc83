"""Child process for the storage crash tests: `python storage_child.py MODE PATH`.

acks:    commit batches through a GroupCommitter from 8 concurrent tasks; each batch puts a
         sequence number into a value, a system blob, the applied index of its own group and
         one log entry; prints "ack <seq>" once commit returned. Runs until killed.
install: write an old value set synced, print "ready", then install a new set in small
         chunks; print "installed" after finish, then idle until killed.
stage:   like install, but exit hard halfway through staging (never finishing).
fsize:   exceed a file-size limit during a write (a real LevelDB I/O error), lift the limit,
         write again; prints "failed", then "recovered".
"""

import os
import resource
import signal
import sys
from pathlib import Path

import trio

from seshat_trio.storage import (
    GroupCommitter,
    LogRecord,
    StorageError,
    Store,
    StoredValue,
    WriteBatch,
    encode_chunk,
)
from seshat_trio.storage.records import encode_stored_value

OLD = {f"old{i:05}".encode(): b"o" * 50 for i in range(3000)}
NEW = {f"new{i:05}".encode(): b"n" * 50 for i in range(3000)}


def value(data: bytes) -> StoredValue:
    return StoredValue(kind=0, data=data, expires_at_ms=0)


def ack_batch(seq: int) -> WriteBatch:
    group = 1 + seq % 8
    batch = WriteBatch()
    batch.put_value(group, f"seq{seq}".encode(), value(str(seq).encode()))
    batch.put_value(group, f"mirror{seq}".encode(), value(str(seq).encode()))
    batch.put_system(0, f"seq{seq}", str(seq).encode())
    return batch


async def acks(store: Store) -> None:
    committer = GroupCommitter(store)
    counter = iter(range(10**9))

    async def writer(group_index: int) -> None:
        # Each task owns one group's log so appends per group stay in order.
        group = 1 + group_index
        while True:
            seq = next(counter)
            batch = ack_batch(seq)
            index = store.last_log_index(group) + 1
            batch.append_log(group, [LogRecord(index=index, term=1, kind=0, data=b"%d" % seq)])
            await committer.commit(batch)
            print(f"ack {seq}", flush=True)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(committer.run)
        for i in range(8):
            nursery.start_soon(writer, i)


def install(store: Store, finish: bool) -> None:
    batch = WriteBatch()
    for key, data in OLD.items():
        batch.put_value(1, key, value(data))
    store.write(batch, sync=True)
    print("ready", flush=True)
    items = [(k, encode_stored_value(value(v))) for k, v in NEW.items()]
    with store.begin_install(1) as installer:
        for start in range(0, len(items), 100):
            if not finish and start >= len(items) // 2:
                os._exit(0)  # a crash: no cleanup, no finish
            installer.add_chunk(encode_chunk(items[start : start + 100]))
        done = WriteBatch()
        done.put_applied(1, 77)
        installer.finish(done)
    print("installed", flush=True)
    signal.pause()


def fsize(store: Store) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    big = WriteBatch()
    big.put_value(1, b"big", value(b"b" * 2_000_000))
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, hard))
    try:
        store.write(big, sync=True)
    except StorageError as exc:
        print(f"failed {exc}", flush=True)
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
    after = WriteBatch()
    after.put_value(1, b"after", value(b"ok"))
    store.write(after, sync=True)
    print("recovered", flush=True)


def main() -> None:
    mode, path = sys.argv[1], Path(sys.argv[2])
    store = Store.open(path)
    if mode == "acks":
        trio.run(acks, store)
    elif mode in ("install", "stage"):
        install(store, finish=mode == "install")
    elif mode == "fsize":
        seed = WriteBatch()
        seed.put_value(1, b"before", value(b"ok"))
        store.write(seed, sync=True)
        fsize(store)
    store.close()


if __name__ == "__main__":
    main()
