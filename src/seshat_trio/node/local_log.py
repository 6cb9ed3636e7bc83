"""Single-node replication: an operation commits once its log record is fsynced.

This is the durable core of a one-node store: operations are appended to the data group's
log in group-commit rounds (every operation submitted while a round is being fsynced joins
the next round), then applied to the state machine in index order, then acknowledged. On
start-up, log entries above the applied index are replayed. Every `snapshot_entries`
applied entries the log is compacted: the compaction batch is written synced, which also
makes every earlier (unsynced) apply durable before the log records behind it disappear.
"""

from __future__ import annotations

import trio

from seshat_trio.errors import ServiceError
from seshat_trio.kv.operations import Operation, encode_operation
from seshat_trio.kv.state_machine import KvStateMachine
from seshat_trio.node.pending import PendingReply
from seshat_trio.storage import GroupCommitter, LogRecord, StorageError, Store, WriteBatch

ENTRY_NORMAL = 0
TERM = 1  # a single node never holds an election


class LocalLog:
    def __init__(
        self,
        store: Store,
        committer: GroupCommitter,
        machine: KvStateMachine,
        group: int,
        snapshot_entries: int,
    ) -> None:
        self._store = store
        self._committer = committer
        self._machine = machine
        self._group = group
        self._snapshot_entries = snapshot_entries
        self._queue: list[tuple[LogRecord, PendingReply]] = []
        self._wakeup = trio.Event()
        self._next_index = store.last_log_index(group) + 1

    def recover(self) -> int:
        """Replay log entries above the applied index; returns how many were applied."""
        first = self._machine.applied_index + 1
        records = self._store.log_entries(self._group, first, self._next_index)
        self._machine.apply((r.index, r.data) for r in records)
        return len(records)

    def submit(self, op: Operation) -> PendingReply:
        record = LogRecord(
            index=self._next_index, term=TERM, kind=ENTRY_NORMAL, data=encode_operation(op)
        )
        self._next_index += 1
        pending = PendingReply()
        self._queue.append((record, pending))
        self._wakeup.set()
        return pending

    async def run(self) -> None:
        """The replication loop; owned by the node nursery."""
        while True:
            await self._wakeup.wait()
            self._wakeup = trio.Event()
            round_, self._queue = self._queue, []
            if round_:
                await self._commit_round(round_)

    async def _commit_round(self, round_: list[tuple[LogRecord, PendingReply]]) -> None:
        batch = WriteBatch()
        batch.append_log(self._group, [record for record, _ in round_])
        try:
            await self._committer.commit(batch)
        except StorageError as exc:
            # Nothing of this round is durable; its indexes are reused by the next round.
            self._requeue_after_failure(round_[0][0].index)
            error = ServiceError(f"ERR storage failure: {exc}")
            for _, pending in round_:
                pending.fail(error)
            return
        results = self._machine.apply((record.index, record.data) for record, _ in round_)
        for (_, pending), applied in zip(round_, results, strict=True):
            pending.resolve(applied.replies)
        await self._maybe_compact()

    def _requeue_after_failure(self, first_failed: int) -> None:
        """Renumber operations queued behind a failed round so the log stays gap-free."""
        renumbered = []
        for offset, (record, pending) in enumerate(self._queue):
            index = first_failed + offset
            renumbered.append(
                (
                    LogRecord(index=index, term=record.term, kind=record.kind, data=record.data),
                    pending,
                )
            )
        self._queue = renumbered
        self._next_index = first_failed + len(renumbered)

    async def _maybe_compact(self) -> None:
        applied = self._machine.applied_index
        if applied - self._store.first_log_index(self._group) + 1 < self._snapshot_entries:
            return
        batch = WriteBatch()
        batch.truncate_log_before(self._group, applied + 1)
        try:
            await self._committer.commit(batch)
        except StorageError:
            return  # compaction is retried after the next round; nothing was lost
