"""RaftCore: one member of one Raft group as a pure sans-IO state machine.

Inputs are `tick()`, `step(message)`, `propose(...)`, `read_index(...)`,
`transfer_leadership(...)`, `change_membership(...)`, `compact(...)` and the driver's
`report_*` calls; output is `ready()`, acknowledged by `advance(ready)`.

Rules this module lives by:
- No I/O, no clock, no tasks. Time is the number of `tick()` calls; randomness (election
  timeouts) comes only from the injected `random.Random`.
- Persistence contract. Everything a Ready asks to be written (snapshot, entries, hard state)
  must be durable before any of its `persisted_messages` leave: votes, vote responses and
  append acknowledgements promise durable state. `messages` carry nothing that depends on
  this Ready's writes (leader traffic in an already durable term, pre-votes, heartbeat
  acks), so they may leave at once; in particular the leader replicates entries while it is
  still fsyncing them itself (Raft thesis 10.2.1) and counts its own log towards commit
  only up to what `advance` confirmed durable.
- Only one Ready is outstanding: `advance(ready)` must come before the next `ready()`.
- A leader commits by counting replicas only entries of its own term (Raft paper figure 8);
  it appends a NOOP at the start of every term to get there.
- Membership takes effect when its CONFIG entry is applied (handed out and advanced); one
  change may be pending at a time, and only after the leader committed in its term
  (docs/raft.md gives the safety argument). Only a node holding a configuration with
  itself votes; a removed node never campaigns but still answers; a leader whose log
  holds its own removal takes no more entries.
- With check-quorum, a node that heard from a leader within the minimum election timeout
  ignores (pre-)vote requests (leader stickiness) unless they are forced by TimeoutNow, and
  a leader that has not heard from a quorum within that timeout steps down.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

from seshat_trio.raft.config import RaftConfig
from seshat_trio.raft.errors import (
    ConfigChangeRejected,
    LeadershipTransferInProgress,
    LeavingGroup,
    NotLeader,
)
from seshat_trio.raft.log import RaftLog
from seshat_trio.raft.membership import (
    ChangeKind,
    ConfigChange,
    Membership,
    apply_change,
    decode_membership,
    encode_membership,
)
from seshat_trio.raft.messages import (
    Append,
    AppendResp,
    Heartbeat,
    HeartbeatResp,
    Message,
    PreVote,
    PreVoteResp,
    ReadIndexReq,
    ReadIndexResp,
    Snapshot,
    SnapshotChunk,
    SnapshotChunkAck,
    TimeoutNow,
    Vote,
    VoteResp,
)
from seshat_trio.raft.model import (
    Entry,
    EntryKind,
    FailedRead,
    HardState,
    MemberProgress,
    ReadFailure,
    ReadState,
    Role,
    SnapshotDelivered,
    SnapshotMeta,
    SoftState,
    TransferResult,
)
from seshat_trio.raft.progress import Progress, ProgressState
from seshat_trio.raft.quorum import VoteResult, quorum_value, vote_result
from seshat_trio.raft.readindex import ForwardedReads, LeaderReads, PendingRead
from seshat_trio.raft.ready import Ready
from seshat_trio.raft.replication import Replicator
from seshat_trio.raft.storage import LogStorage

# Messages that promise durable state (a vote, a persisted log); they always wait for the
# Ready's writes, whatever their term.
_AFTER_PERSIST = (Vote, VoteResp, AppendResp)
# Pre-vote traffic carries a term nobody has adopted yet; it never waits.
_PRE_VOTE = (PreVote, PreVoteResp)
# Messages with which the sender of a higher term tells us who leads.
_FROM_LEADER = (Append, Heartbeat, Snapshot)


class RaftCore:
    def __init__(self, config: RaftConfig, storage: LogStorage, rng: random.Random) -> None:
        self._cfg = config
        self._rng = rng
        self._log = RaftLog(storage)
        hard = storage.hard_state()
        snapshot = storage.snapshot_meta()
        if config.applied > self._log.last_index():
            raise ValueError(f"applied {config.applied} beyond last index {self._log.last_index()}")
        # Whatever the application applied was committed, even if the commit-only hard
        # state that said so was written lazily and lost in the crash (it needs no fsync).
        self._log.committed = max(self._log.committed, config.applied)
        self._log.applied = max(snapshot.index, config.applied)
        # The log position that defined the membership: older CONFIG entries never apply.
        self._membership_index, self._membership, was_member = self._replay_membership(snapshot)
        self._term = hard.term
        self._vote = hard.vote
        self._leader: int | None = None
        self._role = Role.FOLLOWER
        # Applied a membership without itself after one with it (a restart can tell only
        # while the log since the snapshot still shows it was a member).
        self._removed = was_member and self.node_id not in self._membership.members
        self._durable_term = hard.term
        self._prev_hard = hard
        self._prev_soft = SoftState(None, Role.FOLLOWER, hard.term)

        self._election_elapsed = 0
        self._heartbeat_elapsed = 0
        self._randomized_timeout = config.election_ticks_min
        self._ticks = 0
        self._votes: dict[int, bool] = {}
        self._repl: Replicator | None = None  # exists exactly while this node leads
        # Times a follower was found to have lost entries it acknowledged (its storage
        # dropped synced writes): re-replicated, but worth an operator's attention.
        self.follower_regressions = 0
        self._transferee: int | None = None
        self._transfer_elapsed = 0
        self._pending_conf_index = 0
        # This leader's log holds its own removal: it takes no more entries (see _leave).
        self._leaving = False
        self._leader_reads = self._new_leader_reads()
        self._forwarded = ForwardedReads()

        self._msgs: list[Message] = []
        self._msgs_after: list[Message] = []
        self._read_states: list[ReadState] = []
        self._failed_reads: list[FailedRead] = []
        self._transfer_results: list[TransferResult] = []
        self._delivered: list[SnapshotDelivered] = []
        self._pending_compact: SnapshotMeta | None = None
        self._outstanding: Ready | None = None
        self._reset_timers()

    def _replay_membership(self, snapshot: SnapshotMeta) -> tuple[int, Membership, bool]:
        """Membership as of `applied` (and the index defining it): the snapshot's, updated by
        CONFIG entries after it; and whether any of them included this node."""
        defined_at, membership = snapshot.index, snapshot.membership
        was_member = self.node_id in membership.members
        index = snapshot.index + 1
        while index <= self._log.applied:
            batch = self._log.slice(index, self._log.applied + 1, self._cfg.max_msg_bytes)
            for entry in batch:
                if entry.kind is EntryKind.CONFIG:
                    defined_at, membership = entry.index, decode_membership(entry.data)
                    was_member = was_member or self.node_id in membership.members
            index = batch[-1].index + 1
        return defined_at, membership, was_member

    # -- read-only view ------------------------------------------------------------------
    @property
    def node_id(self) -> int:
        return self._cfg.node_id

    @property
    def group(self) -> int:
        return self._cfg.group

    @property
    def term(self) -> int:
        return self._term

    @property
    def role(self) -> Role:
        return self._role

    @property
    def leader_id(self) -> int | None:
        return self._leader

    @property
    def commit(self) -> int:
        return self._log.committed

    @property
    def applied(self) -> int:
        return self._log.applied

    @property
    def last_index(self) -> int:
        return self._log.last_index()

    @property
    def membership(self) -> Membership:
        return self._membership

    @property
    def transferee(self) -> int | None:
        return self._transferee

    @property
    def removed(self) -> bool:
        """This node applied a membership without itself: it never campaigns again, but it
        still answers the group (a member that has not learned that the removal committed
        counts in the previous membership and may need its vote to elect a leader)."""
        return self._removed

    def progress(self, peer: int) -> Progress | None:
        """The leader's replication progress for `peer` (None when not leader / unknown)."""
        return self._repl.progress(peer) if self._repl is not None else None

    def log_term(self, index: int) -> int | None:
        return self._log.term(index)

    # -- inputs --------------------------------------------------------------------------
    def tick(self) -> None:
        self._ticks += 1
        for request_id in self._forwarded.expire(self._ticks):
            self._failed_reads.append(FailedRead(request_id, ReadFailure.TIMED_OUT))
        if self._repl is not None:
            self._tick_leader(self._repl)
        else:
            self._tick_election()

    def step(self, msg: Message) -> None:
        if isinstance(msg, (SnapshotChunk, SnapshotChunkAck)):
            raise TypeError("snapshot chunks are driver-level; step the received offer")
        if msg.group != self._cfg.group:
            raise ValueError(f"message for group {msg.group} stepped into group {self.group}")
        if msg.dst != self.node_id:
            raise ValueError(f"message for node {msg.dst} stepped into node {self.node_id}")
        if msg.term > self._term:
            if not self._accept_higher_term(msg):
                return
        elif msg.term < self._term:
            self._reply_to_stale(msg)
            return
        if isinstance(msg, (PreVote, Vote)):
            self._handle_vote_request(msg)
        elif self._repl is not None:
            self._step_leader(self._repl, msg)
        elif self._role is Role.FOLLOWER:
            self._step_follower(msg)
        else:
            self._step_candidate(msg)

    def propose(self, commands: Sequence[bytes]) -> list[int]:
        if not commands:
            raise ValueError("propose() needs at least one command")
        if not all(isinstance(command, bytes) for command in commands):
            raise TypeError("commands must be bytes")
        repl = self._check_leader()
        first = self._log.last_index() + 1
        entries = [
            Entry(self._term, first + i, EntryKind.NORMAL, command)
            for i, command in enumerate(commands)
        ]
        self._append_as_leader(repl, entries)
        return [entry.index for entry in entries]

    def change_membership(self, change: ConfigChange, *, force: bool = False) -> int:
        """Append a CONFIG entry for `change`; its index. Refused (ConfigChangeRejected,
        nothing appended) while another change is unapplied, before this leader committed
        in its term, for a learner not caught up, and -- unless `force` -- when the new
        voters would not include a quorum that answered within an election timeout."""
        repl = self._check_leader()
        if self._pending_conf_index > self._log.applied:
            raise ConfigChangeRejected("another membership change is still pending")
        if not self._committed_in_term():
            raise ConfigChangeRejected("the leader has not committed an entry in its term yet")
        new = apply_change(self._membership, change)
        if change.kind is ChangeKind.PROMOTE and not self._promotable_learner(change.node_id):
            raise ConfigChangeRejected(f"learner {change.node_id} is not caught up")
        if new.voters != self._membership.voters and not force:
            live = sorted(
                v for v in new.voters if repl.live(v, self._ticks, self._cfg.election_ticks_min)
            )
            if len(live) < new.quorum():
                raise ConfigChangeRejected(
                    f"the voters would be {sorted(new.voters)} with only {live} live, fewer "
                    f"than a quorum of {new.quorum()}: the group could not commit"
                )
        index = self._log.last_index() + 1
        entry = Entry(self._term, index, EntryKind.CONFIG, encode_membership(new))
        self._append_as_leader(repl, [entry])
        self._pending_conf_index = index
        self._leaving = self.node_id not in new.members
        return index

    def member_progress(self) -> tuple[MemberProgress, ...]:
        """Every member's replication status, by id; empty unless this node leads."""
        repl = self._repl
        if repl is None:
            return ()
        out = []
        for node in sorted(self._membership.members | {self.node_id}):
            pr = repl.progress(node)
            if pr is None:
                continue
            heard = self._ticks if node == self.node_id else pr.last_heard
            out.append(
                MemberProgress(
                    node_id=node,
                    voter=node in self._membership.voters,
                    match=pr.match,
                    next=pr.next,
                    state=pr.state,
                    lag=max(0, self._log.committed - pr.match),
                    heard_ticks_ago=None if heard is None else self._ticks - heard,
                    snapshot_index=pr.pending_snapshot,
                    promotable=self._promotable_learner(node),
                )
            )
        return tuple(out)

    def read_index(self, request_id: int) -> None:
        if self._role is Role.LEADER:
            lease_index = self._lease_read_index()
            if self._transferee is not None:
                self._failed_reads.append(FailedRead(request_id, ReadFailure.TRANSFERRING))
            elif lease_index is not None:
                self._read_states.append(ReadState(request_id, lease_index))
            else:
                self._leader_reads.add(PendingRead(request_id, self.node_id))
        elif self._leader is not None and not self._removed:
            self._forwarded.add(request_id, self._ticks + self._cfg.election_ticks_min)
        else:
            self._failed_reads.append(FailedRead(request_id, ReadFailure.NO_LEADER))

    def commit_unpublished(self) -> bool:
        """Leader: does a follower not yet know a commit index it could learn? A commit move
        is not broadcast on its own (docs/raft.md, "Commit publication"): the driver calls
        `publish_commit` after a short delay unless an Append or heartbeat carried it."""
        return self._repl is not None and self._repl.commit_unpublished()

    def publish_commit(self) -> None:
        """Send every follower that is owed the commit index an Append carrying it."""
        if self._repl is not None:
            self._repl.publish_commit()

    def void_lease(self) -> None:
        """The driver's ticks stopped keeping time (a tick, or a read, came more than
        `lease_tick_gap` tick periods after the previous tick: the process was paused or
        its event loop stalled). Counted in ticks, the lease would outlive real time, so it
        ends here; a heartbeat round sent from now on and acknowledged by a quorum gives a
        new one. Harmless without lease reads or leadership."""
        self._leader_reads.void_lease()

    def transfer_leadership(self, to: int) -> None:
        repl = self._repl
        if repl is None:
            raise NotLeader(self._leader)
        if to == self.node_id or to not in self._membership.voters:
            raise ValueError(f"cannot transfer leadership to {to}: not another voter")
        if self._transferee == to:
            return
        if self._transferee is not None:
            self._transfer_results.append(TransferResult(self._transferee, succeeded=False))
        self._transferee = to
        self._transfer_elapsed = 0
        if repl.caught_up(to):
            self._send_timeout_now(to)
        else:
            repl.send_append(to)

    def report_snapshot(self, peer: int, success: bool) -> None:
        """The leader's driver finished (or failed) streaming the snapshot to `peer`."""
        if self._repl is not None:
            self._repl.report_snapshot(peer, success)

    def report_unreachable(self, peer: int) -> None:
        """The transport gave up on `peer`: stop pipelining to it blindly."""
        if self._repl is not None:
            self._repl.report_unreachable(peer)

    def applied_snapshot_meta(self) -> SnapshotMeta | None:
        """Meta for an application snapshot taken at `applied`; None while a snapshot
        received from the leader awaits installation (the state is about to be replaced)."""
        index = self._log.applied
        term = self._log.term(index)
        if term is None:
            return None
        return SnapshotMeta(index, term, self._membership)

    def compact(self, meta: SnapshotMeta) -> None:
        """The application durably holds a snapshot for `meta`; let storage drop the log."""
        current = self._pending_compact or self._log.snapshot_meta()
        if meta.index > self._log.applied:
            raise ValueError(f"cannot compact to {meta.index}: applied is {self._log.applied}")
        if meta.index <= current.index:
            raise ValueError(f"cannot compact to {meta.index}: already at {current.index}")
        if self._log.term(meta.index) != meta.term:
            raise ValueError(f"snapshot term {meta.term} does not match the log at {meta.index}")
        self._pending_compact = meta

    # -- Ready / advance -----------------------------------------------------------------
    def has_ready(self) -> bool:
        """Is there work for the driver? Always False while a Ready awaits advance()."""
        if self._outstanding is not None:
            return False
        return bool(self._msgs) or self._more_than_messages()

    @property
    def ready_outstanding(self) -> bool:
        """A Ready was handed out and awaits `advance()`. After `take_messages` gave None,
        `has_ready()` is this negated (a Ready holds more than messages), asked for free."""
        return self._outstanding is not None

    def take_messages(self) -> tuple[Message, ...] | None:
        """The messages to send when they are all that a Ready would hold now (a follower's
        answer to a heartbeat, an idle leader's heartbeats, a leader's read round, a
        follower's forwarded reads), handed out as `ready()` and `advance()` of that Ready
        would; None when a Ready holds more, or one awaits `advance()`: use `ready()`. Asked
        for every message a follower of a read round answers and every read round a leader
        starts: no Ready, soft or hard state is built for them."""
        if self._outstanding is not None:
            return None
        self._flush_reads()  # as `ready()` does first
        if self._more_than_messages():
            return None
        msgs, self._msgs = tuple(self._msgs), []
        return msgs

    def _more_than_messages(self) -> bool:
        """Whether a Ready would hold anything besides `messages`."""
        # Asked after every tick and message of every group: field comparisons instead of
        # building the soft and hard states, the cheap tests first.
        soft, hard, log = self._prev_soft, self._prev_hard, self._log
        return bool(
            self._msgs_after
            or self._term != hard.term
            or self._vote != hard.vote
            or log.committed != hard.commit
            or self._leader != soft.leader_id
            or self._role is not soft.role
            or self._term != soft.term
            or self._read_states
            or self._failed_reads
            or self._transfer_results
            or self._delivered
            or self._pending_compact is not None
            or log.unstable_entries()
            or log.unstable_snapshot() is not None
            or log.has_committed_to_apply()
            or self._reads_to_flush()
        )

    def ready(self) -> Ready:
        if self._outstanding is not None:
            raise RuntimeError("advance() the previous Ready before asking for another")
        self._flush_reads()
        # Field comparisons, as in `_more_than_messages`: a state is built only when it moved.
        prev_soft, prev_hard, log = self._prev_soft, self._prev_hard, self._log
        soft = (
            self._soft_state()
            if self._leader != prev_soft.leader_id
            or self._role is not prev_soft.role
            or self._term != prev_soft.term
            else None
        )
        vote_moved = self._term != prev_hard.term or self._vote != prev_hard.vote
        hard = self._hard_state() if vote_moved or log.committed != prev_hard.commit else None
        entries = log.unstable_entries()
        snapshot = log.unstable_snapshot()
        ready = Ready(
            soft_state=soft,
            hard_state=hard,
            snapshot=snapshot,
            entries=entries,
            compact=self._pending_compact,
            messages=tuple(self._msgs),
            persisted_messages=tuple(self._msgs_after),
            committed_entries=tuple(
                self._log.committed_to_apply(self._cfg.max_committed_bytes_per_ready)
            ),
            read_states=tuple(self._read_states),
            failed_reads=tuple(self._failed_reads),
            transfer_results=tuple(self._transfer_results),
            snapshots_delivered=tuple(self._delivered),
            must_sync=bool(entries) or snapshot is not None or vote_moved,
        )
        if soft is not None:
            self._prev_soft = soft
        if hard is not None:
            self._prev_hard = hard
        self._msgs, self._msgs_after = [], []
        self._read_states, self._failed_reads, self._transfer_results = [], [], []
        self._delivered = []
        self._pending_compact = None
        self._outstanding = ready
        return ready

    def advance(self, ready: Ready) -> None:
        if ready is not self._outstanding:
            raise RuntimeError("advance() takes the Ready last returned by ready()")
        self._outstanding = None
        if ready.hard_state is not None:
            self._durable_term = ready.hard_state.term
        if ready.snapshot is not None:
            self._log.stable_snap_to(ready.snapshot.index)
            self._log.applied = max(self._log.applied, ready.snapshot.index)
        # The written entries still in the log are durable. A conflicting Append stepped
        # while they were being written may have replaced their tail: the prefix before it
        # is durable all the same (marking nothing would hand it out again, even below a
        # compaction the application made meanwhile).
        written = next(
            (e for e in reversed(ready.entries) if self._log.match_term(e.index, e.term)), None
        )
        if written is not None:
            self._log.stable_to(written.index, written.term)
            if self._repl is not None:
                self._on_ack(self._repl, self.node_id, written.index)
        if ready.committed_entries:
            self._log.applied_to(ready.committed_entries[-1].index)
            for entry in ready.committed_entries:
                if entry.kind is EntryKind.CONFIG:
                    self._apply_membership(entry.index, decode_membership(entry.data))

    def _soft_state(self) -> SoftState:
        return SoftState(self._leader, self._role, self._term)

    def _hard_state(self) -> HardState:
        return HardState(self._term, self._vote, self._log.committed)

    # -- messaging -----------------------------------------------------------------------
    def _send(self, msg: Message) -> None:
        if isinstance(msg, _PRE_VOTE):
            self._msgs.append(msg)
        elif isinstance(msg, _AFTER_PERSIST) or msg.term > self._durable_term:
            self._msgs_after.append(msg)
        else:
            self._msgs.append(msg)

    def _reply_to_stale(self, msg: Message) -> None:
        """A message from an older term: tell a stale leader or pre-candidate about ours."""
        if isinstance(msg, _FROM_LEADER):
            # Without this a leader partitioned away and back (check-quorum/pre-vote keep
            # us from bumping terms on its behalf) would never learn it was deposed.
            self._send(
                AppendResp(
                    group=self.group,
                    src=self.node_id,
                    dst=msg.src,
                    term=self._term,
                    success=False,
                    index=0,
                )
            )
        elif isinstance(msg, PreVote):
            self._send(
                PreVoteResp(
                    group=self.group,
                    src=self.node_id,
                    dst=msg.src,
                    term=self._term,
                    granted=False,
                )
            )

    def _accept_higher_term(self, msg: Message) -> bool:
        """Handle term > ours; False if the message must be ignored."""
        if isinstance(msg, (PreVote, Vote)):
            forced = isinstance(msg, Vote) and msg.forced
            if not forced and self._in_lease():
                return False
        if isinstance(msg, PreVote) or (isinstance(msg, PreVoteResp) and msg.granted):
            # Pre-vote terms are hypothetical: nobody adopts them.
            return True
        leader = msg.src if isinstance(msg, _FROM_LEADER) else None
        self._become_follower(msg.term, leader)
        return True

    def _in_lease(self) -> bool:
        """Leader stickiness: ignore (pre-)votes while a leader may still count on us."""
        if not self._cfg.check_quorum:
            return False
        if self._leader is not None and self._election_elapsed < self._cfg.election_ticks_min:
            return True
        # A restarted node forgot whom it heard from; with leader leases it must assume it
        # acknowledged one just before the crash and wait out one election timeout.
        return self._cfg.lease_reads and self._ticks < self._cfg.election_ticks_min

    # -- elections -----------------------------------------------------------------------
    def _promotable(self) -> bool:
        return not self._removed and self.node_id in self._membership.voters

    def _tick_election(self) -> None:
        self._election_elapsed += 1
        if self._promotable() and self._election_elapsed >= self._randomized_timeout:
            self._election_elapsed = 0
            self._campaign(pre=self._cfg.pre_vote, forced=False)

    def _unapplied_membership(self) -> bool:
        """Whether a committed CONFIG entry, or a snapshot (which carries a membership), is
        not applied yet. Asked only when about to campaign (rare), so the entries are looked
        up rather than tracked on every append."""
        if self._log.applied + 1 < self._log.first_index():
            return True  # a snapshot beyond the applied index awaits its apply
        return any(self._config_entries(self._log.applied + 1, self._log.committed + 1))

    def _holds_own_configuration(self) -> bool:
        """Does this node hold a configuration that includes it (applied, or in its log)?

        One that does not -- a new node the entry adding it has not reached yet, or one
        restarted on a blank disk -- may hold nothing the group committed, and its vote could
        help elect a leader that lacks committed entries: it never votes. (A removed node
        was a member and votes on.) Asked only on a vote request, and the log is scanned
        only while the applied membership lacks us."""
        if self.node_id in self._membership.members:
            return True
        return any(
            self.node_id in decode_membership(entry.data).members
            for entry in self._config_entries(self._log.applied + 1, self._log.last_index() + 1)
        )

    def _config_entries(self, lo: int, hi: int) -> Iterator[Entry]:
        """The CONFIG entries in [lo, hi) of the log (from its first index, if lo is below)."""
        index = max(lo, self._log.first_index())
        while index < hi:
            batch = self._log.slice(index, hi, self._cfg.max_msg_bytes)
            yield from (entry for entry in batch if entry.kind is EntryKind.CONFIG)
            index = batch[-1].index + 1

    def _campaign(self, *, pre: bool, forced: bool) -> None:
        # Membership takes effect at apply: with a committed change still unapplied, this
        # node could campaign in a membership two changes old, whose majorities need not
        # overlap the current one's (two leaders, two values at one index). etcd's hup()
        # refuses for the same reasons; the timer retries once the apply has caught up.
        if self._unapplied_membership():
            return
        if pre:
            self._reset(self._term)
            self._role = Role.PRE_CANDIDATE
            campaign_term = self._term + 1
        else:
            self._reset(self._term + 1)
            self._role = Role.CANDIDATE
            self._vote = self.node_id
            campaign_term = self._term
        self._votes = {self.node_id: True}
        if self._tally() is not VoteResult.PENDING:
            return
        last_index, last_term = self._log.last_index(), self._log.last_term()
        for voter in sorted(self._membership.voters - {self.node_id}):
            request: Message
            if pre:
                request = PreVote(
                    group=self.group,
                    src=self.node_id,
                    dst=voter,
                    term=campaign_term,
                    last_log_index=last_index,
                    last_log_term=last_term,
                )
            else:
                request = Vote(
                    group=self.group,
                    src=self.node_id,
                    dst=voter,
                    term=campaign_term,
                    last_log_index=last_index,
                    last_log_term=last_term,
                    forced=forced,
                )
            self._send(request)

    def _tally(self) -> VoteResult:
        """Act on the votes gathered so far: win, lose, or keep waiting."""
        result = vote_result(self._membership.voters, self._votes)
        if result is VoteResult.WON:
            if self._role is Role.PRE_CANDIDATE:
                self._campaign(pre=False, forced=False)
            else:
                self._become_leader()
        elif result is VoteResult.LOST:
            self._become_follower(self._term, None)
        return result

    def _handle_vote_request(self, msg: PreVote | Vote) -> None:
        pre = isinstance(msg, PreVote)
        can_vote = (
            self._vote == msg.src
            or (self._vote == 0 and self._leader is None)
            or (pre and msg.term > self._term)
        )
        granted = (
            can_vote
            and self._log.is_up_to_date(msg.last_log_index, msg.last_log_term)
            and (self._removed or self._holds_own_configuration())
        )
        if granted and not pre:
            self._election_elapsed = 0
            self._vote = msg.src
        term = msg.term if granted else self._term
        response: Message
        if pre:
            response = PreVoteResp(
                group=self.group, src=self.node_id, dst=msg.src, term=term, granted=granted
            )
        else:
            response = VoteResp(
                group=self.group, src=self.node_id, dst=msg.src, term=term, granted=granted
            )
        self._send(response)

    # -- role transitions ----------------------------------------------------------------
    def _reset_timers(self) -> None:
        self._election_elapsed = 0
        self._heartbeat_elapsed = 0
        self._randomized_timeout = self._rng.randint(
            self._cfg.election_ticks_min, self._cfg.election_ticks_max
        )

    def _reset(self, term: int) -> None:
        """Leave the current role (whatever it is) at `term`; pending work fails over."""
        if term != self._term:
            self._term = term
            self._vote = 0
        if self._role is Role.LEADER:
            if self._transferee is not None:
                self._transfer_results.append(TransferResult(self._transferee, succeeded=True))
            for read in self._leader_reads.drain():
                if read.origin == self.node_id:
                    self._failed_reads.append(
                        FailedRead(read.request_id, ReadFailure.LEADERSHIP_LOST)
                    )
        self._set_leader(None)
        self._transferee = None
        self._leaving = False
        self._repl = None
        self._votes = {}
        self._leader_reads = self._new_leader_reads()
        self._reset_timers()

    def _set_leader(self, leader: int | None) -> None:
        if leader != self._leader:
            for request_id in self._forwarded.drain():
                self._failed_reads.append(FailedRead(request_id, ReadFailure.LEADERSHIP_LOST))
            self._leader = leader

    def _become_follower(self, term: int, leader: int | None) -> None:
        self._reset(term)
        self._role = Role.FOLLOWER
        self._set_leader(leader)

    def _become_leader(self) -> None:
        self._reset(self._term)
        self._role = Role.LEADER
        self._leader = self.node_id
        repl = Replicator(
            config=self._cfg,
            log=self._log,
            term=self._term,
            membership=self._membership,
            send=self._send,
            delivered=self._snapshot_delivered,
            regressed=self._follower_regressed,
            self_durable=self._stable_last_index(),
        )
        self._repl = repl
        last = self._log.last_index()
        # Entries of earlier terms may hide an unapplied config change; be conservative.
        self._pending_conf_index = last
        self._leaving = any(
            self.node_id not in decode_membership(entry.data).members
            for entry in self._config_entries(self._log.applied + 1, last + 1)
        )
        self._append_as_leader(repl, [Entry(self._term, last + 1, EntryKind.NOOP)])

    def _follower_regressed(self, peer: int) -> None:
        self.follower_regressions += 1

    def _snapshot_delivered(self, delivered: SnapshotDelivered) -> None:
        self._delivered.append(delivered)

    def _stable_last_index(self) -> int:
        unstable = self._log.unstable_entries()
        return unstable[0].index - 1 if unstable else self._log.last_index()

    # -- follower and candidate ----------------------------------------------------------
    def _step_follower(self, msg: Message) -> None:
        if isinstance(msg, _FROM_LEADER):
            self._election_elapsed = 0
            self._set_leader(msg.src)
            self._handle_from_leader(msg)
        elif isinstance(msg, TimeoutNow):
            if self._promotable():
                self._campaign(pre=False, forced=True)
        elif isinstance(msg, ReadIndexResp):
            for request_id in msg.request_ids:
                if not self._forwarded.resolve(request_id):
                    continue
                if msg.ok:
                    self._read_states.append(ReadState(request_id, msg.index))
                else:
                    self._failed_reads.append(FailedRead(request_id, ReadFailure.NOT_LEADER))
        elif isinstance(msg, ReadIndexReq):
            self._reject_read_request(msg)

    def _step_candidate(self, msg: Message) -> None:
        if isinstance(msg, _FROM_LEADER):
            self._become_follower(self._term, msg.src)
            self._handle_from_leader(msg)
        elif (isinstance(msg, PreVoteResp) and self._role is Role.PRE_CANDIDATE) or (
            isinstance(msg, VoteResp) and self._role is Role.CANDIDATE
        ):
            self._record_vote(msg.src, msg.granted)
        elif isinstance(msg, ReadIndexReq):
            self._reject_read_request(msg)

    def _record_vote(self, voter: int, granted: bool) -> None:
        self._votes.setdefault(voter, granted)
        self._tally()

    def _handle_from_leader(self, msg: Append | Heartbeat | Snapshot) -> None:
        if isinstance(msg, Append):
            self._handle_append(msg)
        elif isinstance(msg, Heartbeat):
            self._log.commit_to(min(msg.commit, self._log.last_index()))
            self._send(
                HeartbeatResp(
                    group=self.group,
                    src=self.node_id,
                    dst=msg.src,
                    term=self._term,
                    context=msg.context,
                )
            )
        else:
            self._handle_snapshot(msg)

    def _ack(self, leader: int, index: int) -> None:
        self._send(
            AppendResp(
                group=self.group,
                src=self.node_id,
                dst=leader,
                term=self._term,
                success=True,
                index=index,
            )
        )

    def _handle_append(self, msg: Append) -> None:
        if msg.prev_index < self._log.committed:
            self._ack(msg.src, self._log.committed)
            return
        last = self._log.maybe_append(msg.prev_index, msg.prev_term, msg.commit, msg.entries)
        if last is not None:
            self._ack(msg.src, last)
            return
        hint_index, hint_term = self._log.find_conflict_by_term(
            min(msg.prev_index, self._log.last_index()), msg.prev_term
        )
        self._send(
            AppendResp(
                group=self.group,
                src=self.node_id,
                dst=msg.src,
                term=self._term,
                success=False,
                index=msg.prev_index,
                hint_index=hint_index,
                hint_term=hint_term,
            )
        )

    def _handle_snapshot(self, msg: Snapshot) -> None:
        meta = msg.meta
        if meta.index <= self._log.committed:
            self._ack(msg.src, self._log.committed)
        elif self._log.match_term(meta.index, meta.term):
            # We already hold the snapshot's last entry: fast-forward, nothing to install.
            # Ack only up to it: entries after it may conflict with the leader's log.
            self._log.commit_to(meta.index)
            self._ack(msg.src, meta.index)
        else:
            self._log.restore(meta)
            self._adopt_membership(meta.index, meta.membership)
            self._ack(msg.src, meta.index)

    def _reject_read_request(self, msg: ReadIndexReq) -> None:
        self._send(
            ReadIndexResp(
                group=self.group,
                src=self.node_id,
                dst=msg.src,
                term=self._term,
                request_ids=msg.request_ids,
                index=0,
                ok=False,
            )
        )

    # -- leader --------------------------------------------------------------------------
    def _check_leader(self) -> Replicator:
        """The replicator, if this node may take new log entries; raise otherwise."""
        if self._repl is None:
            raise NotLeader(self._leader)
        if self._transferee is not None:
            raise LeadershipTransferInProgress(self._transferee)
        if self._leaving:
            # Once removed, this node never campaigns, and a member that has not learned
            # the removal committed may need its vote; a log longer than the committed
            # removal (and the NOOP committing it) would make it refuse every candidate.
            raise LeavingGroup()
        return self._repl

    def _promotable_learner(self, node: int) -> bool:
        """Is learner `node` caught up enough to become a voter?

        Under constant load a streaming learner is always a little behind commit, so
        "caught up" means replicating, within `max_promote_lag` entries of commit, and
        holding the configuration in force (which includes it): a promoted voter that
        holds none would refuse to vote and could block elections."""
        pr = self._repl.progress(node) if self._repl is not None else None
        return (
            node in self._membership.learners
            and pr is not None
            and pr.state is ProgressState.REPLICATE
            and pr.match >= self._membership_index
            and self._log.committed - pr.match <= self._cfg.max_promote_lag
        )

    def _committed_in_term(self) -> bool:
        return self._log.term(self._log.committed) == self._term

    def _tick_leader(self, repl: Replicator) -> None:
        self._heartbeat_elapsed += 1
        self._election_elapsed += 1
        if self._election_elapsed >= self._cfg.election_ticks_min:
            self._election_elapsed = 0
            if self._cfg.check_quorum and not repl.quorum_active():
                self._become_follower(self._term, None)
                return
        if self._transferee is not None:
            self._transfer_elapsed += 1
            if self._transfer_elapsed >= self._cfg.election_ticks_min:
                self._abort_transfer()
        if self._heartbeat_elapsed >= self._cfg.heartbeat_ticks:
            self._heartbeat_elapsed = 0
            self._heartbeat_round(repl)

    def _abort_transfer(self) -> None:
        if self._transferee is not None:
            self._transfer_results.append(TransferResult(self._transferee, succeeded=False))
            self._transferee = None

    def _append_as_leader(self, repl: Replicator, entries: list[Entry]) -> None:
        self._log.append(entries)
        repl.broadcast_append()

    def _send_timeout_now(self, peer: int) -> None:
        # The target may campaign with forced votes (bypassing stickiness) whenever this
        # arrives, even after the transfer was given up and we still lead. A transfer ends
        # within an election timeout of this send; allow one more for the message and the
        # forced election before rounds may give a lease again.
        self._leader_reads.drop_lease(self._ticks + 2 * self._cfg.election_ticks_min)
        self._send(TimeoutNow(group=self.group, src=self.node_id, dst=peer, term=self._term))

    def _on_ack(self, repl: Replicator, peer: int, index: int) -> None:
        commit = self._log.committed
        fresh = repl.on_ack(peer, index)
        if commit < self._pending_conf_index <= self._log.committed:
            # A member with a committed membership change unapplied does not campaign, and
            # this change may soon need one to (the leader's own removal, a transfer): the
            # followers learn its commit at once, not after the driver's delay.
            repl.publish_commit()
        # Only a fresh ack may trigger TimeoutNow: a second one would start a second election.
        if fresh and peer == self._transferee and repl.caught_up(peer):
            self._send_timeout_now(peer)

    def _step_leader(self, repl: Replicator, msg: Message) -> None:
        if isinstance(msg, ReadIndexReq):
            lease_index = self._lease_read_index()
            # A non-member (removed without hearing of it) applies nothing any more: its
            # read would wait forever for an index it never reaches.
            if self._transferee is not None or msg.src not in self._membership.members:
                self._reject_read_request(msg)
            elif lease_index is not None:
                self._send_read_index_resp(msg.src, msg.request_ids, lease_index)
            elif self._request_confirms_leadership(msg.src):
                self._send_read_index_resp(msg.src, msg.request_ids, self._log.committed)
            else:
                for request_id in msg.request_ids:
                    self._leader_reads.add(PendingRead(request_id, msg.src))
        elif isinstance(msg, AppendResp):
            repl.heard_from(msg.src, self._ticks)
            if msg.success:
                self._on_ack(repl, msg.src, msg.index)
            else:
                repl.on_reject(msg)
        elif isinstance(msg, HeartbeatResp):
            repl.heard_from(msg.src, self._ticks)
            repl.on_heartbeat_resp(msg.src)
            if msg.src in self._membership.voters:
                self._leader_reads.ack(msg.src, msg.context)
                self._release_reads()

    # -- reads ---------------------------------------------------------------------------
    def _reads_to_flush(self) -> bool:
        if self._role is Role.LEADER:
            return bool(self._leader_reads.waiting) and self._committed_in_term()
        return bool(self._forwarded.unsent) and self._leader is not None

    def _flush_reads(self) -> None:
        if not self._reads_to_flush():
            return
        if self._role is Role.LEADER:
            assert self._repl is not None
            self._read_round(self._repl)
        else:
            assert self._leader is not None
            self._send(
                ReadIndexReq(
                    group=self.group,
                    src=self.node_id,
                    dst=self._leader,
                    term=self._term,
                    request_ids=self._forwarded.take_unsent(),
                )
            )

    def _new_leader_reads(self) -> LeaderReads:
        # Shorter than the election timeout by the margins for late ticks and clock drift.
        lease = self._cfg.lease_ticks if self._cfg.lease_reads else 0
        return LeaderReads(self.node_id, lease_ticks=lease)

    def _heartbeat_round(self, repl: Replicator) -> None:
        """Broadcast heartbeats as a new read round (waiting reads join it if they may)."""
        commit = self._log.committed if self._committed_in_term() else None
        repl.broadcast_heartbeat(self._leader_reads.start_round(self._ticks, commit))
        self._release_reads()

    def _read_round(self, repl: Replicator) -> None:
        """A round for the waiting reads (its no-op committed), sent only to the voters a
        quorum needs (docs/raft.md, "ReadIndex"): the tick's rounds still reach every peer."""
        round_id = self._leader_reads.start_round(self._ticks, self._log.committed)
        for peer in self._leader_reads.round_targets(self._membership.voters, repl.peers()):
            repl.send_heartbeat(peer, round_id)
        self._release_reads()

    def _request_confirms_leadership(self, follower: int) -> bool:
        """Whether a `ReadIndexReq` of this term from voter `follower` is, together with
        this leader, a quorum's confirmation after its reads began (docs/raft.md, "A
        follower's request as confirmation"): then its reads need no heartbeat round."""
        voters = self._membership.voters
        return (
            follower in voters
            and self.node_id in voters
            and self._committed_in_term()
            and quorum_value(voters, {self.node_id: 1, follower: 1}) == 1
        )

    def _lease_read_index(self) -> int | None:
        """The read index a lease allows right now, or None (use a heartbeat round)."""
        if (
            self._cfg.lease_reads
            and self._committed_in_term()
            and self._leader_reads.lease_valid(self._membership.voters, self._ticks)
        ):
            return self._log.committed
        return None

    def _release_reads(self) -> None:
        by_follower: dict[tuple[int, int], list[int]] = {}
        for done in self._leader_reads.release(self._membership.voters):
            if done.read.origin == self.node_id:
                self._read_states.append(ReadState(done.read.request_id, done.index))
            else:
                by_follower.setdefault((done.read.origin, done.index), []).append(
                    done.read.request_id
                )
        for (follower, index), request_ids in by_follower.items():
            self._send_read_index_resp(follower, tuple(request_ids), index)

    def _send_read_index_resp(
        self, follower: int, request_ids: tuple[int, ...], index: int
    ) -> None:
        if self._repl is not None:
            # The follower serves these reads once it applied `index`: tell it the commit
            # now rather than at the next Append or heartbeat.
            self._repl.publish_commit(follower)
        self._send(
            ReadIndexResp(
                group=self.group,
                src=self.node_id,
                dst=follower,
                term=self._term,
                request_ids=request_ids,
                index=index,
                ok=True,
            )
        )

    # -- membership ----------------------------------------------------------------------
    def _apply_membership(self, index: int, new: Membership) -> None:
        if index <= self._membership_index:
            # A snapshot restored since this entry was handed out already carries a newer
            # membership; going back to this one would be wrong.
            return
        self._adopt_membership(index, new)
        repl = self._repl
        if repl is None:
            return
        repl.set_membership(new)
        if self._transferee is not None and self._transferee not in new.voters:
            self._abort_transfer()
        if self.node_id not in new.voters:
            self._hand_over_after_removal(repl)
            return
        # The quorum may have shrunk (commit can move) and new peers need their first probe.
        repl.maybe_commit()
        repl.broadcast_append()

    def _adopt_membership(self, index: int, new: Membership) -> None:
        """`new` (defined at `index`) is now in force; a member it leaves out is removed
        (until a later membership includes it again: same node, same log, nothing unsafe)."""
        was_member = self.node_id in self._membership.members
        self._membership_index, self._membership = index, new
        self._removed = self.node_id not in new.members and (was_member or self._removed)

    def _hand_over_after_removal(self, repl: Replicator) -> None:
        """This leader applied its own removal: publish the commit, nudge a caught-up voter
        to campaign at once, and step down."""
        self._heartbeat_round(repl)
        caught_up = [
            peer
            for peer in repl.peers()
            if peer in self._membership.voters and repl.caught_up(peer)
        ]
        if caught_up:
            self._send_timeout_now(caught_up[0])
        self._become_follower(self._term, None)
