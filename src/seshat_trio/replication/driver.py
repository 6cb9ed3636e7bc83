"""RaftGroupDriver: the Trio runtime around one node's member of one Raft group.

The core (`seshat_trio.raft.RaftCore`) decides; this driver does the I/O. `run()` owns
the Ready loop and a chunk receiver in its own nursery; snapshot senders are spawned per
follower. Time comes from outside: the node's one `Ticker` (replication/ticker.py) calls
`tick()` of every group every `tick_seconds`. Per Ready the loop:

1. sends `messages` at once (the leader replicates while its own fsync runs; a `Snapshot`
   offer starts a chunk stream instead);
2. persists everything as ONE WriteBatch (`log_storage.ready_batch`): through the group
   committer when `must_sync` (shared fsync across groups, off the event loop), as an
   unsynced write otherwise (a commit-only hard state); a snapshot install writes the
   batch together with the state-machine flip in one synced write;
3. sends `persisted_messages`, applies `committed_entries` through the state machine,
   resolves proposals and read states, then `core.advance(ready)`; on the leader, the
   committed entries that earlier Readys made durable apply, and read states resolve,
   before step 2 (see `_start_ready`);
4. compacts when the applied log grew past `snapshot_entries` / `snapshot_bytes`: a synced
   write makes applied data durable first, then `core.compact(...)`.

A Ready that a tick or a peer message produces is handled where it appears (`_react`), in
the same steps, when its write needs no wait (none, an unsynced one, or a synced one the
committer makes at once on an idle node); a synced write that must wait is handed to the
committer (`submit`) and the Ready finishes in the callback of its round (`_written`), which
then looks for the next Ready as `_react` does. The loop is woken only to install a
snapshot, to compact, or to propose; it waits while a handed-over write is out.

Rules this module lives by:
- `deliver()` (called by the transport) and `propose()` never block: they step the core or
  queue, then wake the loop. Queued proposals go to the core in one `propose` call per pass.
- Applied state only ever holds committed entries, so reads wait for the state machine's
  applied index (not the core's: after a snapshot install it may be ahead, see
  `snapshot`) to reach the read index.
- A storage failure while persisting a Ready is fatal for the group (Raft cannot un-send a
  Ready); `run()` raises and every waiter learns its fate (see `proposals`).
- On restart the core gets `applied = min(state machine applied, durable commit)`: entries
  the state machine already holds are re-delivered and skipped by index. The applied
  index can be ahead of the durable commit after a snapshot install whose data was newer
  than its meta, and on a leader that crashed after applying entries early (their
  commit-only hard state is written lazily); it never passes the durable end of the log.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any, Protocol, TypeVar

import attrs
import trio

from seshat_trio.errors import ServiceError
from seshat_trio.logs import get_logger
from seshat_trio.raft import (
    ConfigChange,
    Entry,
    EntryKind,
    LeadershipTransferInProgress,
    MemberProgress,
    Membership,
    Message,
    NotLeader,
    ProgressState,
    RaftConfig,
    RaftCore,
    Ready,
    Role,
    Snapshot,
    SnapshotChunk,
    SnapshotChunkAck,
    SnapshotMeta,
    SoftState,
)
from seshat_trio.replication.commit_publisher import CommitPublisher
from seshat_trio.replication.log_storage import RaftLogStore, ready_batch
from seshat_trio.replication.machine import StateMachine
from seshat_trio.replication.pending import PendingReply, WriteDeadlines
from seshat_trio.replication.proposals import ProposalTracker
from seshat_trio.replication.reads import ReadBarriers
from seshat_trio.replication.snapshot import (
    Offload,
    SnapshotReceiver,
    SnapshotSender,
    SnapshotStreamError,
)
from seshat_trio.replication.stats import RaftCounters
from seshat_trio.storage import StorageError, Store, WriteBatch

log = get_logger(__name__)

T = TypeVar("T")

PeerMessage = Message | SnapshotChunk | SnapshotChunkAck

STOPPED = "the node stopped before the request completed"
# What a merged entry adds per proposal (a length prefix), counted against the size bound.
BATCH_FRAMING_BYTES = 4
# Chunks queued for the receiver task; more are dropped (the sender times out and retries).
CHUNK_INBOX = 64


class PeerSender(Protocol):
    """The transport as the driver sees it: enqueue a message for `msg.dst`, never block."""

    def send(self, msg: PeerMessage) -> None: ...


class Committer(Protocol):
    """Durable batch writes (the storage's GroupCommitter)."""

    async def commit(self, batch: WriteBatch) -> None: ...

    def commit_now(self, batch: WriteBatch) -> bool:
        """Write `batch` durably without waiting, if that can be done; False: `commit` it."""
        ...

    def submit(self, batch: WriteBatch, written: Callable[[StorageError | None], None]) -> None:
        """Write `batch` durably, then call `written` with None or the failure: later, on
        the Trio thread, never from within this call."""
        ...


async def run_in_thread(fn: Callable[[], T]) -> T:
    """The default `Offload`: a worker thread."""
    return await trio.to_thread.run_sync(fn)


class LeaderChangedError(ServiceError):
    """A queued write never reached the log: leadership moved first. Safe to retry there."""

    def __init__(self, leader_id: int | None) -> None:
        super().__init__(
            f"TRYAGAIN leadership moved (leader: {leader_id}) before the write was proposed; "
            "it was not applied"
        )
        self.leader_id = leader_id


@attrs.frozen(slots=True, kw_only=True)
class DriverSettings:
    tick_seconds: float = 0.1  # one core tick per heartbeat interval
    snapshot_entries: int = 10_000  # compact once this many applied entries are in the log
    snapshot_bytes: int = 100 << 20  # ... or once the log is this big
    snapshot_chunk_bytes: int = 1 << 20
    snapshot_window: int = 4  # unacknowledged chunks per stream
    snapshot_ack_timeout: float = 10.0
    max_proposals_per_pass: int = 4096
    # With a `merge` function, the proposals of one pass share log entries of up to this
    # many bytes (a bigger single proposal keeps an entry of its own).
    max_merged_entry_bytes: int = 256 << 10
    # A leader proposes no new round while one of its entries is uncommitted (unless a
    # whole pass of proposals is queued): for a node with several data groups, where the
    # CPU has the other groups' rounds to run meanwhile and the held writes make the next
    # round bigger (docs/performance.md, "Writes with many data groups").
    one_round_in_flight: bool = False
    # With `one_round_in_flight`: when a round of several writes, or one with writes queued
    # behind it, commits, the leader gathers for this many times that round's duration more
    # (at most half a tick) before proposing, so fewer, bigger rounds carry the same writes
    # (docs/performance.md, "Session 11 (writes)", "Session 16"); the hold ends as soon as
    # that round's writers and those queued behind it are queued. A round of one write that
    # commits with nothing queued (a lone client) is followed by no hold. No commit is
    # published during a hold (the next round's Appends carry it; docs/raft.md).
    hold_after_round: float = 0.0


@attrs.frozen(slots=True)
class PeerStatus:
    match: int
    next: int
    state: ProgressState


@attrs.frozen(slots=True, kw_only=True)
class GroupStatus:
    """What INFO raft and the metrics show for one group on this node."""

    node_id: int
    group: int
    role: Role
    term: int
    leader_id: int | None
    commit: int
    applied: int
    first_index: int
    last_index: int
    snapshot_index: int
    voters: tuple[int, ...]
    learners: tuple[int, ...]
    peers: dict[int, PeerStatus]  # leader only: replication progress per peer


def _split_durable(ready: Ready) -> tuple[tuple[Entry, ...], tuple[Entry, ...]]:
    """`ready.committed_entries` split into those already durable in this node's log (written
    by earlier Readys) and those that need this Ready's writes first: a follower may learn
    that an entry is committed from the Append that brings it, and a snapshot replaces the
    log."""
    committed = ready.committed_entries
    if ready.snapshot is not None or not committed:
        return (), committed
    if not ready.entries:
        return committed, ()
    first_unstable = ready.entries[0].index
    cut = 0
    while cut < len(committed) and committed[cut].index < first_unstable:
        cut += 1
    return committed[:cut], committed[cut:]


@attrs.frozen(slots=True)
class _Started:
    """A Ready whose steps before its write ran (`RaftGroupDriver._start_ready`)."""

    ready: Ready
    batch: WriteBatch | None  # still to write (None: written with the leader's apply)
    rest: tuple[Entry, ...]  # committed entries to apply after the write


def _handled_inline(ready: Ready) -> bool:
    """Whether `ready` holds only messages and read answers (nothing to persist, apply or
    log): `_react` hands it on where it appears, without the Ready loop."""
    return (
        not ready.persisted_messages
        and ready.soft_state is None
        and ready.hard_state is None
        and ready.snapshot is None
        and not ready.entries
        and ready.compact is None
        and not ready.committed_entries
        and not ready.transfer_results
        and not ready.snapshots_delivered
    )


class RaftGroupDriver:
    def __init__(
        self,
        *,
        raft_config: RaftConfig,
        store: Store,
        committer: Committer,
        machine: StateMachine,
        transport: PeerSender,
        initial_membership: Membership,
        settings: DriverSettings,
        rng: random.Random,
        offload: Offload = run_in_thread,
        merge: Callable[[list[bytes]], bytes] | None = None,
    ) -> None:
        """Load the group's state from `store` and build its core (a restart is the same).

        `initial_membership`: the bootstrap voters for a brand-new cluster member, empty for
        a node that joins later; ignored once the group has persisted state. `merge`, when
        given, packs several proposals into one entry that the state machine understands
        (its `Applied.split` says which replies belong to which proposal)."""
        self._group = raft_config.group
        self._store = store
        self._committer = committer
        self._machine = machine
        self._transport = transport
        self._settings = settings
        self._offload = offload
        self._merge = merge
        self._log_store = RaftLogStore(store, self._group, initial_membership)
        snapshot = self._log_store.snapshot_meta()
        if machine.applied_index < snapshot.index:
            raise StorageError(
                f"group {self._group}: state machine applied index {machine.applied_index} "
                f"is behind the snapshot index {snapshot.index}: the store is inconsistent"
            )
        durable_commit = max(self._log_store.hard_state().commit, snapshot.index)
        applied = min(machine.applied_index, durable_commit)
        self._core = RaftCore(attrs.evolve(raft_config, applied=applied), self._log_store, rng)
        self._proposals = ProposalTracker()
        self._deadlines = WriteDeadlines()
        self._queued: list[tuple[bytes, PendingReply]] = []
        self._reads = ReadBarriers(
            self._core, lambda: machine.applied_index, self._wake, STOPPED, self._check_clock
        )
        # Lease reads count time in ticks: a tick (or a read, or a peer message) this long
        # after the last tick means the ticks stopped keeping time (docs/raft.md, "Lease
        # reads"). 0: no lease to protect.
        self._max_tick_gap_s = (
            settings.tick_seconds * raft_config.lease_tick_gap if raft_config.lease_reads else 0.0
        )
        self._last_tick_at = 0.0
        self._gap_counted_at = -1.0  # the last tick after which a gap was counted
        self._senders: dict[int, SnapshotSender] = {}
        self._receiver = SnapshotReceiver(machine.begin_install)
        self._chunks_in, self._chunks_out = trio.open_memory_channel[SnapshotChunk](CHUNK_INBOX)
        self._wakeup = trio.Event()
        # Set by the next Ready for `wait_changed`; made by a waiter (most Readys have none).
        self._changed: trio.Event | None = None
        self._readys = 0
        # `hold_after_round`: when the last round was proposed, its last index (0: none
        # open), how many writes it carried, and the end of the hold after it (None: not
        # holding).
        self._round_started = 0.0
        self._round_last = 0
        self._round_writes = 0
        self._hold_until: float | None = None
        # During a hold: the writes that end it early once queued (the writers known to be
        # active: the committed round's and those queued behind it).
        self._hold_writes = 0
        # A Ready `_react` started whose write must wait: the loop ends it.
        self._taken: _Started | None = None
        # A Ready whose synced write was handed to the committer (`_submit`): until its
        # callback, no other Ready can start and the loop has nothing to do.
        self._writing = False
        self._compact_due = False  # `_react` ended a Ready after which the log may compact
        self._failure: Exception | None = None  # raised by the loop: `_react` failed
        # The node's publisher of commit indexes owed to idle followers (None: only Appends
        # and heartbeats carry them; docs/raft.md, "Commit publication").
        self.commit_publisher: CommitPublisher | None = None
        self._running = False
        self._stopped = False
        self._nursery: trio.Nursery | None = None
        # Events for /metrics; `_soft` is the last role/leader/term seen, to count changes.
        self.counters = RaftCounters()
        core = self._core
        self._soft = SoftState(leader_id=core.leader_id, role=core.role, term=core.term)
        self._membership_logged = core.membership
        self._log = log.bind(node_id=core.node_id, group=self._group)
        self._log.info(
            "raft_open",
            term=core.term,
            commit=core.commit,
            applied=machine.applied_index,
            snapshot_index=snapshot.index,
            index=core.last_index,
        )

    # -- introspection ---------------------------------------------------------------------
    @property
    def node_id(self) -> int:
        return self._core.node_id

    @property
    def group(self) -> int:
        return self._group

    @property
    def role(self) -> Role:
        return self._core.role

    @property
    def leader_id(self) -> int | None:
        return self._core.leader_id

    @property
    def applied_index(self) -> int:
        return self._machine.applied_index

    def status(self) -> GroupStatus:
        core = self._core
        peers: dict[int, PeerStatus] = {}
        for peer in sorted(core.membership.members - {core.node_id}):
            progress = core.progress(peer)
            if progress is not None:
                peers[peer] = PeerStatus(progress.match, progress.next, progress.state)
        return GroupStatus(
            node_id=core.node_id,
            group=self._group,
            role=core.role,
            term=core.term,
            leader_id=core.leader_id,
            commit=core.commit,
            applied=self._machine.applied_index,
            first_index=self._log_store.first_index(),
            last_index=core.last_index,
            snapshot_index=self._log_store.snapshot_meta().index,
            voters=tuple(sorted(core.membership.voters)),
            learners=tuple(sorted(core.membership.learners)),
            peers=peers,
        )

    async def wait_changed(self) -> None:
        """Return after the next Ready was handled (role, commit or applied may have moved);
        ServiceError once the driver has stopped."""
        if self._stopped:
            await trio.lowlevel.checkpoint()
        else:
            if self._changed is None:
                self._changed = trio.Event()
            await self._changed.wait()
        if self._stopped:
            raise ServiceError(f"TRYAGAIN {STOPPED}")

    # -- inputs ----------------------------------------------------------------------------
    def deliver(self, msg: PeerMessage) -> None:
        """An inbound peer message (transport callback; never blocks)."""
        if not self._running:
            return
        if isinstance(msg, SnapshotChunk):
            try:
                self._chunks_in.send_nowait(msg)
            except trio.WouldBlock:
                self._log.debug("snapshot_chunk_dropped", src=msg.src, index=msg.meta.index)
            return
        if isinstance(msg, SnapshotChunkAck):
            sender = self._senders.get(msg.src)
            if sender is not None:
                sender.on_ack(msg)
            return
        self._check_clock()  # before a follower's ReadIndexReq is answered from the lease
        try:
            self._core.step(msg)
        except ValueError as exc:
            self._log.warning("raft_message_dropped", src=msg.src, reason=str(exc))
            return
        self._react()

    def propose(self, command: bytes) -> PendingReply:
        """Queue `command` for the log; the reply resolves once it applies here.

        Raises NotLeader(leader_id) on a non-leader (the caller forwards to the leader).
        The reply fails with ServiceError when the write definitely did not commit, with
        OutcomeUnknownError when that cannot be known; a deadline the caller sets on it
        (`PendingReply.expire_at`) is kept by the ticks."""
        core = self._core
        if not self._running:
            raise ServiceError(f"TRYAGAIN {STOPPED}")
        if core.role is not Role.LEADER:
            raise NotLeader(core.leader_id)
        if core.transferee is not None:
            raise ServiceError("TRYAGAIN a leadership transfer is in progress; retry")
        pending = PendingReply(self._deadlines)
        self._queued.append((command, pending))
        if len(self._queued) == 1 or (not self._wakeup.is_set() and not self._holds_proposals()):
            # The first queued write wakes the loop (into its hold, if held); the ones
            # held behind it are proposed by the pass that the round's commit or the
            # hold's end brings: a wake for each would be a pass with nothing to do (and
            # once the loop is woken, there is nothing to decide).
            self._wake()
        return pending

    async def hand_over_leadership(self, timeout: float) -> bool:
        """If this node leads, transfer leadership to the most caught-up voter and wait up to
        `timeout` seconds for it to take over (graceful shutdown). True when handed over."""
        status = self.status()
        candidates = [peer for peer in status.voters if peer != status.node_id]
        if status.role is not Role.LEADER or not candidates:
            return False
        target = max(
            candidates, key=lambda peer: status.peers[peer].match if peer in status.peers else -1
        )
        try:
            self._core.transfer_leadership(target)
        except (NotLeader, ValueError):
            return False
        self._wake()
        with trio.move_on_after(timeout):
            while self._core.role is Role.LEADER:
                await self.wait_changed()
        handed = self._core.role is not Role.LEADER
        self._log.info("leadership_handover", term=self._core.term, target=target, done=handed)
        return handed

    def read_barrier(self, deadline: float = math.inf) -> Coroutine[Any, Any, None]:
        """Return once this node's applied state reflects every write acknowledged before
        the call (ReadIndex; works on followers through the leader). Raises ServiceError
        when the read cannot be confirmed (one internal retry when a leader is known), and
        TIMEOUT at the first tick after `deadline` (`trio.current_time()` clock). The
        barrier's own coroutine: no frame of this method's to resume per read."""
        return self._reads.barrier(deadline)

    # -- membership (docs/raft.md, "Membership") -------------------------------------------
    @property
    def membership(self) -> Membership:
        """The membership in force here (applied)."""
        return self._core.membership

    @property
    def removed(self) -> bool:
        """This node applied its own removal from the group (it still answers the group)."""
        return self._core.removed

    @property
    def transferee(self) -> int | None:
        """The voter this leader is handing leadership to, if any."""
        return self._core.transferee

    def member_progress(self) -> tuple[MemberProgress, ...]:
        """Every member's replication status (leader only; empty elsewhere)."""
        return self._core.member_progress()

    def log_bytes_after(self, index: int) -> int | None:
        """Bytes of the log entries after `index` (what a member that holds the log up to
        `index` still needs); None when some were compacted away (it needs a snapshot)."""
        lo, hi = index + 1, self._log_store.last_index() + 1
        if lo < self._log_store.first_index():
            return None
        total = 0
        while lo < hi:
            entries = self._log_store.entries(lo, hi, self._settings.snapshot_chunk_bytes)
            total += sum(entry.size() for entry in entries)
            lo = entries[-1].index + 1
        return total

    def snapshot_bytes_sent(self, peer: int) -> int | None:
        """Bytes of the snapshot being streamed to `peer` it acknowledged (None: none)."""
        sender = self._senders.get(peer)
        return None if sender is None else sender.acked_bytes

    def change_membership(self, change: ConfigChange, *, force: bool = False) -> int:
        """Propose `change` on this leader; the index of its CONFIG entry, whose effect shows
        in `membership` once applied. Raises as `RaftCore.change_membership` does."""
        if not self._running:
            raise ServiceError(f"TRYAGAIN {STOPPED}")
        index = self._core.change_membership(change, force=force)
        self._wake()
        return index

    def transfer_leadership(self, to: int) -> None:
        """Start handing leadership to voter `to` (leader only; NotLeader, ValueError).

        Writes queued here enter the log first: they commit under the new leader (a
        transfer waits until its target holds the whole log) instead of being refused."""
        while self._queued and self._core.role is Role.LEADER and self._core.transferee is None:
            self._flush_proposals(hold=False)
        self._core.transfer_leadership(to)
        self._wake()

    def _wake(self) -> None:
        if not self._writing:  # else `_written` looks for work when the write is done
            self._wakeup.set()

    def _fail(self, exc: Exception) -> None:
        """The group fails as if its loop had raised `exc` (see `run`)."""
        self._failure = exc
        self._wakeup.set()

    # -- tasks -----------------------------------------------------------------------------
    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the group until cancelled; `started()` once inputs are accepted."""
        if self._running or self._stopped:
            raise RuntimeError("a RaftGroupDriver runs once")
        self._running = True
        self._last_tick_at = trio.current_time()
        self._reads.accepting = True
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._receive_chunks)
                task_status.started()
                await self._ready_loop()
        finally:
            self._running = False
            self._stopped = True
            self._stop()

    def _stop(self) -> None:
        """Every waiter learns its fate: nothing is dropped silently."""
        self._proposals.stop(STOPPED)
        for _, pending in self._queued:
            pending.fail(ServiceError(f"TRYAGAIN {STOPPED}; the write was not applied"))
        self._queued = []
        self._reads.stop()
        self._receiver.abort_all()
        self._note_changed()

    def _check_clock(self) -> None:
        """Void the lease if the last tick is more than the allowed gap old: the process was
        stopped (SIGSTOP) or its event loop stalled, and the core's tick count fell behind
        real time. Called before every tick, peer message and read: until the next tick, a
        round sent during the gap must not give a lease either."""
        if self._max_tick_gap_s and trio.current_time() - self._last_tick_at > self._max_tick_gap_s:
            self._core.void_lease()
            if self._gap_counted_at != self._last_tick_at and self._core.role is Role.LEADER:
                self._gap_counted_at = self._last_tick_at
                self.counters.lease_voids += 1
            # A request opened before the gap may hold a lease index: later reads must not
            # join it.
            self._reads.close_round()

    def tick(self) -> None:
        """One heartbeat interval passed: the node's `Ticker` calls this for every group
        while the driver runs (one task ticks them all)."""
        if not self._running:
            return
        self._check_clock()
        self._last_tick_at = trio.current_time()
        self._core.tick()
        # A tick may start a round for the open request or end a lease: later reads open a
        # request of their own.
        self._reads.close_round()
        self._reads.expire(self._last_tick_at)
        self._deadlines.expire(self._last_tick_at)
        self._react()

    def _react(self) -> None:
        """Hand on what a tick or a peer message made the core want where it appears,
        without waking the Ready loop when no step has to wait.

        Only messages and read answers (an idle group's heartbeat, its answer, an Append to
        a follower that answered one, the answer to a read request; docs/raft.md,
        "Coalesced heartbeats"): sending `messages` at once is what the Ready contract
        allows, read states depend on none of a Ready's writes, and such a Ready has
        nothing to persist, apply or log; one of messages alone is not even built
        (`RaftCore.take_messages`). Any other Ready is handled here as the loop
        would (`_start_ready`, `_end_ready`) when its write needs no wait: an unsynced one
        (the leader's round ending with the quorum's acknowledgement: its replies go out
        from here) or a synced one the committer writes at once (a follower's Append on an
        idle node, `GroupCommitter.commit_now`). Otherwise the loop takes the started
        Ready at its write."""
        core = self._core
        if self._queued:
            self._wake()  # the loop proposes them first, so they join this Ready
            return
        # A Ready of messages only (a follower's answer to a heartbeat) is handed out
        # without building it (`take_messages`: None when there is more, or a Ready in hand).
        messages = core.take_messages()
        if not (messages or (messages is None and not core.ready_outstanding)):
            return  # nothing to do, or a Ready in hand: the loop looks again after advance
        self._reads.close_round()
        if messages is None:
            ready = core.ready()
            if not _handled_inline(ready):
                self._react_fully(ready)
                return
            self._reads.resolve(ready)
            core.advance(ready)
            messages = ready.messages
        self._send_taken(messages)

    def _send_taken(self, messages: tuple[Message, ...]) -> None:
        """Send the messages of a Ready that held nothing else (taken or advanced)."""
        self._readys += 1
        for msg in messages:
            self._send(msg)
        self._drop_declined_snapshot()
        self._note_follower_regressions()
        # `wait_changed` callers poll on Readys (some retry on any news): this is one.
        self._note_changed()

    def _react_fully(self, ready: Ready) -> None:
        """`_react` for a Ready with writes, applies or state changes in it."""
        try:
            started = self._start_ready(ready)
            if not self._persist_now(started):
                if ready.snapshot is None:
                    self._submit(started)
                else:
                    self._taken = started
                    self._wake()
                return
            self._end_ready(started)
            self._note_round_end()  # as the loop's next pass would
        except Exception as exc:
            self._fail(exc)
            return
        self._ended()
        if self._core.has_ready():
            self._wake()

    def _ended(self) -> None:
        """After a Ready `_react` or `_written` ended: what the idle loop would do next."""
        core = self._core
        if self._compaction_due():
            self._compact_due = True
            self._wake()
        publisher = self.commit_publisher
        if publisher is not None:
            if core.commit_unpublished():
                publisher.due(self, self._hold_until)
            else:
                publisher.busy(self)
        self._note_changed()

    def _submit(self, started: _Started) -> None:
        """Hand a started Ready's synced write to the committer; `_written` ends it."""
        assert started.batch is not None
        self._writing = True
        self._committer.submit(started.batch, partial(self._written, started))

    def _written(self, started: _Started, error: StorageError | None) -> None:
        """The committer's report on a `_submit`ted write (a callback on the Trio thread,
        where an exception would end the run: every failure ends the group instead). The
        Ready ends as in `_react`, then the next one is looked for: a follower's next
        Append, stepped during this write's fsync, is written in the next round."""
        self._writing = False
        if not self._running:
            return  # stopped meanwhile: the Ready is never advanced, as in a crash
        if error is not None:
            self._fail(StorageError(str(error)))
            return
        try:
            self._end_ready(started)
            self._note_round_end()
        except Exception as exc:
            self._fail(exc)
            return
        self._ended()
        try:
            self._react()
        except Exception as exc:
            self._fail(exc)

    async def _receive_chunks(self) -> None:
        async for chunk in self._chunks_out:
            ack, offer = await self._offload(partial(self._receiver.feed, chunk))
            self._transport.send(ack)
            if offer is None:
                continue
            parked = self._receiver.stepped(self._readys)
            self._log.info(
                "snapshot_received",
                term=offer.term,
                index=offer.meta.index,
                applied=parked.applied,
                src=offer.src,
            )
            self.deliver(offer)

    async def _ready_loop(self) -> None:
        while True:
            self._wakeup = trio.Event()
            if self._failure is not None:
                raise self._failure
            if self._writing:  # `_written` wakes the loop when it has work
                await self._wakeup.wait()
                continue
            if self._compact_due:
                self._compact_due = False
                await self._maybe_compact()
            taken, self._taken = self._taken, None
            if taken is None:
                self._flush_proposals()
                # A read round (or forwarded reads) alone is sent without a Ready.
                messages = self._core.take_messages()
                if messages:
                    self._reads.close_round()
                    self._send_taken(messages)
                    continue  # as after a Ready: look again
                if messages is None and not self._core.ready_outstanding:
                    self._reads.close_round()
                    taken = self._start_ready(self._core.ready())
            if taken is not None:
                await self._finish_ready(taken)
            else:
                publisher = self.commit_publisher
                hold_until = self._hold_until
                if hold_until is not None and self._queued and trio.current_time() < hold_until:
                    # Holding writes after a round (`hold_after_round`): the next round's
                    # Appends carry the commit, so no publication meanwhile.
                    if publisher is not None:
                        publisher.busy(self)
                    with trio.move_on_at(hold_until):
                        await self._wakeup.wait()
                elif publisher is not None and self._core.commit_unpublished():
                    # During a hold with nothing queued yet, the round's writers are
                    # expected back before its end: publish only if they are not.
                    publisher.due(self, hold_until)
                    await self._wakeup.wait()
                    publisher.busy(self)
                else:
                    await self._wakeup.wait()

    def publish_owed_commit(self) -> None:
        """The loop stayed idle with a commit index owed to followers: send it (the node's
        `CommitPublisher` calls this; under load the next Append carries it instead)."""
        if self._running and self._core.commit_unpublished():
            self._core.publish_commit()
            self._react()

    def _flush_proposals(self, *, hold: bool = True) -> None:
        """Propose the queued writes, unless `hold` and they wait for a round (see
        `_holds_proposals`)."""
        self._note_round_end()
        if not self._queued or (hold and self._holds_proposals()):
            return
        limit = self._settings.max_proposals_per_pass
        batch, self._queued = self._queued[:limit], self._queued[limit:]
        if self._queued:
            self._wake()
        entries = self._entries_for(batch)
        try:
            indexes = self._core.propose([data for data, _ in entries])
        except NotLeader as exc:
            self.counters.proposals_failed += len(batch)
            for _, pending in batch:
                pending.fail(LeaderChangedError(exc.leader_id))
            return
        except LeadershipTransferInProgress:
            self.counters.proposals_failed += len(batch)
            for _, pending in batch:
                pending.fail(ServiceError("TRYAGAIN a leadership transfer is in progress; retry"))
            return
        self.counters.proposals += len(batch)
        self._hold_until = None
        if self._settings.hold_after_round and indexes:
            self._round_started, self._round_last = trio.current_time(), indexes[-1]
            self._round_writes = len(batch)
        term = self._core.term
        for index, (_, pendings) in zip(indexes, entries, strict=True):
            self._proposals.track(term, index, *pendings)

    def _holds_proposals(self) -> bool:
        """With `one_round_in_flight`: whether queued proposals wait for this leader's last
        round to commit, or for the hold after it to end. The commit steps the core and so
        wakes this loop (proposals are queued), which waits no longer than the hold; then
        it proposes. A leader that lost its role proposes at once, so the core
        refuses and every queued write fails as not proposed."""
        core = self._core
        if (
            not self._settings.one_round_in_flight
            or core.role is not Role.LEADER
            or len(self._queued) >= self._settings.max_proposals_per_pass
        ):
            return False
        if core.last_index > core.commit:
            return True
        return (
            self._hold_until is not None
            and len(self._queued) < self._hold_writes
            and trio.current_time() < self._hold_until
        )

    def _note_round_end(self) -> None:
        """With `hold_after_round`: once the last round committed, hold the writes queued
        behind it, and those its own writers send next, for its duration times the factor
        (see DriverSettings)."""
        if not self._round_last or self._core.commit < self._round_last:
            return
        self._round_last = 0
        # A round that carried every writer commits with nothing queued: held all the
        # same, or the first writer back would go alone in a round of one and the rest
        # queue behind it (rounds of 1-3 were ~15% of a 3-group leader's rounds).
        if self._queued or self._round_writes > 1:
            now = trio.current_time()
            settings = self._settings
            hold = settings.hold_after_round * (now - self._round_started)
            self._hold_until = now + min(hold, settings.tick_seconds / 2)
            self._hold_writes = self._round_writes + len(self._queued)

    def _entries_for(
        self, batch: list[tuple[bytes, PendingReply]]
    ) -> list[tuple[bytes, list[PendingReply]]]:
        """The log entries for one pass of proposals: merged runs up to the size bound."""
        if self._merge is None or len(batch) == 1:
            return [(command, [pending]) for command, pending in batch]
        limit = self._settings.max_merged_entry_bytes
        runs: list[tuple[list[bytes], list[PendingReply]]] = []
        size = 0
        for command, pending in batch:
            framed = len(command) + BATCH_FRAMING_BYTES
            if not runs or size + framed > limit:
                runs.append(([], []))
                size = 0
            runs[-1][0].append(command)
            runs[-1][1].append(pending)
            size += framed
        return [
            (commands[0] if len(commands) == 1 else self._merge(commands), pendings)
            for commands, pendings in runs
        ]

    def _note_follower_regressions(self) -> None:
        regressions = self._core.follower_regressions
        if regressions > self.counters.follower_regressions:
            self.counters.follower_regressions = regressions
            log.warning(
                "follower_lost_acknowledged_entries",
                node_id=self.node_id,
                group=self._group,
                term=self._core.term,
                total=regressions,
                detail="a follower's log ends below entries it acknowledged; re-replicating",
            )

    def _start_ready(self, ready: Ready) -> _Started:
        """A Ready's steps before its write."""
        self._readys += 1
        if ready.soft_state is not None:
            self._on_soft_state(ready.soft_state)
        for msg in ready.messages:
            self._send(msg)
        # On the leader, committed entries that earlier Readys already made durable here
        # apply (and their clients get replies) before this Ready's fsync, so a write waits
        # for one fsync round, not two; their unsynced apply write reaches LevelDB before
        # the synced log write, so it never queues behind that fsync on the event loop.
        # A follower persists (and acknowledges) first: its acknowledgement is on the
        # critical path of every write, its apply is not.
        durable, rest = (
            _split_durable(ready)
            if self._core.role is Role.LEADER
            else ((), ready.committed_entries)
        )
        batch: WriteBatch | None = ready_batch(self._group, ready)
        if durable and not ready.must_sync and ready.snapshot is None:
            # Unsynced Raft writes only (the leader's commit-only hard state after a round):
            # they share the apply's LevelDB write, one write per round instead of two.
            self._apply(durable, batch)
            batch = None
        else:
            self._apply(durable)
        self._reads.release_applied()
        self._reads.resolve(ready)
        if ready.snapshot is None:
            self._drop_declined_snapshot()
        return _Started(ready, batch, rest)

    async def _finish_ready(self, started: _Started) -> None:
        """A started Ready's write and what follows it, on the Ready loop; a synced write
        that must wait is handed to the committer and `_written` ends the Ready."""
        snapshot = started.ready.snapshot
        if snapshot is not None:
            assert started.batch is not None
            await self._install(snapshot, started.batch)
        elif not self._persist_now(started):
            self._submit(started)
            return
        self._end_ready(started)
        await self._maybe_compact()
        self._note_changed()

    def _end_ready(self, started: _Started) -> None:
        """A Ready's steps after its write: acknowledgements, applies, `advance`."""
        ready = started.ready
        self._log_store.persisted(ready)
        for msg in ready.persisted_messages:
            self._send(msg)
        self._apply(started.rest)
        self._note_follower_regressions()
        for result in ready.transfer_results:
            self._log.info(
                "raft_transfer",
                term=self._core.term,
                target=result.target,
                succeeded=result.succeeded,
            )
        self._core.advance(ready)
        membership = self._core.membership
        if membership is not self._membership_logged:  # compared only when replaced
            if membership != self._membership_logged:
                self._log.info(
                    "raft_membership",
                    voters=sorted(membership.voters),
                    learners=sorted(membership.learners),
                    removed=self._core.removed,
                )
            self._membership_logged = membership
        self._reads.release_applied()

    def _note_changed(self) -> None:
        changed = self._changed
        if changed is not None:
            self._changed = None
            changed.set()

    def _on_soft_state(self, soft: SoftState) -> None:
        previous, self._soft = self._soft, soft
        counters = self.counters
        if soft.role is Role.PRE_CANDIDATE:
            counters.pre_votes += 1
        elif soft.term > previous.term and soft.role in (Role.CANDIDATE, Role.LEADER):
            # Only a campaign of this node moves its term while it is (or wins as) a
            # candidate; a single voter may win before a Ready ever shows it as candidate.
            counters.elections += 1
        if soft.leader_id is not None and soft.leader_id != previous.leader_id:
            counters.leader_changes += 1
        if soft.role in (Role.PRE_CANDIDATE, Role.CANDIDATE):
            event = "raft_election"
        elif soft.role is Role.LEADER and previous.role is not Role.LEADER:
            event = "became_leader"
        else:
            event = "raft_role"
        self._log.info(
            event,
            role=soft.role.value,
            term=soft.term,
            leader=soft.leader_id,
            commit=self._core.commit,
            index=self._core.last_index,
        )

    def _send(self, msg: Message) -> None:
        if isinstance(msg, Snapshot):
            self._start_snapshot_stream(msg)
        else:
            self._transport.send(msg)

    # -- persistence and snapshot install --------------------------------------------------
    def _persist_now(self, started: _Started) -> bool:
        """Write the Ready's batch if that needs no wait; False: `_submit` (or `_install`)."""
        ready, batch = started.ready, started.batch
        if ready.snapshot is not None:
            return False
        if batch is None or not len(batch):
            return True
        if ready.must_sync:
            return self._committer.commit_now(batch)
        # Only commit moved: recoverable from a quorum, no fsync needed (LevelDB keeps it
        # ordered before the applies that follow).
        self._store.write(batch, sync=False)
        return True

    def _drop_declined_snapshot(self) -> None:
        declined = self._receiver.drop_declined(self._readys)
        if declined is not None:
            self._log.info("snapshot_declined", term=self._core.term, index=declined.index)

    async def _install(self, meta: SnapshotMeta, batch: WriteBatch) -> None:
        parked = self._receiver.claim(meta)
        started = trio.current_time()
        if parked.applied <= self._machine.applied_index:
            # Our own state already covers the snapshot (it is a committed prefix at least
            # as new): keep it, so applied state never moves backwards for readers.
            parked.sink.abort()
            await self._committer.commit(batch)
            installed = False
        else:
            batch.put_applied(self._group, parked.applied)
            await self._offload(lambda: parked.sink.finish(batch))
            self._machine.reload()
            installed = True
        self._proposals.snapshot_installed(meta.index, meta.term)
        seconds = trio.current_time() - started
        self.counters.snapshot_install_seconds.observe(seconds)
        self._log.info(
            "snapshot_installed",
            term=meta.term,
            index=meta.index,
            applied=self._machine.applied_index,
            data_replaced=installed,
            seconds=round(seconds, 6),
        )

    # -- applying --------------------------------------------------------------------------
    def _apply(self, entries: tuple[Entry, ...], before: WriteBatch | None = None) -> None:
        if not entries:
            return
        results = self._machine.apply(
            (
                (entry.index, entry.data if entry.kind is EntryKind.NORMAL else None)
                for entry in entries
            ),
            before,
        )
        by_index = {applied.index: applied for applied in results}
        for entry in entries:
            applied = by_index.get(entry.index)
            if applied is None:
                self._proposals.applied(entry.index, entry.term, None)
            else:
                self._proposals.applied(entry.index, entry.term, applied.replies, applied.split)

    def _compaction_due(self) -> bool:
        core = self._core
        if core.applied <= self._log_store.snapshot_meta().index:
            return False
        return (
            core.applied - self._log_store.first_index() >= self._settings.snapshot_entries
            or self._store.log_size_bytes(self._group) >= self._settings.snapshot_bytes
        )

    async def _maybe_compact(self) -> None:
        if not self._compaction_due():
            return
        core = self._core
        meta = core.applied_snapshot_meta()
        if meta is None:
            return  # a received snapshot awaits installation and replaces this state
        # The applies were unsynced writes; a synced (empty) round makes them durable
        # before the log entries behind them may go.
        await self._committer.commit(WriteBatch())
        try:
            core.compact(meta)
        except ValueError as exc:
            self._log.info("compaction_skipped", term=core.term, index=meta.index, reason=str(exc))
            return
        self.counters.compactions += 1
        self._log.info(
            "compaction",
            term=meta.term,
            index=meta.index,
            log_first_before=self._log_store.first_index(),
        )

    # -- snapshot sending ------------------------------------------------------------------
    def _start_snapshot_stream(self, offer: Snapshot) -> None:
        assert self._nursery is not None
        previous = self._senders.pop(offer.dst, None)
        if previous is not None:
            previous.cancel_scope.cancel()
        sender = SnapshotSender(
            offer,
            window=self._settings.snapshot_window,
            ack_timeout=self._settings.snapshot_ack_timeout,
        )
        self._senders[offer.dst] = sender
        self._nursery.start_soon(self._stream_snapshot, sender)

    async def _stream_snapshot(self, sender: SnapshotSender) -> None:
        offer = sender.offer
        self._log.info("snapshot_send", term=offer.term, index=offer.meta.index, dst=offer.dst)
        started = trio.current_time()
        success = False
        with sender.cancel_scope:
            try:
                source = self._machine.open_snapshot()
                try:
                    sent = await sender.run(
                        source,
                        self._transport.send,
                        self._offload,
                        self._settings.snapshot_chunk_bytes,
                    )
                finally:
                    source.close()
                success = True
                seconds = trio.current_time() - started
                self.counters.snapshot_send_seconds.observe(seconds)
                self._log.info(
                    "snapshot_sent",
                    term=offer.term,
                    index=offer.meta.index,
                    dst=offer.dst,
                    bytes=sent,
                    seconds=round(seconds, 6),
                )
            except (SnapshotStreamError, StorageError) as exc:
                self.counters.snapshot_send_failures += 1
                self._log.warning(
                    "snapshot_send_failed",
                    term=offer.term,
                    index=offer.meta.index,
                    dst=offer.dst,
                    reason=str(exc),
                )
        if self._senders.get(offer.dst) is sender:
            # Not replaced by a newer stream: the core learns the outcome.
            del self._senders[offer.dst]
            self._core.report_snapshot(offer.dst, success)
            self._wake()
