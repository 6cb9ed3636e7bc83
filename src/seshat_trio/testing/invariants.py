"""Raft safety invariants, checked incrementally as the simulation runs.

The simulator reports facts as they happen (an entry was written, a node became
leader, the commit index moved, an entry was applied, a message is leaving) and
this module keeps just enough global history to check, after every step:

- election safety: at most one leader per term;
- log matching: an (index, term) pair names one entry everywhere, with one
  predecessor term; by induction two logs that agree on (index, term) agree on
  the whole prefix;
- leader completeness: a new leader's log holds every entry known committed;
- committed durability: when a leader advances its commit index, the entry is
  *durable* on a quorum of the voters (a crash of every node loses nothing
  committed) -- this is what catches "acknowledged before fsync";
- state machine safety: every node that has applied index i has the same map
  (compared as a whole), hence applied the same command at i;
- applied monotonicity: a node's applied index never goes back while it runs,
  and after a restart it resumes exactly from its durable applied index;
- read index freshness: a read's index is at least the highest index committed
  anywhere when the client asked (catches stale leases, deposed leaders);
- the persistence contract: no message leaves a node claiming a term, a vote or
  a log position that the node has not made durable;
- membership changes: a leader appends a CONFIG entry only after an entry of its
  term committed and once the previous configuration in its log committed, and
  consecutive configurations differ by one server (so their majorities overlap);
  and no node durably holds a CONFIG entry without durably knowing that the one
  before it committed (so a node never campaigns two configurations behind).

Violations raise `InvariantViolation` naming the invariant.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import attrs

from seshat_trio.raft import (
    CompactedError,
    Entry,
    Membership,
    MemoryLogStorage,
    Role,
    UnavailableError,
)
from seshat_trio.raft.messages import AppendResp, Message, PreVote, PreVoteResp, Vote, VoteResp
from seshat_trio.testing.kvapp import State


class InvariantViolation(AssertionError):
    """A Raft safety property failed; `name` says which."""

    def __init__(self, name: str, detail: str) -> None:
        super().__init__(f"{name}: {detail}")
        self.name = name
        self.detail = detail


TermAt = Callable[[int], int | None]


def term_or_none(storage: MemoryLogStorage, index: int) -> int | None:
    """The term at `index` in `storage`, or None if compacted away or not there."""
    try:
        return storage.term(index)
    except (CompactedError, UnavailableError):
        return None


@attrs.frozen(slots=True)
class _EntryId:
    kind: int
    data: bytes
    prev_term: int


class Invariants:
    """Global observer of one simulated Raft group."""

    def __init__(self) -> None:
        self.leaders: dict[int, int] = {}  # term -> node
        self._entries: dict[tuple[int, int], _EntryId] = {}
        self.committed: dict[int, int] = {}  # index -> term, for every index known committed
        self.committed_terms: set[int] = set()  # terms with an entry known committed
        # index -> term of the first node that reported it committed: leaders of
        # *later* terms must hold it (a leader of an earlier term may be elected
        # after the commit in real time, with a shorter log, legitimately).
        self.commit_term: dict[int, int] = {}
        self.max_commit = 0
        self._states: dict[int, State] = {}  # applied index -> map after applying it
        self._applied: dict[int, int] = {}  # node -> applied index this lifetime

    # --- elections -------------------------------------------------------------

    def on_role(
        self, node: int, term: int, role: Role, term_at: TermAt, snapshot_index: int
    ) -> None:
        if role is not Role.LEADER:
            return
        other = self.leaders.setdefault(term, node)
        if other != node:
            raise InvariantViolation(
                "election safety", f"nodes {other} and {node} are both leader in term {term}"
            )
        for index in range(snapshot_index + 1, self.max_commit + 1):
            want = self.committed.get(index)
            if want is None or self.commit_term[index] >= term:
                continue
            have = term_at(index)
            if have != want:
                raise InvariantViolation(
                    "leader completeness",
                    f"node {node} leads term {term} but has term {have} at committed index "
                    f"{index} (committed term {want})",
                )

    # --- logs ------------------------------------------------------------------

    def on_entries_written(self, node: int, entries: tuple[Entry, ...], prev_term: int) -> None:
        """Entries a node wrote to its log, in order; `prev_term` precedes the first."""
        for entry in entries:
            ident = _EntryId(int(entry.kind), entry.data, prev_term)
            known = self._entries.setdefault((entry.index, entry.term), ident)
            if known != ident:
                raise InvariantViolation(
                    "log matching",
                    f"node {node} wrote a different entry at index {entry.index} term "
                    f"{entry.term}: {ident} vs {known}",
                )
            prev_term = entry.term

    def on_commit(
        self,
        node: int,
        *,
        term: int,
        is_leader: bool,
        commit: int,
        term_at: TermAt,
        configs: Sequence[frozenset[int]],
        durable: Mapping[int, MemoryLogStorage],
    ) -> None:
        """Node `node` (now in `term`) has commit index `commit`; `term_at` reads its log.

        `configs` are the voter sets the commit may have been counted with: the
        current one, plus the previous one when the leader applied a CONFIG entry
        in the same `advance()` that moved its commit (membership takes effect
        when applied, and single-server changes keep old and new quorums
        overlapping, so either is a valid quorum for that commit).
        """
        for index in range(self.max_commit + 1, commit + 1):
            entry_term = term_at(index)
            if entry_term is not None:
                self.committed[index] = entry_term
                self.commit_term[index] = term
                self.committed_terms.add(entry_term)
        for index in range(max(1, commit - 16), commit + 1):
            entry_term = term_at(index)
            want = self.committed.get(index)
            if entry_term is not None and want is not None and entry_term != want:
                raise InvariantViolation(
                    "committed entry lost",
                    f"node {node} has term {entry_term} at index {index}, committed with "
                    f"term {want}",
                )
        self.max_commit = max(self.max_commit, commit)
        if is_leader and configs:
            entry_term = term_at(commit)
            tallies = []
            for voters in configs:
                holders = [
                    peer
                    for peer in sorted(voters)
                    if peer in durable and _durably_holds(durable[peer], commit, entry_term)
                ]
                if 2 * len(holders) > len(voters):
                    break
                tallies.append(f"{holders} of {sorted(voters)}")
            else:
                raise InvariantViolation(
                    "committed durability",
                    f"leader {node} committed index {commit} (term {entry_term}) but only "
                    f"{' / '.join(tallies)} voters hold it durably",
                )

    # --- membership ------------------------------------------------------------

    def on_config_proposed(
        self,
        node: int,
        entry: Entry,
        new: Membership,
        previous: tuple[int, int | None, Membership],
    ) -> None:
        """Leader `node` appended CONFIG `entry` (resulting in `new`); `previous` is the
        configuration before it in its log: (index, term or None if it is the snapshot's,
        membership)."""
        prev_index, prev_term, prev = previous
        where = f"leader {node} appended a CONFIG entry at {entry.index} (term {entry.term})"
        if entry.term not in self.committed_terms:
            raise InvariantViolation(
                "membership change", f"{where} before any entry of its term committed"
            )
        if prev_term is not None and self.committed.get(prev_index) != prev_term:
            raise InvariantViolation(
                "membership change",
                f"{where} while the previous one at {prev_index} (term {prev_term}) was not "
                "known committed",
            )
        if len(new.voters ^ prev.voters) > 1 or len(new.members ^ prev.members) > 1:
            raise InvariantViolation(
                "membership change",
                f"{where} changing more than one server: {prev} -> {new}",
            )

    def on_config_durable(self, node: int, index: int, previous: int, commit: int) -> None:
        """Node `node` made CONFIG entry `index` durable; the configuration before it in
        its log is at `previous`, and its durable commit index is `commit`.

        Membership takes effect when applied, and a node campaigns only once it applied
        every configuration it knows committed. If it could hold a configuration without
        durably knowing that the one before committed (the commit index is written lazily
        and a crash can lose it), it could campaign in the configuration before that one,
        two changes behind the group, whose majorities need not overlap the current ones
        (etcd#7625: "(Append)").
        """
        if commit < previous:
            raise InvariantViolation(
                "membership change",
                f"node {node} durably holds CONFIG entry {index} but its durable commit index "
                f"{commit} is below the previous configuration at {previous}",
            )

    # --- state machine ---------------------------------------------------------

    def on_applied(self, node: int, applied: int, state: State) -> None:
        """Node `node` has applied up to `applied` and its map is `state`."""
        before = self._applied.get(node, 0)
        if applied < before:
            raise InvariantViolation(
                "applied monotonicity", f"node {node} applied index went from {before} to {applied}"
            )
        self._applied[node] = applied
        if applied > self.max_commit:
            raise InvariantViolation(
                "state machine safety",
                f"node {node} applied index {applied} beyond any known commit {self.max_commit}",
            )
        known = self._states.setdefault(applied, state)
        if known != state:
            raise InvariantViolation(
                "state machine safety",
                f"node {node} has a different map after applying index {applied}: "
                f"{sorted(state)} vs {sorted(known)}",
            )

    def on_restart(self, node: int, applied: int, durable_applied: int) -> None:
        if applied != durable_applied:
            raise InvariantViolation(
                "applied monotonicity",
                f"node {node} restarted at applied {applied}, but its durable applied index "
                f"is {durable_applied}",
            )
        self._applied[node] = applied

    # --- reads ----------------------------------------------------------------------

    def on_read_index(self, node: int, index: int, floor: int) -> None:
        """A read through `node` got read index `index`; `floor` was committed when asked.

        A linearizable read must reflect every write committed before it began,
        whatever the path (heartbeat round, lease, forwarding).
        """
        if index < floor:
            raise InvariantViolation(
                "read index freshness",
                f"node {node} answered a read at index {index}, but index {floor} was "
                "already committed when the client asked",
            )

    # --- persistence contract --------------------------------------------------

    def on_send(self, node: int, msg: Message, durable: MemoryLogStorage, written: TermAt) -> None:
        """`msg` is leaving `node` now; everything it claims must be durable.

        `written` gives the node's log as written (not necessarily synced); an
        acknowledged index must be durable *with the same term*.
        """
        hs = durable.hard_state()
        # Pre-votes speak of a term the sender would campaign in, never of its own.
        if msg.term > hs.term and not isinstance(msg, PreVote | PreVoteResp):
            raise InvariantViolation(
                "persistence contract",
                f"node {node} sends {type(msg).__name__} in term {msg.term} but its durable "
                f"term is {hs.term}",
            )
        # A granted vote (or a candidate's self-vote) must be durable, unless a later
        # term already is: then the node can never vote in msg.term again.
        if (
            isinstance(msg, VoteResp)
            and msg.granted
            and hs.term <= msg.term
            and (hs.term, hs.vote) != (msg.term, msg.dst)
        ):
            raise InvariantViolation(
                "persistence contract",
                f"node {node} grants its vote to {msg.dst} in term {msg.term} but durably "
                f"voted {hs.vote} in term {hs.term}",
            )
        if isinstance(msg, Vote) and hs.term <= msg.term and (hs.term, hs.vote) != (msg.term, node):
            raise InvariantViolation(
                "persistence contract",
                f"node {node} campaigns in term {msg.term} without a durable self-vote "
                f"(durable term {hs.term} vote {hs.vote})",
            )
        if (
            isinstance(msg, AppendResp)
            and msg.success
            and msg.index > durable.snapshot_meta().index
            and term_or_none(durable, msg.index) != written(msg.index)
        ):
            raise InvariantViolation(
                "persistence contract",
                f"node {node} acknowledges index {msg.index} which is not durable "
                f"(durable last index {durable.last_index()})",
            )


def _durably_holds(storage: MemoryLogStorage, index: int, term: int | None) -> bool:
    if index <= storage.snapshot_meta().index:
        return True
    return term is not None and term_or_none(storage, index) == term
