"""Group commit: many concurrent `commit` calls share one synced LevelDB write.

A round is every batch queued so far, merged in arrival order into one batch and written
with sync=True on the committer's own writer thread (so the event loop keeps serving while
the disk syncs); then every waiter of that round wakes. Batches queued while a round is
being written form the next round, which starts as soon as the previous one reports. A
failed round raises StorageError in each of its waiters; the committer carries on.

The writer is one long-lived thread that `run` (a task in the caller's nursery) starts and
stops, fed through a queue and reporting through the Trio token; `commit` hands a round
over directly. Measured, that costs ~80 us of event-loop CPU and ~350 us of latency per
synced round, against ~135 us and ~480 us for `trio.to_thread.run_sync` from a committer
task, and every write round of every Raft group pays it.

With `gather` (a node with several data groups) a round starts one scheduler pass after
the batch that asked for it, from the committer's own task: the Ready loops of the groups
that one peer frame (transport/raft_batch.py) or one round's end woke run in the same pass,
and their batches share that round's fsync instead of the second waiting behind the first
(docs/architecture.md, "How groups share a node's work"). With one data group there is
nothing to gather and a round starts at once.

A round of one small batch on an idle event loop (no round in flight, nothing queued, no
task runnable: a follower's single-write Append at `-c 1`), or a small gathered round the
committer's task starts with nothing else runnable, is written and synced on the event
loop itself instead: nothing else was waiting to run, and the two thread hand-offs
(the queue, the Trio token and a scheduler pass to wake the waiter) cost more than the loop
could have done meanwhile. The batch is just as durable when `commit` returns; anything
that becomes runnable during the sync waits for it, which is why the round must be small
and the loop idle (docs/performance.md, round 6).

`submit` queues a batch like `commit` without a task waiting on it: its callback runs on
the Trio thread when the round is reported, before the next round starts (so what the
callback submits joins that round). A Raft group's Ready handed over this way finishes
there, without a Ready-loop pass before and after its write (replication/driver.py).

Visibility without durability is `Store.write(batch, sync=False)`; `sync()` is a barrier
that returns once everything written before it is on disk (a synced LevelDB write syncs
the whole log before it).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

import attrs
import trio

from seshat_trio.logs import get_logger
from seshat_trio.storage.batch import (
    AppendLog,
    PutApplied,
    PutHardState,
    TruncateLogFrom,
    WriteBatch,
)
from seshat_trio.storage.errors import StorageError
from seshat_trio.storage.run_queue import runnable_tasks
from seshat_trio.storage.store import Store


@attrs.define(slots=True)
class CommitStats:
    """Counters for metrics: synced rounds written, batches committed, biggest round."""

    rounds: int = 0
    inline_rounds: int = 0  # of `rounds`: synced on the event loop (see the module doc)
    batches: int = 0
    failed_rounds: int = 0
    max_batches_per_round: int = 0

    @property
    def batches_per_round(self) -> float:
        return self.batches / self.rounds if self.rounds else 0.0


# Told the outcome of a submitted batch's round: None once durable, else its failure.
Written = Callable[[StorageError | None], None]


@attrs.define(slots=True, eq=False)
class _Waiter:
    batch: WriteBatch
    done: trio.Event = attrs.field(factory=trio.Event)
    error: StorageError | None = None
    written: Written | None = None  # `submit`: told instead of `done` being waited on


log = get_logger(__name__)

# The most a round may hold to be synced on the event loop: operations, and log entry bytes.
INLINE_MAX_OPS = 8
INLINE_MAX_BYTES = 16 << 10
_SMALL_OPS = (PutHardState, PutApplied, TruncateLogFrom)


def _small(batch: WriteBatch) -> bool:
    """A batch cheap enough to write and sync on the event loop: a few log records and the
    Raft bookkeeping that goes with them, nothing whose size the committer cannot see."""
    if len(batch) > INLINE_MAX_OPS:
        return False
    size = 0
    for op in batch:
        if isinstance(op, AppendLog):
            size += sum(len(record.data) for record in op.records)
        elif not isinstance(op, _SMALL_OPS):
            return False
    return size <= INLINE_MAX_BYTES


def _raise_for(waiter: _Waiter) -> None:
    if waiter.error is not None:
        # A fresh exception per waiter: one instance raised in many tasks would tangle their
        # tracebacks.
        raise StorageError(str(waiter.error)) from waiter.error


# Called after each round with (batches in the round, seconds the synced write took).
RoundObserver = Callable[[int, float], None]


class GroupCommitter:
    def __init__(
        self, store: Store, *, on_round: RoundObserver | None = None, gather: bool = False
    ) -> None:
        self._store = store
        self._on_round = on_round
        self._gather = gather
        self._kick = trio.Event()  # with `gather`: a batch is queued for the committer task
        self._queue: list[_Waiter] = []
        # The round the writer thread holds, and the event set when it is reported.
        self._in_flight: list[_Waiter] | None = None
        self._round_done = trio.Event()
        self._running = False
        # Merged batches for the writer thread; None stops it.
        self._rounds: queue.SimpleQueue[WriteBatch | None] = queue.SimpleQueue()
        self._token: trio.lowlevel.TrioToken | None = None
        self.stats = CommitStats()

    async def commit(self, batch: WriteBatch) -> None:
        """Return once `batch` is durably written; StorageError if its round failed.

        If the caller is cancelled while waiting, the batch may still be written.
        """
        if self._idle() and _small(batch):
            self._write_inline(batch)
            return
        waiter = _Waiter(batch)
        self._queue.append(waiter)
        if self._gather:
            self._kick.set()
        else:
            self._start_round()
        await waiter.done.wait()
        _raise_for(waiter)

    def commit_now(self, batch: WriteBatch) -> bool:
        """Write and sync `batch` on the event loop, as `commit` does with a small batch on an
        idle node: True once it is durable (StorageError if that write failed); False when
        it must go through `commit`. Never with `gather`: a peer frame may still be waking
        other groups whose batches should share the round."""
        if self._gather or not (self._idle() and _small(batch)):
            return False
        self._write_inline(batch)
        return True

    def submit(self, batch: WriteBatch, written: Written) -> None:
        """Queue `batch` for a synced round as `commit` does, without waiting: `written`
        is called on the Trio thread once the round was reported (never from within this
        call). An exception it raises is logged, never raised. Without `gather`, a small
        batch on an idle node is left to the committer's task, which writes it on the
        event loop if the node is still idle (what `commit` would have done at once)."""
        idle = self._idle() and _small(batch)
        self._queue.append(_Waiter(batch, written=written))
        if self._gather or idle:
            self._kick.set()
        else:
            self._start_round()

    def _write_inline(self, batch: WriteBatch) -> None:
        # No checkpoint on this path: the caller's next wait yields to the scheduler.
        waiter = _Waiter(batch)
        self._in_flight = [waiter]
        error, seconds = self._write(batch)
        self._finished(error, seconds, inline=True)
        _raise_for(waiter)

    async def sync(self) -> None:
        """A durability barrier for every write made before the call."""
        await self.commit(WriteBatch())

    async def run(self) -> None:
        """Serve rounds until cancelled; owned by the caller's nursery, and so is the writer
        thread: it starts here and is stopped and joined before this returns."""
        self._token = trio.lowlevel.current_trio_token()
        writer = threading.Thread(target=self._writer, name="seshat-group-commit", daemon=True)
        writer.start()
        try:
            await trio.lowlevel.checkpoint()  # cancelled already: write nothing
            self._running = True
            self._start_round()  # batches queued before the committer started
            while True:
                await self._kick.wait()
                self._kick = trio.Event()
                self._start_round(inline_if_idle=True)
        finally:
            self._running = False
            # A round handed to the disk still reports to its waiters, even while the
            # nursery is being cancelled.
            with trio.CancelScope(shield=True):
                if self._in_flight is not None:
                    await self._round_done.wait()
            self._rounds.put(None)
            writer.join()
            stopped = StorageError("the group committer stopped before this batch was written")
            queued, self._queue = self._queue, []
            self._report(queued, stopped)

    def _idle(self) -> bool:
        """Nothing to overlap a sync with: no round in flight or queued, no task runnable."""
        return (
            self._running and self._in_flight is None and not self._queue and runnable_tasks() == 0
        )

    def _start_round(self, *, inline_if_idle: bool = False) -> None:
        """Hand every queued batch to the writer as one round, unless one is in flight
        (batches queued meanwhile form the next round, started when it reports). With
        `inline_if_idle` (the committer's task, gathering) a small round with nothing else
        runnable is written on the event loop, as `commit` writes one small batch."""
        if not self._running or self._in_flight is not None or not self._queue:
            return
        self._in_flight, self._queue = self._queue, []
        self._round_done = trio.Event()
        batch = WriteBatch.merged(waiter.batch for waiter in self._in_flight)
        if inline_if_idle and runnable_tasks() == 0 and _small(batch):
            self._finished(*self._write(batch), inline=True)
            return
        self._rounds.put(batch)

    def _writer(self) -> None:
        """The writer thread: one synced write per round, its outcome back on the loop."""
        assert self._token is not None
        while (batch := self._rounds.get()) is not None:
            self._token.run_sync_soon(self._finished, *self._write(batch))

    def _write(self, batch: WriteBatch) -> tuple[StorageError | None, float]:
        """One synced write: its failure, if any, and the seconds it took."""
        error: StorageError | None = None
        started = time.perf_counter()
        try:
            self._store.write(batch, True)
        except StorageError as exc:
            error = exc
        except Exception as exc:  # a bug must still wake the round's waiters
            error = StorageError(f"synced write failed unexpectedly: {exc!r}")
        return error, time.perf_counter() - started

    def _finished(self, error: StorageError | None, seconds: float, inline: bool = False) -> None:
        """On the Trio thread: report the round in flight, then start the next one."""
        round_ = self._in_flight
        assert round_ is not None
        self._in_flight = None
        if error is not None:
            self.stats.failed_rounds += 1
        self.stats.rounds += 1
        self.stats.inline_rounds += inline
        self.stats.batches += len(round_)
        self.stats.max_batches_per_round = max(self.stats.max_batches_per_round, len(round_))
        self._round_done.set()
        # Before the next round starts: what the submitters' callbacks write joins it.
        self._report(round_, error)
        self._start_round()
        if self._on_round is not None:
            # This runs as a run_sync_soon callback, where an exception would end the whole
            # Trio run: a failing observer is logged, never raised.
            try:
                self._on_round(len(round_), seconds)
            except Exception:
                log.exception("commit_round_observer_failed")

    @staticmethod
    def _report(waiters: list[_Waiter], error: StorageError | None) -> None:
        """Tell each waiter its round's outcome: wake `commit`, or call `submit`'s callback
        (logged, never raised: this runs where an exception would end the Trio run)."""
        for waiter in waiters:
            waiter.error = error
            if waiter.written is None:
                waiter.done.set()
                continue
            try:
                waiter.written(error)
            except Exception:
                log.exception("commit_callback_failed")
