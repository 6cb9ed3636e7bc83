"""Replicator: the leader's side of log replication, alive for one leadership term.

It owns one `Progress` per member (the leader's own entry tracks what the leader has made
durable), decides what each follower needs next (entries, a heartbeat, a snapshot offer),
reacts to their answers, and advances the commit index.

Rules this module lives by:
- Appends carry at most `max_msg_bytes` of entries (never fewer than one), and at most
  `max_inflight_msgs` of them are unacknowledged per pipelining follower.
- A follower whose next entry was compacted away gets a snapshot offer instead, and only
  if it answered recently (streaming to a dead peer is wasted work).
- Commit counts a majority of *voters* (learners replicate but never count), and only an
  entry of the leader's own term is committed by counting (Raft paper figure 8).
- A heartbeat never tells a follower a commit index beyond what it is known to hold.
- A commit move is not broadcast on its own: the next Append or heartbeat carries it, or
  `publish_commit` when the driver's short delay passes first (docs/raft.md, "Commit
  publication").
"""

from __future__ import annotations

from collections.abc import Callable

from seshat_trio.raft.config import RaftConfig
from seshat_trio.raft.errors import CompactedError
from seshat_trio.raft.log import RaftLog
from seshat_trio.raft.membership import Membership
from seshat_trio.raft.messages import Append, AppendResp, Heartbeat, Message, Snapshot
from seshat_trio.raft.model import SnapshotDelivered
from seshat_trio.raft.progress import RECENT_ACK_BEATS, Inflights, Progress, ProgressState
from seshat_trio.raft.quorum import majority, quorum_value


