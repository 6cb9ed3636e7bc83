"""The shard map: which data group serves each hash slot, and which nodes replicate each group.

It is the `shards` section of the system group, the only source of truth for routing:

    {"v": 2, "version": 1,
     "groups": [{"group": 1, "replicas": [1, 2, 3]}, ...],
     "items": [{"first_slot": 0, "last_slot": 5460, "group": 1, "state": "stable"}, ...]}

Rules:
- The slot ranges are sorted and cover the 16,384 slots exactly once; every range names a
  group of `groups`. A slot's range carries a `state`: only `stable` is served today; the
  field is there so that a later live slot move can mark ranges `migrating`/`importing`
  without a new format.
- `version` only grows: any change of the map (a slot move, a new placement) bumps it, so
  nodes and clients can tell an older map from a newer one.
- Where groups are placed (`replicas`) is decided by `system/placement.py`.
- A version-1 section (ranges only, written before groups had placements) reads as map
  version 1 with every member replicating every group.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from seshat_trio.slots import SLOT_COUNT

FORMAT = 2


class SlotState(enum.Enum):
    STABLE = "stable"


class ShardMapError(ValueError):
    """A shard map that breaks the rules above (the message says which)."""


@attrs.frozen(slots=True)
class SlotRange:
    """Slots `first_slot..last_slot` (inclusive) are served by data group `group`."""

    first_slot: int
    last_slot: int
    group: int
    state: SlotState = SlotState.STABLE


@attrs.frozen(slots=True)
class GroupPlacement:
    """Data group `group` is replicated by the nodes `replicas` (ascending ids)."""

    group: int
    replicas: tuple[int, ...]


@attrs.frozen(slots=True)
class ShardMap:
    version: int
    groups: tuple[GroupPlacement, ...]
    ranges: tuple[SlotRange, ...]

    def __attrs_post_init__(self) -> None:
        ids = [placement.group for placement in self.groups]
        if not ids or len(set(ids)) != len(ids) or min(ids) < 1:
            raise ShardMapError(f"data groups must be distinct ids >= 1, not {ids}")
        expected = 0
        for item in self.ranges:
            if item.first_slot != expected or item.last_slot < item.first_slot:
                raise ShardMapError(f"slot ranges must cover every slot in order (at {expected})")
            if item.group not in ids:
                raise ShardMapError(
                    f"slots {item.first_slot}-{item.last_slot}: no group {item.group}"
                )
            expected = item.last_slot + 1
        if expected != SLOT_COUNT:
            raise ShardMapError(f"slot ranges end at {expected}, not {SLOT_COUNT}")

    @property
    def group_ids(self) -> tuple[int, ...]:
        return tuple(placement.group for placement in self.groups)

    def replicas(self, group: int) -> tuple[int, ...]:
        for placement in self.groups:
            if placement.group == group:
                return placement.replicas
        raise KeyError(group)

    def groups_of(self, node_id: int) -> tuple[int, ...]:
        """The data groups `node_id` replicates."""
        return tuple(p.group for p in self.groups if node_id in p.replicas)

    def slot_table(self) -> list[int]:
        """The group of every slot, indexed by slot (one list lookup per routed key)."""
        table = [0] * SLOT_COUNT
        for item in self.ranges:
            table[item.first_slot : item.last_slot + 1] = [item.group] * (
                item.last_slot - item.first_slot + 1
            )
        return table

    def to_json(self) -> dict[str, Any]:
        return {
            "v": FORMAT,
            "version": self.version,
            "groups": [{"group": p.group, "replicas": list(p.replicas)} for p in self.groups],
            "items": [
                {
                    "first_slot": r.first_slot,
                    "last_slot": r.last_slot,
                    "group": r.group,
                    "state": r.state.value,
                }
                for r in self.ranges
            ],
        }


def even_ranges(groups: Sequence[int]) -> tuple[SlotRange, ...]:
    """The slots split into len(groups) contiguous ranges of (almost) equal size, in order,
    with the boundaries `redis-cli --cluster create` gives as many masters."""
    per_group = SLOT_COUNT / len(groups)
    ranges, first, cursor = [], 0, 0.0
    for i, group in enumerate(groups):
        last = SLOT_COUNT - 1 if i == len(groups) - 1 else round(cursor + per_group - 1)
        ranges.append(SlotRange(first, last, group))
        first, cursor = last + 1, cursor + per_group
    return tuple(ranges)


def shard_map_from_json(section: Any, members: Iterable[int]) -> ShardMap:
    """Decode the `shards` section; `members` place the groups of a version-1 section."""
    try:
        fmt = section["v"]
        items = section["items"]
        ranges = tuple(
            SlotRange(
                int(i["first_slot"]),
                int(i["last_slot"]),
                int(i["group"]),
                SlotState(i.get("state", SlotState.STABLE.value)),
            )
            for i in items
        )
        if fmt == 1:
            everyone = tuple(sorted(members))
            ids = sorted({r.group for r in ranges})
            return ShardMap(1, tuple(GroupPlacement(g, everyone) for g in ids), ranges)
        if fmt != FORMAT:
            raise ShardMapError(f"shard map format {fmt!r} is not supported")
        groups = tuple(
            GroupPlacement(int(g["group"]), tuple(sorted(int(n) for n in g["replicas"])))
            for g in section["groups"]
        )
        return ShardMap(int(section["version"]), groups, ranges)
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ShardMapError):
            raise
        raise ShardMapError(f"malformed shard map: {exc!r}") from exc
