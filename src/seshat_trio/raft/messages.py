"""Messages exchanged between Raft nodes of one group (attrs frozen, slotted).

Every message names its group, sender (`src`), receiver (`dst`) and the sender's `term`.
`Message` is the union `RaftCore.step()` accepts. `SnapshotChunk` / `SnapshotChunkAck` travel
between *drivers* only (see `snapshot_transfer`): the core emits a bare `Snapshot` offer and
is told about a received snapshot by stepping its offer.
"""

from __future__ import annotations

import attrs

from seshat_trio.raft.model import Entry, SnapshotMeta


@attrs.frozen(slots=True, kw_only=True)
class PreVote:
    """Would you vote for me? `term` is the term the sender would campaign in (its term + 1)."""

    group: int
    src: int
    dst: int
    term: int
    last_log_index: int
    last_log_term: int


@attrs.frozen(slots=True, kw_only=True)
class PreVoteResp:
    group: int
    src: int
    dst: int
    term: int
    granted: bool


@attrs.frozen(slots=True, kw_only=True)
class Vote:
    """A real vote request; `forced` (leadership transfer) overrides leader stickiness."""

    group: int
    src: int
    dst: int
    term: int
    last_log_index: int
    last_log_term: int
    forced: bool = False


@attrs.frozen(slots=True, kw_only=True)
class VoteResp:
    group: int
    src: int
    dst: int
    term: int
    granted: bool


@attrs.frozen(slots=True, kw_only=True)
class Append:
    group: int
    src: int
    dst: int
    term: int
    prev_index: int
    prev_term: int
    entries: tuple[Entry, ...]
    commit: int


@attrs.frozen(slots=True, kw_only=True)
class AppendResp:
    """success: `index` is the follower's last index known to match the leader.

    reject: `index` is the rejected prev_index; (`hint_index`, `hint_term`) is the follower's
    largest index whose term is <= the rejected prev_term, letting the leader skip a whole
    conflicting term per round trip.
    """

    group: int
    src: int
    dst: int
    term: int
    success: bool
    index: int
    hint_index: int = 0
    hint_term: int = 0


@attrs.frozen(slots=True, kw_only=True)
class Heartbeat:
    """`commit` is min(follower's match, leader commit); `context` is the latest read round."""

    group: int
    src: int
    dst: int
    term: int
    commit: int
    context: int


@attrs.frozen(slots=True, kw_only=True)
class HeartbeatResp:
    group: int
    src: int
    dst: int
    term: int
    context: int


@attrs.frozen(slots=True, kw_only=True)
class Snapshot:
    """Offer of the snapshot described by `meta`; its data travels as SnapshotChunk."""

    group: int
    src: int
    dst: int
    term: int
    meta: SnapshotMeta


@attrs.frozen(slots=True, kw_only=True)
class SnapshotChunk:
    """Driver-level: bytes [offset, offset+len(data)) of the snapshot for `meta`."""

    group: int
    src: int
    dst: int
    term: int
    meta: SnapshotMeta
    offset: int
    data: bytes
    last: bool


@attrs.frozen(slots=True, kw_only=True)
class SnapshotChunkAck:
    """Driver-level: the receiver holds bytes [0, offset) of snapshot `meta_index` (ok) or
    dropped the transfer (not ok; the sender gives up and reports failure to its core)."""

    group: int
    src: int
    dst: int
    term: int
    meta_index: int
    offset: int
    ok: bool


@attrs.frozen(slots=True, kw_only=True)
class TimeoutNow:
    """Leadership transfer: campaign immediately, skipping pre-vote and stickiness."""

    group: int
    src: int
    dst: int
    term: int


@attrs.frozen(slots=True, kw_only=True)
class ReadIndexReq:
    """Follower asks the leader to confirm leadership for its pending reads."""

    group: int
    src: int
    dst: int
    term: int
    request_ids: tuple[int, ...]


@attrs.frozen(slots=True, kw_only=True)
class ReadIndexResp:
    group: int
    src: int
    dst: int
    term: int
    request_ids: tuple[int, ...]
    index: int
    ok: bool


Message = (
    PreVote
    | PreVoteResp
    | Vote
    | VoteResp
    | Append
    | AppendResp
    | Heartbeat
    | HeartbeatResp
    | Snapshot
    | TimeoutNow
    | ReadIndexReq
    | ReadIndexResp
)
