"""Plain value types shared by the Raft modules: entries, hard/soft state, results.

Everything here is an immutable attrs class with no behaviour beyond trivial accessors, so any
module (including drivers and the simulator) can depend on it.
"""

from __future__ import annotations

import enum

import attrs

from seshat_trio.raft.membership import Membership
from seshat_trio.raft.progress import ProgressState

# Fixed per-entry overhead counted towards byte budgets (term, index, kind, framing).
ENTRY_OVERHEAD_BYTES = 24


class EntryKind(enum.IntEnum):
    NORMAL = 0  # an application command
    NOOP = 1  # appended by every new leader; commits the previous terms' entries (figure 8)
    CONFIG = 2  # data = encode_membership(resulting membership)


@attrs.frozen(slots=True)
class Entry:
    term: int
    index: int
    kind: EntryKind
    data: bytes = b""

    def size(self) -> int:
        """Bytes this entry counts for in `max_msg_bytes` / `max_committed_bytes_per_ready`."""
        return len(self.data) + ENTRY_OVERHEAD_BYTES


@attrs.frozen(slots=True)
class HardState:
    """What must be durable before votes/acks leave: current term, vote (0 = none), commit."""

    term: int = 0
    vote: int = 0
    commit: int = 0


@attrs.frozen(slots=True)
class SnapshotMeta:
    """A snapshot covers the log up to and including (index, term); membership as of index."""

    index: int
    term: int
    membership: Membership


class Role(enum.Enum):
    FOLLOWER = "follower"
    PRE_CANDIDATE = "pre-candidate"
    CANDIDATE = "candidate"
    LEADER = "leader"


@attrs.frozen(slots=True)
class SoftState:
    """Volatile state a driver cares about: who leads and what this node is. Never persisted."""

    leader_id: int | None
    role: Role
    term: int


@attrs.frozen(slots=True)
class ReadState:
    """Read `request_id` is linearizable once the local applied index reaches `index`."""

    request_id: int
    index: int


class ReadFailure(enum.Enum):
    NO_LEADER = "no known leader"
    NOT_LEADER = "the leader refused the read"
    LEADERSHIP_LOST = "leadership changed while the read was pending"
    TIMED_OUT = "no answer from the leader within an election timeout"
    TRANSFERRING = "leadership transfer in progress"


@attrs.frozen(slots=True)
class FailedRead:
    """Read `request_id` cannot be served; the driver retries with a fresh id or errors."""

    request_id: int
    reason: ReadFailure


@attrs.frozen(slots=True)
class TransferResult:
    """`succeeded`: this leader stepped down during the transfer; False: it was aborted."""

    target: int
    succeeded: bool


@attrs.frozen(slots=True)
class SnapshotDelivered:
    """Leader side: `peer` now holds the log up to `index`, the snapshot offered to it, so
    the driver may release whatever it kept to stream that snapshot."""

    peer: int
    index: int


@attrs.frozen(slots=True)
class MemberProgress:
    """One member's replication status as its leader sees it (`RaftCore.member_progress`)."""

    node_id: int
    voter: bool
    match: int  # highest index known durable on the member (the leader: its own log)
    next: int  # next index the leader sends it
    state: ProgressState
    lag: int  # entries behind the leader's commit index (0 when level or ahead)
    heard_ticks_ago: int | None  # ticks since it last answered; None: not in this term
    snapshot_index: int  # index of the snapshot being streamed to it (0: none)
    promotable: bool  # a learner a PROMOTE would accept right now (always False for voters)
