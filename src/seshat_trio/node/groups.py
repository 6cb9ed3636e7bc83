"""The group routing seam: key -> slot -> data group -> this node's replica of it.

`GroupRouter` holds the data groups this node replicates (`GroupService`, which proposes
locally or forwards to the group's leader) and the slot table of the shard map recorded in
the system group (`system/shard_map.py`). It subscribes to the system state machine, so
the table follows every applied change of the map synchronously. Commands, forwarding,
expiry, INFO and the admin endpoints ask it instead of assuming one data group.

Until the map is known (a new cluster's bootstrap is not applied yet) a routed command
waits for it, as a write waits for a leader; a slot whose group this node does not
replicate is refused with CLUSTERDOWN (placement keeps every group on every node today).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import trio

from seshat_trio.errors import ServiceError
from seshat_trio.logs import get_logger
from seshat_trio.node.group_service import GroupService
from seshat_trio.system.layout import SHARDS, layout_of
from seshat_trio.system.registry import SystemState
from seshat_trio.system.shard_map import ShardMap

log = get_logger(__name__)

NO_MAP = "CLUSTERDOWN the cluster's shard map is not known yet (the cluster is starting); retry"


class GroupRouter:
    def __init__(self, groups: Mapping[int, GroupService], timeout_s: float) -> None:
        self._groups = dict(sorted(groups.items()))
        self._services = tuple(self._groups.values())
        self._timeout_s = timeout_s
        self._table: list[GroupService | None] | None = None
        self._known = trio.Event()
        self.shard_map: ShardMap | None = None

    def on_system_state(self, state: SystemState, changed: frozenset[str]) -> None:
        """`SystemStateMachine.subscribe` callback: rebuild the slot table on a new map."""
        if SHARDS not in changed:
            return
        layout = layout_of(state)
        if layout is None or layout.shards == self.shard_map:
            return
        self.shard_map = layout.shards
        self._table = [self._groups.get(group) for group in layout.shards.slot_table()]
        self._known.set()
        log.info(
            "shard_map",
            version=layout.shards.version,
            groups=list(layout.shards.group_ids),
            local=list(self._groups),
        )

    @property
    def groups(self) -> Sequence[GroupService]:
        """The data groups this node replicates, by group id."""
        return self._services

    def group(self, group: int) -> GroupService | None:
        return self._groups.get(group)

    def for_slot(self, slot: int) -> GroupService | None:
        """The local replica of the group serving `slot`; None while the map is unknown."""
        table = self._table
        if table is None:
            return None
        service = table[slot]
        if service is None:
            raise ServiceError(f"CLUSTERDOWN slot {slot} is served by a group this node lacks")
        return service

    async def wait_for_map(self) -> None:
        """Return once the shard map is known; CLUSTERDOWN after the request timeout."""
        with trio.move_on_after(self._timeout_s):
            await self._known.wait()
            return
        raise ServiceError(NO_MAP)
