"""Cluster membership (voters + learners), single-server changes, and their byte encoding.

Rules this module lives by:
- A membership change is one `ConfigChange` at a time (add voter, add learner, promote a
  learner, remove); `apply_change` refuses anything else, so consecutive configurations
  differ by at most one voter and their majorities always overlap (Raft thesis 4.1).
- CONFIG entries carry the *whole* resulting membership, so applying one is idempotent and a
  restart or a joining node can adopt it without knowing the previous configuration.
- Encoding is deterministic: b"M1", u16 voter count, u64 ids ascending, u16 learner count,
  u64 ids ascending, all big-endian.
"""

from __future__ import annotations

import enum
import struct

import attrs

from seshat_trio.raft.errors import ConfigChangeRejected
from seshat_trio.raft.quorum import majority

_MAGIC = b"M1"
_COUNT = struct.Struct(">H")
_ID = struct.Struct(">Q")


@attrs.frozen(slots=True)
class Membership:
    voters: frozenset[int] = frozenset()
    learners: frozenset[int] = frozenset()

    def __attrs_post_init__(self) -> None:
        if self.voters & self.learners:
            raise ValueError(f"nodes both voter and learner: {sorted(self.voters & self.learners)}")
        if any(node <= 0 for node in self.voters | self.learners):
            raise ValueError("node ids must be > 0")

    @property
    def members(self) -> frozenset[int]:
        return self.voters | self.learners

    def quorum(self) -> int:
        return majority(len(self.voters))


class ChangeKind(enum.Enum):
    ADD_VOTER = "add-voter"
    ADD_LEARNER = "add-learner"
    PROMOTE = "promote"
    REMOVE = "remove"


@attrs.frozen(slots=True)
class ConfigChange:
    kind: ChangeKind
    node_id: int


def apply_change(current: Membership, change: ConfigChange) -> Membership:
    """Return the membership after `change`, or raise ConfigChangeRejected if it is invalid."""
    node = change.node_id
    if node <= 0:
        raise ConfigChangeRejected(f"invalid node id {node}")
    voters, learners = current.voters, current.learners
    if change.kind is ChangeKind.ADD_VOTER:
        if node in current.members:
            raise ConfigChangeRejected(f"node {node} is already a member")
        return Membership(voters | {node}, learners)
    if change.kind is ChangeKind.ADD_LEARNER:
        if node in current.members:
            raise ConfigChangeRejected(f"node {node} is already a member")
        return Membership(voters, learners | {node})
    if change.kind is ChangeKind.PROMOTE:
        if node not in learners:
            raise ConfigChangeRejected(f"node {node} is not a learner")
        return Membership(voters | {node}, learners - {node})
    if node not in current.members:
        raise ConfigChangeRejected(f"node {node} is not a member")
    if voters == {node}:
        raise ConfigChangeRejected("cannot remove the last voter")
    return Membership(voters - {node}, learners - {node})


def _encode_ids(ids: frozenset[int]) -> bytes:
    return _COUNT.pack(len(ids)) + b"".join(_ID.pack(node) for node in sorted(ids))


def encode_membership(membership: Membership) -> bytes:
    return _MAGIC + _encode_ids(membership.voters) + _encode_ids(membership.learners)


def _decode_ids(data: bytes, pos: int) -> tuple[frozenset[int], int]:
    (count,) = _COUNT.unpack_from(data, pos)
    pos += _COUNT.size
    ids = [_ID.unpack_from(data, pos + i * _ID.size)[0] for i in range(count)]
    return frozenset(ids), pos + count * _ID.size


def decode_membership(data: bytes) -> Membership:
    """Inverse of encode_membership; ValueError on anything it did not produce."""
    if not data.startswith(_MAGIC):
        raise ValueError("not an encoded membership")
    try:
        voters, pos = _decode_ids(data, len(_MAGIC))
        learners, pos = _decode_ids(data, pos)
    except struct.error as exc:
        raise ValueError(f"truncated membership encoding: {exc}") from exc
    if pos != len(data):
        raise ValueError("trailing bytes after membership encoding")
    return Membership(voters, learners)
