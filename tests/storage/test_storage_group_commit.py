"""GroupCommitter merges concurrent commits into few synced rounds and reports failures."""

from collections.abc import Callable
from pathlib import Path

import pytest
import trio
import trio.testing

from seshat_trio.storage import GroupCommitter, StorageError, Store, StoredValue, WriteBatch
from seshat_trio.storage.batch import AppendLog, PutValues
from seshat_trio.storage.group_commit import INLINE_MAX_BYTES
from seshat_trio.storage.records import LogRecord


def put(key: bytes) -> WriteBatch:
    batch = WriteBatch()
    batch.put_value(1, key, StoredValue(kind=0, data=key, expires_at_ms=0))
    return batch


async def test_concurrent_commits_share_rounds(store: Store) -> None:
    committer = GroupCommitter(store)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(committer.run)
        async with trio.open_nursery() as writers:
            for i in range(50):
                writers.start_soon(committer.commit, put(b"k%d" % i))
        await committer.sync()
        nursery.cancel_scope.cancel()
    assert len(dict(store.iter_values(1))) == 50
    assert committer.stats.batches == 51
    assert committer.stats.rounds < 51
    assert committer.stats.max_batches_per_round > 1
    assert committer.stats.failed_rounds == 0


class FailingStore(Store):
    """Fails every write whose batch puts the key b"bad"."""

    def write(self, batch: WriteBatch, sync: bool = False) -> None:
        ops = [op for op in batch if isinstance(op, PutValues)]
        if any(key == b"bad" for op in ops for key, _ in op.values):
            raise StorageError("write failed on store /nowhere: disk full: injected")
        super().write(batch, sync)


async def test_failed_round_fails_every_waiter_and_committer_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "db"
    Store.open(path).close()
    store = FailingStore(path, __import__("plyvel").DB(str(path)))
    committer = GroupCommitter(store)
    errors: list[str] = []

    async def commit(batch: WriteBatch) -> None:
        try:
            await committer.commit(batch)
        except StorageError as exc:
            errors.append(str(exc))

    try:
        async with trio.open_nursery() as nursery:
            for batch in (put(b"a"), put(b"bad"), put(b"c")):
                nursery.start_soon(commit, batch)
            # All queued before the committer starts: they share its first round.
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(committer.run)
            await trio.testing.wait_all_tasks_blocked()  # that round is with the writer
            await committer.commit(put(b"later"))
            nursery.cancel_scope.cancel()
    finally:
        store.close()
    assert errors == ["write failed on store /nowhere: disk full: injected"] * 3
    assert committer.stats.failed_rounds == 1
    with Store.open(path) as reopened:
        assert [k for k, _ in reopened.iter_values(1)] == [b"later"]


async def test_commit_pending_when_committer_stops_fails(store: Store) -> None:
    committer = GroupCommitter(store)
    errors: list[str] = []

    async def commit() -> None:
        try:
            await committer.commit(put(b"x"))
        except StorageError as exc:
            errors.append(str(exc))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(commit)
        await trio.sleep(0.01)  # the batch is queued
        with trio.CancelScope() as scope:
            scope.cancel()  # the committer stops before it takes a round
            await committer.run()
    assert errors == ["the group committer stopped before this batch was written"]
    assert store.get_value(1, b"x") is None


def append(index: int, data: bytes) -> WriteBatch:
    batch = WriteBatch()
    batch.append_log(1, [LogRecord(index=index, term=1, kind=0, data=data)])
    return batch


async def test_small_round_on_idle_loop_syncs_inline_others_on_the_writer(store: Store) -> None:
    committer = GroupCommitter(store)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(committer.run)
        await trio.testing.wait_all_tasks_blocked()
        await committer.commit(append(1, b"x" * 100))  # a follower's single-write Append
        assert committer.stats.inline_rounds == 1
        await committer.commit(append(2, b"x" * (INLINE_MAX_BYTES + 1)))  # too big
        await committer.commit(put(b"v"))  # a value: size not counted, so never inline
        # Another task runnable: the sync goes to the writer thread, the loop serves it.
        nursery.start_soon(trio.lowlevel.checkpoint)
        await committer.commit(append(3, b"y"))
        nursery.cancel_scope.cancel()
    assert committer.stats.inline_rounds == 1
    assert committer.stats.rounds == 4
    assert [record.index for record in store.log_entries(1, 1, 4)] == [1, 2, 3]
    assert dict(store.iter_values(1))[b"v"].data == b"v"


