"""The garbage sweep task: it empties the garbage in bounded steps and survives failures."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from seshat_trio.storage import StorageError, Store, StoredValue, WriteBatch, keys
from seshat_trio.storage.sweep import run_sweep


def records(store: Store) -> int:
    return sum(1 for _ in store._db.iterator(prefix=keys.values_prefix(1)))


def make_garbage(store: Store) -> None:
    batch = WriteBatch()
    batch.put_value(1, b"h", StoredValue(4, b"header", 0, version=7))
    for i in range(2500):
        batch.put_element(1, b"h", 7, b"f%d" % i, b"v")
    store.write(batch)
    drop = WriteBatch()
    drop.delete_value(1, b"h")
    drop.drop_elements(1, b"h", 7)
    store.write(drop)


async def test_the_sweep_deletes_garbage_in_steps_then_idles(
    store: Store, monkeypatch: pytest.MonkeyPatch, autojump_clock: trio.testing.MockClock
) -> None:
    make_garbage(store)
    steps: list[int] = []
    sweep = store.sweep_garbage

    def counted(max_keys: int) -> int:
        steps.append(swept := sweep(max_keys))
        if len(steps) == 2:
            raise StorageError("disk full, for a moment")
        return swept

    monkeypatch.setattr(store, "sweep_garbage", counted)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_sweep, store, 1000, 1.0)
        await trio.sleep(20)  # virtual seconds (autojump clock)
        nursery.cancel_scope.cancel()
    assert records(store) == 0
    assert len([s for s in steps if s]) >= 3  # 2,500 keys in 1,000-key steps
    assert steps[-1] == 0  # then it only looks, every idle_s
