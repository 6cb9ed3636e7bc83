"""Errors raised by the Raft core and its log storage (a leaf module)."""

from __future__ import annotations


class RaftError(Exception):
    """Base class of every error the Raft core raises on purpose."""


class NotLeader(RaftError):
    """This node cannot take the request; `leader_id` is the leader it knows of, if any."""

    def __init__(self, leader_id: int | None) -> None:
        super().__init__(f"not the leader (leader: {leader_id})")
        self.leader_id = leader_id


class LeadershipTransferInProgress(RaftError):
    """The leader is handing leadership to `target` and refuses new proposals meanwhile."""

    def __init__(self, target: int) -> None:
        super().__init__(f"leadership transfer to {target} in progress")
        self.target = target


class LeavingGroup(NotLeader):
    """This leader's log holds its own removal: it takes no more entries and will hand
    leadership over once the removal applies. Retry elsewhere shortly."""

    def __init__(self) -> None:
        super().__init__(None)
        self.args = ("this leader is being removed from the group",)


class ConfigChangeRejected(RaftError):
    """A membership change was refused; `reason` says why. Nothing was appended."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"config change rejected: {reason}")
        self.reason = reason


class CompactedError(RaftError):
    """The requested log index lies at or below the storage's snapshot index."""


class UnavailableError(RaftError):
    """The requested log index lies beyond the storage's last index."""
