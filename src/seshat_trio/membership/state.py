"""Membership as cluster state: who is in the cluster, who left it, and how many replicas.

Sections of the system group:
- `members` (owned by `system/layout.py`): node id -> internal (Raft) address;
- `retired`: `{"v": 1, "items": [{"node_id": 3, "force": false, "raft_addr": "..."}]}`,
  every node ever removed (ids are never reused), whether its removal was forced, and its
  last address (peers keep talking to it until every group has applied its removal);
- `replication`: `{"v": 1, "factor": 3}`, the replication factor (3 when absent).

Operations (deterministic, run at apply on every node):
- `member_add` (`node_id`, `raft_addr`): a new member. Reply 1; 0 when it already is a
  member at that address (a join retried after a lost reply). Refused for a retired id, an
  id that is a member elsewhere, or an address another member uses.
- `member_remove` (`node_id`, `force`): the node leaves the members and is retired; group
  leaders then take it out of every group. Reply 1; 0 when it was already retired. Refused
  for an unknown id and for the last member.
- `member_address` (`node_id`, `raft_addr`): a member moved. Reply 1 (0: no change).
- `replication_factor` (`factor`, 1..MAX_FACTOR): how many nodes replicate each data group;
  the shard map is placed again (`system/placement.py`).

Group leaders act on these sections (`membership/reconciler.py`); transports dial the members.
"""

from __future__ import annotations

from typing import Any

from seshat_trio.config import Address
from seshat_trio.protocol import Reply
from seshat_trio.storage import SYSTEM_GROUP
from seshat_trio.system.layout import (
    MEMBERS,
    SHARDS,
    ClusterLayout,
    NodeAddresses,
    layout_of,
    members_section,
)
from seshat_trio.system.placement import DEFAULT_FACTOR, replace
from seshat_trio.system.registry import (
    Changes,
    Operation,
    OperationRefused,
    SystemState,
    encode_operation,
    register_operation,
)

RETIRED = "retired"
REPLICATION = "replication"
SECTION_VERSION = 1
MAX_FACTOR = 7


class MembershipSectionError(ValueError):
    """A stored `retired` or `replication` section this build cannot read."""


def retired_of(state: SystemState) -> dict[int, bool]:
    """Every node removed from the cluster -> whether its removal was forced."""
    return {node_id: force for node_id, (force, _) in _retired(state).items()}


def retired_addresses(state: SystemState) -> dict[int, Address]:
    """Every node removed from the cluster -> its last internal address."""
    return {node_id: Address.parse(addr) for node_id, (_, addr) in _retired(state).items()}