class Replicator:
    def __init__(
        self,
        *,
        config: RaftConfig,
        log: RaftLog,
        term: int,
        membership: Membership,
        send: Callable[[Message], None],
        delivered: Callable[[SnapshotDelivered], None],
        regressed: Callable[[int], None],
        self_durable: int,
    ) -> None:
        self._cfg = config
        self._log = log
        self._term = term
        self._send = send
        self._delivered = delivered
        self._regressed = regressed
        self._voters = membership.voters
        self._progress: dict[int, Progress] = {}
        self.set_membership(membership)
        self._progress[config.node_id].match = self_durable

    def _new_progress(self) -> Progress:
        return Progress(
            next=self._log.last_index() + 1, inflights=Inflights(self._cfg.max_inflight_msgs)
        )

    # -- membership ----------------------------------------------------------------------
    def progress(self, peer: int) -> Progress | None:
        return self._progress.get(peer)

    def peers(self) -> list[int]:
        """Every member but the leader, in id order (deterministic message order)."""
        return sorted(peer for peer in self._progress if peer != self._cfg.node_id)

    def set_membership(self, membership: Membership) -> None:
        """Track the members of `membership` (plus the leader itself)."""
        self._voters = membership.voters
        for peer in sorted(membership.members - self._progress.keys()):
            self._progress[peer] = self._new_progress()
        self._progress.setdefault(self._cfg.node_id, self._new_progress())
        for peer in sorted(self._progress.keys() - membership.members - {self._cfg.node_id}):
            # A last heartbeat lets the removed peer learn that its removal committed, so
            # it stops instead of campaigning against the new configuration.
            self.send_heartbeat(peer, context=0)
            del self._progress[peer]

    # -- sending -------------------------------------------------------------------------
    def broadcast_append(self) -> None:
        for peer in self.peers():
            self.send_append(peer)

    def broadcast_heartbeat(self, context: int) -> None:
        for peer in self.peers():
            self.send_heartbeat(peer, context)

    def send_heartbeat(self, peer: int, context: int) -> None:
        pr = self._progress[peer]
        commit = min(pr.match, self._log.committed)
        self._send(
            Heartbeat(
                group=self._cfg.group,
                src=self._cfg.node_id,
                dst=peer,
                term=self._term,
                commit=commit,
                context=context,
            )
        )
        pr.commit_sent = max(pr.commit_sent, commit)
        pr.beats_since_ack += 1

    def send_append(self, peer: int, *, send_if_empty: bool = True) -> bool:
        """Send `peer` what it needs next (entries or a snapshot); False if nothing was sent."""
        pr = self._progress[peer]
        if pr.is_paused():
            return False
        if not send_if_empty and pr.next == self._log.last_index() + 1:
            # Nothing to send (asked after most acks): skip the term lookup and the slice.
            return False
        prev_term = self._log.term(pr.next - 1)
        try:
            entries = self._log.slice(pr.next, self._log.last_index() + 1, self._cfg.max_msg_bytes)
        except CompactedError:
            prev_term = None
        if prev_term is None:
            return self._send_snapshot(peer, pr)
        if not entries and not send_if_empty:
            return False
        self._send(
            Append(
                group=self._cfg.group,
                src=self._cfg.node_id,
                dst=peer,
                term=self._term,
                prev_index=pr.next - 1,
                prev_term=prev_term,
                entries=tuple(entries),
                commit=self._log.committed,
            )
        )
        last = entries[-1].index if entries else pr.next - 1
        pr.commit_sent = max(pr.commit_sent, min(self._log.committed, last))
        pr.sent_entries(last, len(entries))
        return True

    def _send_snapshot(self, peer: int, pr: Progress) -> bool:
        if not pr.recent_active:
            return False
        meta = self._log.snapshot_meta()
        self._send(
            Snapshot(
                group=self._cfg.group, src=self._cfg.node_id, dst=peer, term=self._term, meta=meta
            )
        )
        pr.become_snapshot(meta.index)
        return True

    # -- answers -------------------------------------------------------------------------
    def on_ack(self, peer: int, index: int) -> bool:
        """`peer` (possibly the leader itself) durably holds the log up to `index`.

        False if that told nothing new (a duplicate or stale ack)."""
        pr = self._progress.get(peer)
        if pr is None:
            return False
        was_paused = pr.is_paused()
        if not pr.maybe_update(index):
            return False
        is_self = peer == self._cfg.node_id
        if not is_self:
            if pr.state is ProgressState.PROBE:
                pr.become_replicate()
            elif pr.state is ProgressState.SNAPSHOT and pr.match >= pr.pending_snapshot:
                pr.become_probe()
                pr.become_replicate()
            elif pr.state is ProgressState.REPLICATE:
                pr.inflights.free_le(index)
            if pr.snapshot_offered and pr.match >= pr.snapshot_offered:
                self._delivered(SnapshotDelivered(peer, pr.snapshot_offered))
                pr.snapshot_offered = 0
        if self.maybe_commit():
            # Entries waiting for a window carry the new commit at once; a follower with
            # nothing to receive learns it from the next Append or heartbeat, or from
            # `publish_commit` after the driver's delay.
            for other in self.peers():
                self.send_append(other, send_if_empty=False)
        elif not is_self and was_paused:
            self.send_append(peer)
        if not is_self:
            # Fill the pipeline window.
            while self.send_append(peer, send_if_empty=False):
                pass
        return True

    def on_reject(self, msg: AppendResp) -> None:
        pr = self._progress.get(msg.src)
        if pr is None:
            return
        if msg.hint_index < pr.match:
            # Entries up to `match` agree with our log and terms only grow along a log, so
            # an intact follower's conflict hint never falls below `match`: this follower
            # lost entries it acknowledged (its disk dropped synced writes). Re-replicate
            # instead of probing at `match` forever. Lowering match is always safe (commit
            # never moves back); a reordered stale rejection only costs a re-probe.
            self._regressed(msg.src)
            pr.regress_to(msg.hint_index)
            self.send_append(msg.src)
            return
        next_probe = msg.hint_index
        if msg.hint_term > 0:
            # Skip every entry of ours whose term is above the follower's hint term.
            next_probe, _ = self._log.find_conflict_by_term(msg.hint_index, msg.hint_term)
        if pr.maybe_decr_to(msg.index, next_probe):
            if pr.state is ProgressState.REPLICATE:
                pr.become_probe()
            self.send_append(msg.src)

    def on_heartbeat_resp(self, peer: int) -> None:
        pr = self._progress.get(peer)
        if pr is None:
            return
        pr.recent_active = True
        pr.probe_sent = False
        if pr.state is ProgressState.REPLICATE and pr.inflights.full():
            # A lost ack must not stall the window forever.
            pr.inflights.free_first()
        last = self._log.last_index()
        if pr.match < last and not (
            pr.state is ProgressState.REPLICATE
            and pr.next > last
            and pr.beats_since_ack <= RECENT_ACK_BEATS
        ):
            # A peer behind the log gets an Append (empty when everything is in flight: a
            # lost one shows as a rejection), unless everything is in flight and it
            # acknowledged new entries within the last heartbeat interval: its Appends
            # arrive. A busy group would otherwise send an empty Append to each follower
            # on most heartbeats, which adds up with many groups per node
            # (docs/performance.md, "Session 12").
            self.send_append(peer)

    def heard_from(self, peer: int, tick: int) -> None:
        """`peer` answered at the leader's tick `tick` (check-quorum and liveness)."""
        pr = self._progress.get(peer)
        if pr is not None:
            pr.recent_active = True
            pr.last_heard = tick

    def live(self, peer: int, now: int, within: int) -> bool:
        """Did `peer` (or the leader itself) answer during the last `within` ticks?"""
        if peer == self._cfg.node_id:
            return True
        pr = self._progress.get(peer)
        return pr is not None and pr.last_heard is not None and now - pr.last_heard < within

    def report_snapshot(self, peer: int, success: bool) -> None:
        """The driver finished (or failed) streaming the snapshot to `peer`.

        Either way the peer goes back to probing: on success its AppendResp for the
        snapshot index moves it on; on failure the next probe finds out what it needs."""
        pr = self._progress.get(peer)
        if pr is None or pr.state is not ProgressState.SNAPSHOT:
            return
        if not success:
            pr.pending_snapshot = 0
            pr.snapshot_offered = 0
        pr.become_probe()
        # Wait for a heartbeat response before probing again, as after any probe.
        pr.probe_sent = True

    def report_unreachable(self, peer: int) -> None:
        pr = self._progress.get(peer)
        if pr is not None and pr.state is ProgressState.REPLICATE:
            pr.become_probe()

    # -- commit publication ----------------------------------------------------------------
    def owes_commit(self, peer: int) -> bool:
        """Could `peer` learn a higher commit index than any message sent to it allowed?

        Judged on what was sent to it (`next - 1`), not on what it acknowledged (`match`):
        a follower whose ack is still on its way holds those entries already, and a member
        the committed entry removes gets no later message to learn it from."""
        pr = self._progress.get(peer)
        return pr is not None and pr.commit_sent < min(pr.next - 1, self._log.committed)

    def commit_unpublished(self) -> bool:
        # Asked each time a leader's Ready loop goes idle: no sorting, no lookups.
        committed, me = self._log.committed, self._cfg.node_id
        return any(
            pr.commit_sent < min(pr.next - 1, committed)
            for peer, pr in self._progress.items()
            if peer != me
        )

    def publish_commit(self, peer: int | None = None) -> None:
        """Send the commit index to `peer` (None: every peer) if it is owed one: an Append,
        empty unless entries wait. A paused peer learns it from its next Append or heartbeat."""
        for other in self.peers() if peer is None else [peer]:
            if self.owes_commit(other):
                self.send_append(other)

    # -- commit and liveness -------------------------------------------------------------
    def maybe_commit(self) -> bool:
        matches = {peer: pr.match for peer, pr in self._progress.items()}
        index = quorum_value(self._voters, matches)
        # Figure 8: only an entry of the current term is committed by counting replicas.
        if index > self._log.committed and self._log.term(index) == self._term:
            self._log.commit_to(index)
            return True
        return False

    def quorum_active(self) -> bool:
        """Did a quorum of voters answer since the last call? Resets the marks."""
        active = {self._cfg.node_id}
        for peer, pr in self._progress.items():
            if pr.recent_active:
                active.add(peer)
            if peer != self._cfg.node_id:
                pr.recent_active = False
        return len(active & self._voters) >= majority(len(self._voters))

    def caught_up(self, peer: int) -> bool:
        pr = self._progress.get(peer)
        return pr is not None and pr.match == self._log.last_index()
