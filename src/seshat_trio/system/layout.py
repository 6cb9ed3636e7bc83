"""The cluster layout in the system group: its members and its shard map.

Sections: `members` (node id -> internal Raft address) and `shards` (slot ranges -> data
group), each `{"v": 1, "items": [...]}`. Client addresses are not replicated: each node
announces its own in the transport's Hello frame, so they are always current.

Operation `bootstrap` (fields `members`, `shards`): the first leader of group 0 proposes it
once; applying it when a layout is already set changes nothing and replies 0 (1 when taken),
so a re-proposal after a leader change is safe.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from seshat_trio.protocol import Reply
from seshat_trio.slots import SLOT_COUNT
from seshat_trio.system.registry import (
    Changes,
    Operation,
    OperationRefused,
    SystemState,
    encode_operation,
    register_operation,
)

SECTION_VERSION = 1
DATA_GROUP = 1
MEMBERS = "members"
SHARDS = "shards"


@attrs.frozen(slots=True)
class NodeAddresses:
    """A member as the cluster records it."""

    node_id: int
    raft_addr: str


@attrs.frozen(slots=True)
class Shard:
    """Slots `first_slot..last_slot` (inclusive) are served by data group `group`."""

    first_slot: int
    last_slot: int
    group: int


@attrs.frozen(slots=True)
class ClusterLayout:
    members: tuple[NodeAddresses, ...]
    shards: tuple[Shard, ...]


def single_shard_layout(members: Iterable[NodeAddresses]) -> ClusterLayout:
    """Every slot in one shard, served by data group 1."""
    ordered = tuple(sorted(members, key=lambda m: m.node_id))
    return ClusterLayout(ordered, (Shard(0, SLOT_COUNT - 1, DATA_GROUP),))


def _members_from(items: Any) -> tuple[NodeAddresses, ...]:
    try:
        return tuple(NodeAddresses(int(i["node_id"]), str(i["raft_addr"])) for i in items)
    except (KeyError, TypeError, ValueError) as exc:
        raise OperationRefused(f"ERR malformed member list: {exc!r}") from exc


def _shards_from(items: Any) -> tuple[Shard, ...]:
    try:
        return tuple(
            Shard(int(i["first_slot"]), int(i["last_slot"]), int(i["group"])) for i in items
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise OperationRefused(f"ERR malformed shard list: {exc!r}") from exc


def _items(section: Any, what: str) -> Any:
    if not isinstance(section, dict) or section.get("v") != SECTION_VERSION:
        raise ValueError(f"the {what} section has an unsupported format")
    return section.get("items")


def layout_of(state: SystemState) -> ClusterLayout | None:
    """The layout the state records, or None before the bootstrap is applied."""
    members, shards = state.section(MEMBERS), state.section(SHARDS)
    if members is None or shards is None:
        return None
    return ClusterLayout(
        _members_from(_items(members, MEMBERS)), _shards_from(_items(shards, SHARDS))
    )


def members_section(members: Iterable[NodeAddresses]) -> dict[str, Any]:
    """The `members` section's value for `members`."""
    return {"v": SECTION_VERSION, "items": [attrs.asdict(m) for m in members]}


def _sections(layout: ClusterLayout) -> dict[str, Any]:
    return {
        MEMBERS: members_section(layout.members),
        SHARDS: {"v": SECTION_VERSION, "items": [attrs.asdict(s) for s in layout.shards]},
    }


def encode_bootstrap(layout: ClusterLayout) -> bytes:
    sections = _sections(layout)
    return encode_operation(
        "bootstrap", members=sections[MEMBERS]["items"], shards=sections[SHARDS]["items"]
    )


def _apply_bootstrap(state: SystemState, op: Operation) -> tuple[Changes, Reply]:
    proposed = ClusterLayout(_members_from(op.get("members")), _shards_from(op.get("shards")))
    if layout_of(state) is not None:
        return {}, 0
    return _sections(proposed), 1


register_operation("bootstrap", _apply_bootstrap)