def _retired(state: SystemState) -> dict[int, tuple[bool, str]]:
    section = state.section(RETIRED)
    if section is None:
        return {}
    items = _items(section, RETIRED)
    try:
        return {
            int(item["node_id"]): (bool(item["force"]), str(item["raft_addr"])) for item in items
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise MembershipSectionError(f"the {RETIRED} section is malformed: {exc!r}") from exc


def wanted_voters(state: SystemState, group: int) -> frozenset[int] | None:
    """Who should vote in `group`: every member in the system group, the placement's
    replicas in a data group; None when unknown (no layout yet, or no such group)."""
    layout = layout_of(state)
    if layout is None:
        return None
    if group == SYSTEM_GROUP:
        return frozenset(m.node_id for m in layout.members)
    if group not in layout.shards.group_ids:
        return None
    return frozenset(layout.shards.replicas(group))


def replication_factor_of(state: SystemState) -> int:
    section = state.section(REPLICATION)
    if section is None:
        return DEFAULT_FACTOR
    if not isinstance(section, dict) or section.get("v") != SECTION_VERSION:
        raise MembershipSectionError(f"the {REPLICATION} section has an unsupported format")
    return int(section["factor"])


def _items(section: Any, name: str) -> Any:
    if not isinstance(section, dict) or section.get("v") != SECTION_VERSION:
        raise MembershipSectionError(f"the {name} section has an unsupported format")
    return section.get("items", [])


# -- proposing --------------------------------------------------------------------------


def encode_member_add(node_id: int, raft_addr: Address) -> bytes:
    return encode_operation("member_add", node_id=node_id, raft_addr=str(raft_addr))


def encode_member_remove(node_id: int, *, force: bool) -> bytes:
    return encode_operation("member_remove", node_id=node_id, force=force)


def encode_member_address(node_id: int, raft_addr: Address) -> bytes:
    return encode_operation("member_address", node_id=node_id, raft_addr=str(raft_addr))


def encode_replication_factor(factor: int) -> bytes:
    return encode_operation("replication_factor", factor=factor)


# -- applying ---------------------------------------------------------------------------


def _layout(state: SystemState) -> ClusterLayout:
    layout = layout_of(state)
    if layout is None:
        raise OperationRefused("TRYAGAIN the cluster is not bootstrapped yet")
    return layout


def _members(state: SystemState) -> tuple[NodeAddresses, ...]:
    return _layout(state).members


def _node_id(op: Operation) -> int:
    node_id = op.get("node_id")
    if not isinstance(node_id, int) or isinstance(node_id, bool) or node_id <= 0:
        raise OperationRefused(f"ERR invalid node id {node_id!r}: it must be an integer > 0")
    return node_id


def _address(op: Operation) -> str:
    try:
        return str(Address.parse(str(op.get("raft_addr"))))
    except ValueError as exc:
        raise OperationRefused(f"ERR invalid address {op.get('raft_addr')!r}: {exc}") from exc


def _with_members(state: SystemState, members: list[NodeAddresses]) -> Changes:
    """The members section for `members`, and the shard map placed over them if it moved."""
    changes: dict[str, Any] = {MEMBERS: members_section(sorted(members, key=lambda m: m.node_id))}
    shards = _layout(state).shards
    placed = replace(shards, (m.node_id for m in members), replication_factor_of(state))
    if placed != shards:
        changes[SHARDS] = placed.to_json()
    return changes


def _apply_member_add(state: SystemState, op: Operation) -> tuple[Changes, Reply]:
    node_id, address = _node_id(op), _address(op)
    members = list(_members(state))
    if node_id in retired_of(state):
        raise OperationRefused(
            f"ERR node id {node_id} was removed from the cluster and node ids are never "
            "reused: start the new node with another id"
        )
    for member in members:
        if member.node_id == node_id:
            if member.raft_addr == address:
                return {}, 0
            raise OperationRefused(
                f"ERR node {node_id} is already a member at {member.raft_addr} (move it with "
                "SESHAT.MEMBER ADDRESS, or pick another id)"
            )
        if member.raft_addr == address:
            raise OperationRefused(f"ERR node {member.node_id} already uses address {address}")
    return _with_members(state, [*members, NodeAddresses(node_id, address)]), 1


def _apply_member_remove(state: SystemState, op: Operation) -> tuple[Changes, Reply]:
    node_id, force = _node_id(op), bool(op.get("force", False))
    retired = _retired(state)
    members = list(_members(state))
    leaving = [m for m in members if m.node_id == node_id]
    if not leaving:
        if node_id in retired:
            return {}, 0
        raise OperationRefused(f"ERR no member with node id {node_id}")
    remaining = [m for m in members if m.node_id != node_id]
    if not remaining:
        raise OperationRefused("ERR cannot remove the last member of the cluster")
    retired[node_id] = (force, leaving[0].raft_addr)
    items = [
        {"node_id": n, "force": f, "raft_addr": addr} for n, (f, addr) in sorted(retired.items())
    ]
    return {**_with_members(state, remaining), RETIRED: {"v": SECTION_VERSION, "items": items}}, 1


def _apply_member_address(state: SystemState, op: Operation) -> tuple[Changes, Reply]:
    node_id, address = _node_id(op), _address(op)
    members = list(_members(state))
    if not any(m.node_id == node_id for m in members):
        raise OperationRefused(f"ERR no member with node id {node_id}")
    if any(m.raft_addr == address and m.node_id != node_id for m in members):
        raise OperationRefused(f"ERR another member already uses address {address}")
    moved = [NodeAddresses(node_id, address) if m.node_id == node_id else m for m in members]
    return ({}, 0) if moved == members else (_with_members(state, moved), 1)


def _apply_replication_factor(state: SystemState, op: Operation) -> tuple[Changes, Reply]:
    factor = op.get("factor")
    if not isinstance(factor, int) or isinstance(factor, bool) or not 1 <= factor <= MAX_FACTOR:
        raise OperationRefused(
            f"ERR invalid replication factor {factor!r}: it must be 1 to {MAX_FACTOR}"
        )
    if factor == replication_factor_of(state):
        return {}, 0
    changes: dict[str, Any] = {REPLICATION: {"v": SECTION_VERSION, "factor": factor}}
    layout = _layout(state)
    placed = replace(layout.shards, (m.node_id for m in layout.members), factor)
    if placed != layout.shards:
        changes[SHARDS] = placed.to_json()
    return changes, 1


register_operation("member_add", _apply_member_add)
register_operation("member_remove", _apply_member_remove)
register_operation("member_address", _apply_member_address)
register_operation("replication_factor", _apply_replication_factor)
