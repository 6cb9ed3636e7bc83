"""Ready: one batch of work the core hands its driver (see docs/raft.md for the contract).

Order for the driver: send `messages` at once; make `snapshot`, `entries`, `hard_state` and
`compact` durable; then send `persisted_messages`; apply `committed_entries`; serve
`read_states` once applied reaches their index; finally `core.advance(ready)`. Committed
entries already durable before this Ready (below `entries[0].index`, no `snapshot`) and the
read states may be handled before the writes: they depend on none of them.
"""

from __future__ import annotations

import attrs

from seshat_trio.raft.messages import Message
from seshat_trio.raft.model import (
    Entry,
    FailedRead,
    HardState,
    ReadState,
    SnapshotDelivered,
    SnapshotMeta,
    SoftState,
    TransferResult,
)


@attrs.frozen(slots=True, kw_only=True)
class Ready:
    soft_state: SoftState | None = None
    hard_state: HardState | None = None
    snapshot: SnapshotMeta | None = None
    entries: tuple[Entry, ...] = ()
    compact: SnapshotMeta | None = None
    messages: tuple[Message, ...] = ()
    persisted_messages: tuple[Message, ...] = ()
    committed_entries: tuple[Entry, ...] = ()
    read_states: tuple[ReadState, ...] = ()
    failed_reads: tuple[FailedRead, ...] = ()
    transfer_results: tuple[TransferResult, ...] = ()
    snapshots_delivered: tuple[SnapshotDelivered, ...] = ()
    # The writes must be fsynced: entries, a snapshot, or a term/vote change. A hard state
    # that only moves commit may be written lazily (commit is recoverable from a quorum).
    must_sync: bool = False
