"""Group commit: many concurrent `commit` calls share one synced LevelDB write.

`run` (a task in the caller's nursery) loops: take every batch queued so far, merge them in
arrival order into one batch, write it with sync=True in a worker thread (so the event loop
keeps serving while the disk syncs), then wake every waiter of that round. Batches queued
while a round is being written form the next round. A failed round raises StorageError in
each of its waiters; the committer carries on with the next round.

Visibility without durability is `Store.write(batch, sync=False)`; `sync()` is a barrier
that returns once everything written before it is on disk (a synced LevelDB write syncs
the whole log before it).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import attrs
import trio

from seshat_trio.storage.batch import WriteBatch
from seshat_trio.storage.errors import StorageError
from seshat_trio.storage.store import Store


@attrs.define(slots=True)
class CommitStats:
    """Counters for metrics: synced rounds written, batches committed, biggest round."""

    rounds: int = 0
    batches: int = 0
    failed_rounds: int = 0
    max_batches_per_round: int = 0

    @property
    def batches_per_round(self) -> float:
        return self.batches / self.rounds if self.rounds else 0.0


@attrs.define(slots=True, eq=False)
class _Waiter:
    batch: WriteBatch
    done: trio.Event = attrs.field(factory=trio.Event)
    error: StorageError | None = None


# Called after each round with (batches in the round, seconds the synced write took).
RoundObserver = Callable[[int, float], None]


class GroupCommitter:
    def __init__(self, store: Store, *, on_round: RoundObserver | None = None) -> None:
        self._store = store
        self._on_round = on_round
        self._queue: list[_Waiter] = []
        self._wakeup = trio.Event()
        self.stats = CommitStats()

    async def commit(self, batch: WriteBatch) -> None:
        """Return once `batch` is durably written; StorageError if its round failed.

        If the caller is cancelled while waiting, the batch may still be written.
        """
        waiter = _Waiter(batch)
        self._queue.append(waiter)
        self._wakeup.set()
        await waiter.done.wait()
        if waiter.error is not None:
            # A fresh exception per waiter: one instance raised in many tasks would tangle
            # their tracebacks.
            raise StorageError(str(waiter.error)) from waiter.error

    async def sync(self) -> None:
        """A durability barrier for every write made before the call."""
        await self.commit(WriteBatch())

    async def run(self) -> None:
        """Write rounds forever; owned by the caller's nursery."""
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup = trio.Event()
                round_, self._queue = self._queue, []
                # Shielded: once a round is handed to the disk its waiters must learn the
                # outcome, even if the nursery is being cancelled.
                with trio.CancelScope(shield=True):
                    await self._write_round(round_)
        finally:
            stopped = StorageError("the group committer stopped before this batch was written")
            for waiter in self._queue:
                waiter.error = stopped
                waiter.done.set()
            self._queue = []

    async def _write_round(self, round_: list[_Waiter]) -> None:
        merged = WriteBatch.merged(waiter.batch for waiter in round_)
        error: StorageError | None = None
        started = time.perf_counter()
        try:
            await trio.to_thread.run_sync(self._store.write, merged, True)
        except StorageError as exc:
            error = exc
            self.stats.failed_rounds += 1
        if self._on_round is not None:
            self._on_round(len(round_), time.perf_counter() - started)
        self.stats.rounds += 1
        self.stats.batches += len(round_)
        self.stats.max_batches_per_round = max(self.stats.max_batches_per_round, len(round_))
        for waiter in round_:
            waiter.error = error
            waiter.done.set()
