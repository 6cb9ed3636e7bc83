"""Raft consensus as a sans-IO state machine (see docs/raft.md and core.py's docstring).

Module map: model (value types), membership (configs + encoding), messages, storage
(LogStorage protocol + in-memory), log (stable + unstable log), progress (per-peer
replication state), replication (the leader's Replicator), quorum (majority arithmetic),
readindex (read rounds), ready (driver batch), snapshot_transfer (chunking helper for
drivers), config, errors, core (RaftCore).
"""

from seshat_trio.raft.config import RaftConfig
from seshat_trio.raft.core import RaftCore
from seshat_trio.raft.errors import (
    CompactedError,
    ConfigChangeRejected,
    LeadershipTransferInProgress,
    LeavingGroup,
    NotLeader,
    RaftError,
    UnavailableError,
)
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
from seshat_trio.raft.progress import ProgressState
from seshat_trio.raft.ready import Ready
from seshat_trio.raft.snapshot_transfer import (
    iter_snapshot_chunks,
)
from seshat_trio.raft.storage import LogStorage, MemoryLogStorage

__all__ = [
    "Append",
    "AppendResp",
    "ChangeKind",
    "CompactedError",
    "ConfigChange",
    "ConfigChangeRejected",
    "Entry",
    "EntryKind",
    "FailedRead",
    "HardState",
    "Heartbeat",
    "HeartbeatResp",
    "LeadershipTransferInProgress",
    "LeavingGroup",
    "LogStorage",
    "MemberProgress",
    "Membership",
    "MemoryLogStorage",
    "Message",
    "NotLeader",
    "PreVote",
    "PreVoteResp",
    "ProgressState",
    "RaftConfig",
    "RaftCore",
    "RaftError",
    "ReadFailure",
    "ReadIndexReq",
    "ReadIndexResp",
    "ReadState",
    "Ready",
    "Role",
    "Snapshot",
    "SnapshotChunk",
    "SnapshotChunkAck",
    "SnapshotDelivered",
    "SnapshotMeta",
    "SoftState",
    "TimeoutNow",
    "TransferResult",
    "UnavailableError",
    "Vote",
    "VoteResp",
    "apply_change",
    "decode_membership",
    "encode_membership",
    "iter_snapshot_chunks",
]
