"""RaftConfig: the knobs of one Raft group member (immutable, validated on creation)."""

from __future__ import annotations

import attrs


def _positive(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value}")


@attrs.frozen(slots=True, kw_only=True)
class RaftConfig:
    group: int
    node_id: int = attrs.field(validator=_positive)
    heartbeat_ticks: int = attrs.field(default=1, validator=_positive)
    # Each election timeout is drawn uniformly from [min, max] ticks; check-quorum rounds,
    # leader stickiness and transfer aborts use `election_ticks_min`.
    election_ticks_min: int = attrs.field(default=5, validator=_positive)
    election_ticks_max: int = attrs.field(default=10, validator=_positive)
    pre_vote: bool = True
    check_quorum: bool = True
    # Leader serves reads from a lease (no heartbeat round) while a quorum acknowledged a
    # heartbeat sent less than election_ticks_min - 1 ticks ago. Needs check_quorum; assumes
    # tick rates differ by less than one tick per election timeout.
    lease_reads: bool = False
    max_msg_bytes: int = attrs.field(default=1 << 20, validator=_positive)
    max_inflight_msgs: int = attrs.field(default=64, validator=_positive)
    max_committed_bytes_per_ready: int = attrs.field(default=4 << 20, validator=_positive)
    # A learner may be promoted once it replicates within this many entries of commit.
    max_promote_lag: int = attrs.field(default=1000, validator=_positive)
    # The application's durable applied index at restart (0: re-deliver from the snapshot).
    applied: int = 0

    def __attrs_post_init__(self) -> None:
        if self.election_ticks_max < self.election_ticks_min:
            raise ValueError("election_ticks_max must be >= election_ticks_min")
        if self.election_ticks_min <= self.heartbeat_ticks:
            raise ValueError("election_ticks_min must exceed heartbeat_ticks")
        if self.applied < 0:
            raise ValueError("applied must be >= 0")
        if self.lease_reads and not self.check_quorum:
            raise ValueError("lease_reads needs check_quorum")
