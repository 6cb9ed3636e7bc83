"""RaftConfig: the knobs of one Raft group member (immutable, validated on creation)."""

from __future__ import annotations

import math

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
    # heartbeat sent less than `lease_ticks` ticks ago (docs/raft.md, "Lease reads"). Needs
    # check_quorum. The lease holds only while the driver's ticks keep time: it must call
    # `RaftCore.void_lease()` whenever two ticks, or a tick and a read it serves, are more
    # than `lease_tick_gap` tick periods apart; and every node's clock must run within
    # `lease_clock_drift` of real time.
    lease_reads: bool = False
    lease_tick_gap: float = 1.5
    lease_clock_drift: float = 0.01
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
        if self.lease_tick_gap < 1 or not 0 <= self.lease_clock_drift < 1:
            raise ValueError("lease_tick_gap must be >= 1 and lease_clock_drift in [0, 1)")
        if self.lease_reads and self.lease_ticks < 1:
            raise ValueError(
                f"election_ticks_min {self.election_ticks_min} is too short for lease reads "
                f"with a tick gap of {self.lease_tick_gap} and a clock drift of "
                f"{self.lease_clock_drift}"
            )

    @property
    def lease_ticks(self) -> int:
        """How many ticks after sending a heartbeat round its quorum gives a lease: the
        largest L with L * lease_tick_gap * (1 + drift)^2 < election_ticks_min - 1.

        A voter that acknowledged the round ignores votes for at least
        `election_ticks_min - 1` of its tick periods after it received it (its first tick
        may come at once); the leader's view of the time since it sent the round is at
        most L periods of at most `lease_tick_gap` each (longer gaps void the lease); the
        two clocks may each be off by the drift, in opposite directions."""
        bound = (self.election_ticks_min - 1) / (
            self.lease_tick_gap * (1 + self.lease_clock_drift) ** 2
        )
        return max(0, math.ceil(bound) - 1)