async def test_gathered_commits_of_one_pass_share_a_round(store: Store) -> None:
    """Without `gather` the first of two commits made in one scheduler pass starts a round
    alone and the second waits for the next; with it, both share the first."""
    for gather, rounds in ((False, 2), (True, 1)):
        committer = GroupCommitter(store, gather=gather)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(committer.run)
            await trio.testing.wait_all_tasks_blocked()
            async with trio.open_nursery() as writers:
                for key in (b"a", b"b"):
                    writers.start_soon(committer.commit, put(key))
            nursery.cancel_scope.cancel()
        assert (committer.stats.rounds, committer.stats.batches) == (rounds, 2)
        assert committer.stats.inline_rounds == 0
    assert sorted(dict(store.iter_values(1))) == [b"a", b"b"]


async def test_failed_inline_round_raises(tmp_path: Path) -> None:
    path = tmp_path / "db"
    Store.open(path).close()
    store = FailingLogStore(path, __import__("plyvel").DB(str(path)))
    committer = GroupCommitter(store)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(committer.run)
            await trio.testing.wait_all_tasks_blocked()
            with pytest.raises(StorageError, match="injected"):
                await committer.commit(append(1, b"z"))
            await committer.commit(append(1, b"ok"))  # the committer carries on
            nursery.cancel_scope.cancel()
    finally:
        store.close()
    assert committer.stats.inline_rounds == 2
    assert committer.stats.failed_rounds == 1


class FailingLogStore(Store):
    """Fails every write that appends the log record b"z"."""

    def write(self, batch: WriteBatch, sync: bool = False) -> None:
        for op in batch:
            if isinstance(op, AppendLog) and any(r.data == b"z" for r in op.records):
                raise StorageError("write failed on store /nowhere: disk full: injected")
        super().write(batch, sync)


async def test_submitted_batches_are_reported_to_their_callbacks(tmp_path: Path) -> None:
    """`submit` never calls back from within the call; each callback learns its round's
    outcome; a batch submitted from a callback joins the round started right after it; a
    callback that raises is logged and the committer carries on."""
    path = tmp_path / "db"
    Store.open(path).close()
    store = FailingStore(path, __import__("plyvel").DB(str(path)))
    committer = GroupCommitter(store, gather=True)
    told: list[tuple[bytes, str | None]] = []

    def written(
        key: bytes, then: WriteBatch | None = None
    ) -> Callable[[StorageError | None], None]:
        def callback(error: StorageError | None) -> None:
            told.append((key, None if error is None else str(error)))
            if then is not None:
                committer.submit(then, written(b"then"))
            if key == b"raise":
                raise RuntimeError("a broken callback")

        return callback

    async def reported(count: int) -> None:  # the writer is a thread: poll
        with trio.fail_after(10):
            while len(told) < count:
                await trio.sleep(0.001)

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(committer.run)
            await trio.testing.wait_all_tasks_blocked()
            committer.submit(put(b"a"), written(b"a", then=put(b"b")))
            committer.submit(put(b"raise"), written(b"raise"))
            assert told == []
            await reported(3)
            committer.submit(put(b"bad"), written(b"bad"))
            await reported(4)
            await committer.commit(put(b"c"))  # the committer still serves
            nursery.cancel_scope.cancel()
    finally:
        store.close()
    assert told == [
        (b"a", None),
        (b"raise", None),
        (b"then", None),
        (b"bad", "write failed on store /nowhere: disk full: injected"),
    ]
    # a+raise, then (started as the first round reported), bad, c
    assert (committer.stats.rounds, committer.stats.batches) == (4, 5)
    with Store.open(path) as reopened:
        assert sorted(k for k, _ in reopened.iter_values(1)) == [b"a", b"b", b"c", b"raise"]


async def test_a_submitted_batch_pending_when_the_committer_stops_is_reported(
    store: Store,
) -> None:
    committer = GroupCommitter(store)
    told: list[StorageError | None] = []
    committer.submit(put(b"x"), told.append)  # queued: the committer never started
    with trio.CancelScope() as scope:
        scope.cancel()
        await committer.run()
    assert [str(error) for error in told] == [
        "the group committer stopped before this batch was written"
    ]
    assert store.get_value(1, b"x") is None


async def test_a_small_gathered_round_on_an_idle_loop_syncs_inline(store: Store) -> None:
    """Two groups' small batches submitted in one pass share one round, which the
    committer's task writes on the event loop: nothing else was runnable."""
    committer = GroupCommitter(store, gather=True)
    told: list[StorageError | None] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(committer.run)
        await trio.testing.wait_all_tasks_blocked()
        committer.submit(append(1, b"x"), told.append)
        committer.submit(append(2, b"y"), told.append)
        await trio.testing.wait_all_tasks_blocked()  # no thread to wait for
        assert told == [None, None]
        nursery.cancel_scope.cancel()
    assert (committer.stats.rounds, committer.stats.inline_rounds) == (1, 1)
    assert [record.index for record in store.log_entries(1, 1, 3)] == [1, 2]
