"""The simulator's Raft driver: one node's storage, fsync, application and client plumbing.

The simulator plays the part a real node's driver plays (see `seshat_trio.raft`'s
Ready contract), with one twist: storage is two layers.

- `storage` is what the node has *written* (the page cache): the core reads it.
- `durable` is what the node has *fsynced*: a crash keeps only this.

Rules this module lives by:
- A Ready's writes go to `storage` at once and to `durable` when the simulated
  fsync completes (a later event).  Writes that do not ask for a sync ride along
  with the next fsync, as they would in a write-ahead log.  One Ready is in
  flight per node; `advance()` is called only after its fsync.
- `Ready.messages` leave immediately; `persisted_messages`, committed entries and
  read answers only after the fsync.  Every outgoing message is first checked
  against `durable` (the persistence contract in `invariants`).
- The application (`KvApp`) is made durable together with its applied index,
  either by an occasional flush or by a snapshot; a restart resumes from it and
  the core re-delivers the committed entries after it.
- A crash drops the core, the written-but-unsynced tail, the in-flight Ready,
  snapshot transfers and every pending client request; `incarnation` makes stale
  timer events from an earlier life harmless.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Protocol

import attrs

from seshat_trio.raft import (
    EntryKind,
    LeadershipTransferInProgress,
    Membership,
    MemoryLogStorage,
    NotLeader,
    RaftConfig,
    RaftCore,
    Ready,
    Role,
    SnapshotMeta,
    decode_membership,
)
from seshat_trio.raft.messages import (
    Message,
    Snapshot,
    SnapshotChunk,
    SnapshotChunkAck,
)
from seshat_trio.raft.snapshot_transfer import iter_snapshot_chunks
from seshat_trio.replication.snapshot import SnapshotReceiver, encode_header
from seshat_trio.storage import WriteBatch
from seshat_trio.testing.history import OpStatus
from seshat_trio.testing.invariants import Invariants, InvariantViolation, term_or_none
from seshat_trio.testing.kvapp import Command, KvApp

#: Everything that travels between simulated nodes.
Wire = Message | SnapshotChunk | SnapshotChunkAck

WriteDone = Callable[[OpStatus], None]
ReadDone = Callable[[OpStatus, bytes | None], None]


class Host(Protocol):
    """What a node needs from the simulation around it."""

    now: float
    invariants: Invariants
    rng: random.Random

    def transmit(self, msg: Wire) -> None: ...

    def schedule(self, delay: float, action: Callable[[], None]) -> None: ...

    def trace(self, node: int, what: str) -> None: ...

    def durable_logs(self) -> dict[int, MemoryLogStorage]: ...


@attrs.frozen(slots=True)
class NodeParams:
    """Driver and core tuning for one simulated node (times in simulated ms)."""

    tick_ms: float = 10.0
    clock_skew: float = 0.25
    fsync_min_ms: float = 0.2
    fsync_max_ms: float = 3.0
    fsync_stall_probability: float = 0.0
    compact_every: int = 30
    app_flush_probability: float = 0.3
    snapshot_chunk_bytes: int = 64
    snapshot_timeout_ms: float = 300.0
    heartbeat_ticks: int = 1
    election_ticks_min: int = 5
    election_ticks_max: int = 10
    max_msg_bytes: int = 1 << 20
    #: Leader lease reads; their length allows for `clock_skew` as the clock drift
    #: (keep it small: a large one leaves no lease) and for ticks up to `lease_tick_gap`
    #: periods apart (a longer gap voids the lease).
    lease_reads: bool = False
    lease_tick_gap: float = 1.5
    #: A leader owing followers the commit index publishes it this long after a Ready
    #: left it owed (the production driver's `commit_publish_delay`); None: only the next
    #: Append or heartbeat carries it.
    commit_publish_ms: float | None = 1.0
    #: Hand out a Ready of messages only through `RaftCore.take_messages`, as the
    #: production driver does where a message arrives (`RaftGroupDriver._react`).
    take_messages: bool = False


def _write(storage: MemoryLogStorage, ready: Ready) -> None:
    """Apply one Ready's writes in the contract's order."""
    if ready.snapshot is not None:
        storage.apply_snapshot(ready.snapshot)
    if ready.entries:
        storage.append(ready.entries)
    if ready.hard_state is not None:
        storage.set_hard_state(ready.hard_state)
    if ready.compact is not None:
        storage.compact(ready.compact)


def _config_before(storage: MemoryLogStorage, index: int) -> tuple[int, int | None, Membership]:
    """The last configuration in `storage` before `index`: (index, term or None when it is
    the snapshot's, membership)."""
    meta = storage.snapshot_meta()
    for i in range(index - 1, meta.index, -1):
        (entry,) = storage.entries(i, i + 1, None)
        if entry.kind is EntryKind.CONFIG:
            return i, entry.term, decode_membership(entry.data)
    return meta.index, None, meta.membership


def _clone(durable: MemoryLogStorage) -> MemoryLogStorage:
    """A fresh written-layer storage holding exactly what is durable."""
    meta = durable.snapshot_meta()
    storage = MemoryLogStorage(initial_membership=meta.membership)
    if meta.index > 0:
        storage.apply_snapshot(meta)
    first, last = durable.first_index(), durable.last_index()
    if last >= first:
        storage.append(durable.entries(first, last + 1, None))
    storage.set_hard_state(durable.hard_state())
    return storage


class _MemorySink:
    """A `SnapshotSink` over memory: the received application snapshot, whole on `finish`."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self.data: bytes | None = None

    def add_chunk(self, chunk: bytes) -> None:
        self._parts.append(chunk)

    def finish(self, batch: WriteBatch | None = None) -> None:
        self.data = b"".join(self._parts)

    def abort(self) -> None:
        self._parts = []


@attrs.frozen(slots=True)
class _PendingRead:
    """A client read waiting for its read index, then for applied to reach it."""

    key: bytes
    done: ReadDone
    floor: int  # highest index committed anywhere when the client asked


@attrs.define(slots=True)
class _Stream:
    """An outgoing snapshot transfer: the chunks and how many were acknowledged."""

    index: int
    chunks: list[SnapshotChunk]
    position: int = 0


class SimNode:
    """One simulated Raft node and its driver."""

    def __init__(
        self, node_id: int, host: Host, params: NodeParams, membership: Membership, group: int = 1
    ) -> None:
        self.id = node_id
        self.group = group
        self.host = host
        self.params = params
        self.durable = MemoryLogStorage(initial_membership=membership)
        self.durable_app = KvApp()
        self.snapshot_files: dict[int, bytes] = {}  # durable app snapshots by index
        # Clock skew: this node's ticks run up to (1 + clock_skew) times fast or slow.
        skew = 1.0 + params.clock_skew
        self.tick_period = params.tick_ms * host.rng.uniform(1.0 / skew, skew)
        self.incarnation = 0
        self.up = False
        self.restarts = 0
        self._removed = False
        self._init_volatile()

    @property
    def removed(self) -> bool:
        """The node applied its own removal from the group; it is out for good."""
        return self._removed or (self.core is not None and self.core.removed)

    # --- lifecycle ---------------------------------------------------------------

    def _init_volatile(self) -> None:
        self.storage = MemoryLogStorage()
        self.app = KvApp()
        self.core: RaftCore | None = None
        # The Ready being persisted, with the snapshot data it installs (if any).
        self.inflight: tuple[Ready, bytes | None] | None = None
        self.unsynced: list[tuple[Ready, bytes | None]] = []
        self.pending_writes: dict[int, tuple[int, int, WriteDone]] = {}  # index -> term, op, cb
        self.pending_reads: dict[int, _PendingRead] = {}  # by request id
        self.ready_reads: list[tuple[int, int]] = []  # (read index, request id)
        # The production receiver: it parks a received snapshot until a Ready installs it.
        self.receiver = SnapshotReceiver(_MemorySink)
        self.readys = 0  # Readys taken from this life's core
        self.streams: dict[int, _Stream] = {}  # by follower
        self.role = Role.FOLLOWER
        self.paused_until = 0.0
        self.last_tick_at = 0.0
        self.last_commit = 0
        self.next_read_id = 1
        self.commit_publication_due = False

    def start(self) -> None:
        """Boot (first time) or restart from durable state."""
        self.incarnation += 1
        self._init_volatile()
        self.storage = _clone(self.durable)
        self.app = self.durable_app.copy()
        p = self.params
        config = RaftConfig(
            group=self.group,
            node_id=self.id,
            heartbeat_ticks=p.heartbeat_ticks,
            election_ticks_min=p.election_ticks_min,
            election_ticks_max=p.election_ticks_max,
            max_msg_bytes=p.max_msg_bytes,
            lease_reads=p.lease_reads,
            lease_tick_gap=p.lease_tick_gap,
            lease_clock_drift=p.clock_skew if p.lease_reads else 0.0,
            applied=self.app.applied,
        )
        rng = random.Random(self.host.rng.getrandbits(64))
        self.core = RaftCore(config, self.storage, rng)
        self.up = True
        self.last_tick_at = self.host.now
        self.last_commit = self.core.commit
        self.host.invariants.on_restart(self.id, self.core.applied, self.app.applied)
        self.host.invariants.on_applied(self.id, self.app.applied, self.app.state())
        self.host.trace(self.id, f"start #{self.incarnation} applied={self.app.applied}")
        self._schedule_tick()
        self.pump()

    def crash(self) -> None:
        """Lose everything not fsynced; pending clients see a dropped connection."""
        if not self.up:
            return
        self._removed = self.removed
        self.up = False
        self.incarnation += 1
        self.restarts += 1
        lost = sum(len(ready.entries) for ready, _ in self.unsynced)
        self._drop_clients(f"crash (unsynced entries lost: {lost})")
        self._init_volatile()

    def _drop_clients(self, why: str) -> None:
        """Close every pending request as a dropped connection: outcome unknown."""
        writes, reads = self.pending_writes, self.pending_reads
        self.pending_writes, self.pending_reads, self.ready_reads = {}, {}, []
        self.host.trace(self.id, why)
        for _, _, write_done in writes.values():
            write_done(OpStatus.INFO)
        for read in reads.values():
            read.done(OpStatus.INFO, None)

    def pause(self, duration: float) -> None:
        """Freeze the process (SIGSTOP): it handles nothing until `duration` passes.

        Messages and requests that arrive meanwhile wait in its socket buffers.
        """
        self.paused_until = max(self.paused_until, self.host.now + duration)
        self.host.trace(self.id, f"paused until {self.paused_until:.3f}")

    @property
    def is_paused(self) -> bool:
        # The tolerance absorbs float rounding of the resume event's time, which
        # could otherwise re-defer the same action forever.
        return self.host.now < self.paused_until - 1e-9

    def _paused(self, action: Callable[[], None]) -> bool:
        """If paused, run `action` again on resume and say so."""
        if not self.is_paused:
            return False
        self.host.schedule(self.paused_until - self.host.now, action)
        return True

    def _schedule_tick(self) -> None:
        life = self.incarnation

        def tick() -> None:
            if self.incarnation != life or self.core is None or self._paused(tick):
                return
            self._check_clock()
            self.last_tick_at = self.host.now
            self.core.tick()
            self.pump()
            self._schedule_tick()

        self.host.schedule(self.last_tick_at + self.tick_period - self.host.now, tick)

    def _check_clock(self) -> None:
        """Void the lease if this node's ticks stopped keeping time.

        As in the production driver (a `trio.sleep` loop), a node ticks once per tick
        period and never catches up on the ticks it missed while paused (SIGSTOP, a
        stalled event loop): counted in ticks, a lease would outlive real time. So before
        it handles anything, a node whose last tick is more than `lease_tick_gap` periods
        old voids its lease (`RaftCore.void_lease`, docs/raft.md "Lease reads").
        """
        core = self.core
        gap = self.host.now - self.last_tick_at
        if core is not None and gap > self.tick_period * self.params.lease_tick_gap:
            core.void_lease()

    # --- the Ready pipeline ------------------------------------------------------

    def pump(self) -> None:
        """Take the next Ready if none is in flight; persist it, then finish it.

        Called after every input to the core, so a commit index move is observed
        before any later apply can change the membership it was computed with.
        """
        self._observe_commit()
        self._schedule_commit_publication()
        core = self.core
        if core is None or self.inflight is not None:
            return
        if self.params.take_messages and (messages := core.take_messages()):
            # A Ready of messages only, not built: handled as the built one would be (no
            # write, apply or read answer in it), down to the random draws that follow.
            self.readys += 1
            self._drop_declined_snapshot()
            for msg in messages:
                self._send(msg)
            self._serve_reads()
            self._after_ready(core.membership.voters)
            return
        if not core.has_ready():
            return
        ready = core.ready()
        self.readys += 1
        data = self._snapshot_data(ready)
        self.inflight = (ready, data)
        if ready.soft_state is not None:
            self._on_soft_state(ready)
        for msg in ready.messages:
            self._send(msg)
        _write(self.storage, ready)
        self._check_written(ready)
        self.unsynced.append((ready, data))
        if ready.must_sync:
            p = self.params
            life = self.incarnation
            delay = self.host.rng.uniform(p.fsync_min_ms, p.fsync_max_ms)
            if self.host.rng.random() < p.fsync_stall_probability:
                delay += self.host.rng.uniform(50.0, 300.0)  # a disk hiccup
            self.host.schedule(delay, lambda: self._fsynced(life))
        else:
            self._finish(ready, data)

    def _schedule_commit_publication(self) -> None:
        """As the production driver: a leader that owes followers the commit index sends
        it after `commit_publish_ms`, unless an Append or heartbeat carried it meanwhile."""
        core, delay = self.core, self.params.commit_publish_ms
        if (
            delay is None
            or core is None
            or self.commit_publication_due
            or not core.commit_unpublished()
        ):
            return
        self.commit_publication_due = True
        life = self.incarnation

        def publish() -> None:
            if self.incarnation != life or self._paused(publish):
                return
            self.commit_publication_due = False
            if self.core is not None:
                self.core.publish_commit()
                self.pump()

        self.host.schedule(delay, publish)

    def _snapshot_data(self, ready: Ready) -> bytes | None:
        """The received data of the snapshot `ready` installs, if it installs one; a parked
        snapshot that the core declined is dropped, as the production driver does."""
        meta = ready.snapshot
        if meta is None:
            self._drop_declined_snapshot()
            return None
        try:
            sink = self.receiver.claim(meta).sink
        except RuntimeError as exc:
            raise InvariantViolation("snapshot transfer", f"node {self.id}: {exc}") from exc
        assert isinstance(sink, _MemorySink)
        sink.finish()
        data = sink.data
        if data is None or KvApp.restore(data).applied != meta.index:
            raise InvariantViolation(
                "snapshot transfer",
                f"node {self.id} is told to install snapshot {meta.index} it has no data for",
            )
        return data

    def _drop_declined_snapshot(self) -> None:
        declined = self.receiver.drop_declined(self.readys)
        if declined is not None:
            self.host.trace(self.id, f"declined snapshot {declined.index}")

    def _fsynced(self, life: int) -> None:
        if life != self.incarnation or self.inflight is None:
            return
        if self._paused(lambda: self._fsynced(life)):
            return
        self._check_clock()
        for ready, data in self.unsynced:
            _write(self.durable, ready)
            for entry in ready.entries:
                if entry.kind is EntryKind.CONFIG:
                    previous, _, _ = _config_before(self.durable, entry.index)
                    self.host.invariants.on_config_durable(
                        self.id, entry.index, previous, self.durable.hard_state().commit
                    )
            if ready.snapshot is not None and data is not None:
                self.snapshot_files[ready.snapshot.index] = data
                self.durable_app = KvApp.restore(data)
        self.unsynced.clear()
        self._finish(*self.inflight)

    def _finish(self, ready: Ready, snapshot_data: bytes | None) -> None:
        core = self.core
        assert core is not None
        for msg in ready.persisted_messages:
            self._send(msg)
        if ready.snapshot is not None and snapshot_data is not None:
            self._install_snapshot(ready.snapshot, snapshot_data)
        for entry in ready.committed_entries:
            self._apply(entry.index, entry.term, entry.kind, entry.data)
        for state in ready.read_states:
            asked = self.pending_reads.get(state.request_id)
            if asked is not None:
                self.host.invariants.on_read_index(self.id, state.index, asked.floor)
            self.ready_reads.append((state.index, state.request_id))
        for failed in ready.failed_reads:
            pending = self.pending_reads.pop(failed.request_id, None)
            if pending is not None:
                pending.done(OpStatus.FAIL, None)
        self._serve_reads()
        voters_before = core.membership.voters
        core.advance(ready)
        self._after_ready(voters_before)

    def _after_ready(self, voters_before: frozenset[int]) -> None:
        """The end of every Ready (`voters_before`: the voters before its `advance()`)."""
        core = self.core
        assert core is not None
        self._observe_commit(voters_before)
        self.inflight = None
        if core.removed and (self.pending_writes or self.pending_reads):
            self._drop_clients("removed from the group")
        self.host.invariants.on_applied(self.id, self.app.applied, self.app.state())
        if self.host.rng.random() < self.params.app_flush_probability:
            self._flush_app()
        self._maybe_compact()
        self.pump()

    def _on_soft_state(self, ready: Ready) -> None:
        soft = ready.soft_state
        assert soft is not None and self.core is not None
        if soft.role is not self.role:
            self.host.trace(self.id, f"{soft.role.value} in term {soft.term}")
        self.role = soft.role
        # The core's own view of its log (written plus not yet handed out).
        self.host.invariants.on_role(
            self.id, soft.term, soft.role, self.core.log_term, self.storage.snapshot_meta().index
        )

    def _check_written(self, ready: Ready) -> None:
        if not ready.entries:
            return
        first = ready.entries[0].index
        prev = term_or_none(self.storage, first - 1)
        assert prev is not None, f"node {self.id} appended at {first} after a gap"
        self.host.invariants.on_entries_written(self.id, ready.entries, prev)
        core = self.core
        if core is None or core.role is not Role.LEADER:
            return
        for entry in ready.entries:
            if entry.kind is EntryKind.CONFIG and entry.term == core.term:
                self.host.invariants.on_config_proposed(
                    self.id,
                    entry,
                    decode_membership(entry.data),
                    _config_before(self.storage, entry.index),
                )

    def _observe_commit(self, voters_before: frozenset[int] | None = None) -> None:
        """Report a moved commit index; `voters_before` is the voter set before an
        `advance()` that may have applied a CONFIG entry and moved the commit."""
        core = self.core
        if core is None or core.commit == self.last_commit:
            return
        self.last_commit = core.commit
        self.host.invariants.on_commit(
            self.id,
            term=core.term,
            is_leader=core.role is Role.LEADER,
            commit=core.commit,
            term_at=core.log_term,
            configs=[v for v in (core.membership.voters, voters_before) if v is not None],
            durable=self.host.durable_logs(),
        )

    # --- application -------------------------------------------------------------

    def _apply(self, index: int, term: int, kind: EntryKind, data: bytes) -> None:
        command = Command.decode(data) if kind is EntryKind.NORMAL and data else None
        self.app.apply(index, command)
        self.host.invariants.on_applied(self.id, index, self.app.state())
        pending = self.pending_writes.pop(index, None)
        if pending is not None:
            p_term, op_id, done = pending
            if p_term == term:
                if command is None or command.op_id != op_id:
                    raise InvariantViolation(
                        "proposal tracking",
                        f"node {self.id} applied {command} at its proposal ({term}, {index}) "
                        f"of op {op_id}",
                    )
                done(OpStatus.OK)
            else:
                done(OpStatus.FAIL)
        # Terms only grow along a log: an entry of term `term` committed at `index`
        # rules out every uncommitted proposal of an older term at a later index.
        stale = [i for i, (t, _, _) in self.pending_writes.items() if t < term and i > index]
        for i in stale:
            self.pending_writes.pop(i)[2](OpStatus.FAIL)

    def _serve_reads(self) -> None:
        still: list[tuple[int, int]] = []
        for index, request_id in self.ready_reads:
            if index > self.app.applied:
                still.append((index, request_id))
                continue
            pending = self.pending_reads.pop(request_id, None)
            if pending is not None:
                pending.done(OpStatus.OK, self.app.data.get(pending.key))
        self.ready_reads = still

    def _install_snapshot(self, meta: SnapshotMeta, data: bytes) -> None:
        self.app = KvApp.restore(data)
        self.host.trace(self.id, f"installed snapshot at {meta.index}")
        # Proposals the snapshot covers may or may not be in it: outcome unknown.
        for index in [i for i in self.pending_writes if i <= meta.index]:
            self.pending_writes.pop(index)[2](OpStatus.INFO)
        # Terms never decrease along a log: a later proposal of an older term than the
        # snapshot's can never commit (as after applying an entry of that term).
        doomed = [i for i, (t, _, _) in self.pending_writes.items() if t < meta.term]
        for index in doomed:
            self.pending_writes.pop(index)[2](OpStatus.FAIL)
        self.host.invariants.on_applied(self.id, self.app.applied, self.app.state())
        self._serve_reads()

    def _maybe_compact(self) -> None:
        core = self.core
        assert core is not None
        if core.applied - self.storage.snapshot_meta().index < self.params.compact_every:
            return
        meta = core.applied_snapshot_meta()
        if meta is None or core.applied != self.app.applied:
            return  # None: a snapshot from the leader is about to replace the state
        self._flush_app()
        blob = self.app.snapshot()
        # The snapshot file is written atomically (temp + fsync + rename) before the
        # core hears about it; it is also a durable copy of the application.
        self.snapshot_files[meta.index] = blob
        for old in sorted(self.snapshot_files)[:-3]:
            del self.snapshot_files[old]
        core.compact(meta)
        self.host.trace(self.id, f"compact to {meta.index}")

    def _flush_app(self) -> None:
        """Make the application durable with its applied index (one atomic write).

        This may run ahead of the durable commit index, which is written lazily;
        the core accepts `applied > commit` at restart (raft-bugs.md BUG-1).
        """
        self.durable_app = self.app.copy()

    # --- clients -----------------------------------------------------------------

    def client_write(self, command: Command, done: WriteDone) -> None:
        """Propose `command` here; `done` gets OK, FAIL or INFO exactly once."""
        if self._paused(lambda: self.client_write(command, done)):
            return
        self._check_clock()
        if self.core is None:
            done(OpStatus.FAIL)  # connection refused: nothing was proposed
            return
        try:
            (index,) = self.core.propose([command.encode()])
        except (NotLeader, LeadershipTransferInProgress):
            done(OpStatus.FAIL)
            return
        self.pending_writes[index] = (self.core.term, command.op_id, done)
        self.pump()

    def client_log_read(self, command: Command, done: ReadDone) -> None:
        """A read proposed right behind the client's own write, as a pipelined read behind
        writes is (docs/raft.md, "Reads behind writes"): its value is the state at its log
        position, read when this node applies it; it fails or is unknown as a write is."""
        assert command.read

        def answered(status: OpStatus) -> None:
            done(status, self.app.data.get(command.key) if status is OpStatus.OK else None)

        self.client_write(command, answered)

    def client_read(self, key: bytes, done: ReadDone, floor: int | None = None) -> None:
        """A linearizable (ReadIndex) read of `key` through this node.

        `floor` is the highest index committed anywhere when the client asked
        (taken now unless given); the read index must not be below it.
        """
        if floor is None:
            floor = self.host.invariants.max_commit
        if self._paused(lambda: self.client_read(key, done, floor)):
            return
        self._check_clock()
        if self.core is None:
            done(OpStatus.FAIL, None)
            return
        request_id = self.next_read_id
        self.next_read_id += 1
        self.pending_reads[request_id] = _PendingRead(key, done, floor)
        self.core.read_index(request_id)
        self.pump()

    # --- network -----------------------------------------------------------------

    def _send(self, msg: Message) -> None:
        storage = self.storage
        self.host.invariants.on_send(
            self.id, msg, self.durable, lambda index: term_or_none(storage, index)
        )
        if isinstance(msg, Snapshot):
            self._stream_snapshot(msg)
        else:
            self.host.transmit(msg)

    def _stream_snapshot(self, offer: Snapshot) -> None:
        """Send the snapshot for `offer` chunk by chunk, each after the previous ack.

        Stop-and-wait keeps the stream in order over a reordering network, the
        way one TCP connection would; a lost chunk or ack ends it by timeout.
        """
        core = self.core
        assert core is not None
        data = self.snapshot_files.get(offer.meta.index)
        if data is None or offer.dst in self.streams:
            core.report_snapshot(offer.dst, success=False)
            return
        size = self.params.snapshot_chunk_bytes
        header = encode_header(KvApp.restore(data).applied)
        pieces = [header, *(data[i : i + size] for i in range(0, len(data), size))]
        stream = _Stream(offer.meta.index, list(iter_snapshot_chunks(offer, pieces)))
        self.streams[offer.dst] = stream
        self.host.trace(self.id, f"streams snapshot {offer.meta.index} to {offer.dst}")
        self.host.transmit(stream.chunks[0])
        life = self.incarnation

        def give_up() -> None:
            if self._paused(give_up):
                return
            if life == self.incarnation and self.streams.get(offer.dst) is stream:
                self._end_stream(offer.dst, success=False)

        self.host.schedule(self.params.snapshot_timeout_ms, give_up)

    def _on_chunk_ack(self, ack: SnapshotChunkAck) -> None:
        stream = self.streams.get(ack.src)
        if stream is None or stream.index != ack.meta_index:
            return
        if not ack.ok:
            self._end_stream(ack.src, success=False)
            return
        sent = stream.chunks[stream.position]
        if ack.offset != sent.offset + len(sent.data):
            return  # a duplicate ack of an earlier chunk
        stream.position += 1
        if stream.position == len(stream.chunks):
            self._end_stream(ack.src, success=True)
        else:
            self.host.transmit(stream.chunks[stream.position])

    def _end_stream(self, peer: int, success: bool) -> None:
        del self.streams[peer]
        if self.core is not None:
            self.core.report_snapshot(peer, success)
            self.pump()

    def receive(self, msg: Wire) -> None:
        core = self.core
        if core is None:
            return
        self._check_clock()
        if isinstance(msg, SnapshotChunk):
            self._receive_chunk(msg)
        elif isinstance(msg, SnapshotChunkAck):
            self._on_chunk_ack(msg)
        else:
            core.step(msg)
        self.pump()

    def _receive_chunk(self, chunk: SnapshotChunk) -> None:
        ack, offer = self.receiver.feed(chunk)
        self.host.transmit(ack)
        if offer is not None:
            assert self.core is not None
            self.receiver.stepped(self.readys)
            self.core.step(offer)
