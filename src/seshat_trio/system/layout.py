"""The cluster layout in the system group: its members and its shard map.

Sections: `members` (node id -> internal Raft address, `{"v": 1, "items": [...]}`) and
`shards` (the shard map: slot ranges -> data group, group -> replicas; see
`system/shard_map.py`). Client addresses are not replicated: each node announces its own in
the transport's Hello frame, so they are always current.

Operation `bootstrap` (fields `members` and `shards`, the two sections' contents): the
first leader of group 0 proposes it once; applying it when a layout is already set changes
nothing and replies 0 (1 when taken), so a re-proposal after a leader change is safe.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from seshat_trio.protocol import Reply
from seshat_trio.system.placement import initial_shard_map
from seshat_trio.system.registry import (
    Changes,
    Operation,
    OperationRefused,
    SystemState,
    encode_operation,
    register_operation,
)
from seshat_trio.system.shard_map import ShardMap, ShardMapError, shard_map_from_json

SECTION_VERSION = 1
MEMBERS = "members"
SHARDS = "shards"


@attrs.frozen(slots=True)
class NodeAddresses:
    """A member as the cluster records it."""

    node_id: int
    raft_addr: str


@attrs.frozen(slots=True)
class ClusterLayout:
    members: tuple[NodeAddresses, ...]
    shards: ShardMap


def initial_layout(members: Iterable[NodeAddresses], data_groups: int) -> ClusterLayout:
    """A new cluster's layout: `members`, and `data_groups` groups placed over them."""
    ordered = tuple(sorted(members, key=lambda m: m.node_id))
    return ClusterLayout(ordered, initial_shard_map((m.node_id for m in ordered), data_groups))


def _members_from(items: Any) -> tuple[NodeAddresses, ...]:
    try:
        return tuple(NodeAddresses(int(i["node_id"]), str(i["raft_addr"])) for i in items)
    except (KeyError, TypeError, ValueError) as exc:
        raise OperationRefused(f"ERR malformed member list: {exc!r}") from exc


def _shards_from(section: Any, members: tuple[NodeAddresses, ...]) -> ShardMap:
    try:
        return shard_map_from_json(section, (m.node_id for m in members))
    except ShardMapError as exc:
        raise OperationRefused(f"ERR {exc}") from exc


def _items(section: Any, what: str) -> Any:
    if not isinstance(section, dict) or section.get("v") != SECTION_VERSION:
        raise ValueError(f"the {what} section has an unsupported format")
    return section.get("items")


# The last states parsed and their layouts. A SystemState is immutable and replaced on every
# change, so its identity is the key: the membership reconciler asks for every group it leads
# once per tick, and parsing the shard map costs milliseconds (an idle node with 64 groups
# spent most of its CPU here). A few entries: tests run several nodes in one process.
_PARSED: list[tuple[SystemState, ClusterLayout | None]] = []
_PARSED_KEEP = 8


def layout_of(state: SystemState) -> ClusterLayout | None:
    """The layout the state records, or None before the bootstrap is applied."""
    for seen, layout in _PARSED:
        if seen is state:
            return layout
    members, shards = state.section(MEMBERS), state.section(SHARDS)
    if members is None or shards is None:
        layout = None
    else:
        nodes = _members_from(_items(members, MEMBERS))
        layout = ClusterLayout(nodes, shard_map_from_json(shards, (m.node_id for m in nodes)))
    _PARSED.insert(0, (state, layout))
    del _PARSED[_PARSED_KEEP:]
    return layout


def members_section(members: Iterable[NodeAddresses]) -> dict[str, Any]:
    """The `members` section's value for `members`."""
    return {"v": SECTION_VERSION, "items": [attrs.asdict(m) for m in members]}


def _sections(layout: ClusterLayout) -> dict[str, Any]:
    return {
        MEMBERS: members_section(layout.members),
        SHARDS: layout.shards.to_json(),
    }


def encode_bootstrap(layout: ClusterLayout) -> bytes:
    sections = _sections(layout)
    return encode_operation(
        "bootstrap", members=sections[MEMBERS]["items"], shards=sections[SHARDS]
    )


def _apply_bootstrap(state: SystemState, op: Operation) -> tuple[Changes, Reply]:
    members, shards = _members_from(op.get("members")), op.get("shards")
    if isinstance(shards, list):  # proposed by a build whose map was its slot ranges only
        shards = {"v": 1, "items": shards}
    proposed = ClusterLayout(members, _shards_from(shards, members))
    if layout_of(state) is not None:
        return {}, 0
    return _sections(proposed), 1


register_operation("bootstrap", _apply_bootstrap)
