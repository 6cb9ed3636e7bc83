"""Majority arithmetic over a voter set: committed index, vote outcome, quorum-th value."""

from __future__ import annotations

import enum
from collections.abc import Mapping


def majority(voters: int) -> int:
    """How many of `voters` make a quorum."""
    return voters // 2 + 1


class VoteResult(enum.Enum):
    PENDING = "pending"
    WON = "won"
    LOST = "lost"


def quorum_value(voters: frozenset[int], values: Mapping[int, int]) -> int:
    """The largest value that a majority of voters has reached (missing voters count 0)."""
    if not voters:
        return 0
    ordered = sorted((values.get(voter, 0) for voter in voters), reverse=True)
    return ordered[len(voters) // 2]


def vote_result(voters: frozenset[int], votes: Mapping[int, bool]) -> VoteResult:
    quorum = majority(len(voters))
    granted = sum(1 for voter in voters if votes.get(voter) is True)
    rejected = sum(1 for voter in voters if votes.get(voter) is False)
    if granted >= quorum:
        return VoteResult.WON
    if len(voters) - rejected < quorum:
        return VoteResult.LOST
    return VoteResult.PENDING
