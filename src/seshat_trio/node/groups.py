"""The group routing seam: key -> slot -> data group -> this node's replica, or a remote one.

`GroupRouter` holds every data group of the cluster as this node sees it: a `GroupService`
(it proposes locally or forwards to the group's leader) for each group it has a driver of,
and the slot table of the shard map recorded in the system group (`system/shard_map.py`).
It subscribes to the system state machine, so the table follows every applied change of
the map synchronously. Commands, forwarding, expiry, INFO and the admin endpoints ask it
instead of assuming one data group.

A group this node does not vote in (placement put it elsewhere, or it is still catching up
as a learner, or it was removed) is served through a `RemoteGroup`
(node/remote_group.py), which forwards every command to a replica the map names; whether
the node votes is read from the group's applied membership at each routing, so a replica
starts and stops serving locally exactly as Raft adds and removes it.

Until the map is known (a new cluster's bootstrap is not applied yet) a routed command
waits for it, as a write waits for a leader.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import trio

from seshat_trio.errors import ServiceError
from seshat_trio.logs import get_logger
from seshat_trio.node.group_service import GroupService
from seshat_trio.node.remote_group import RemoteGroup
from seshat_trio.system.layout import SHARDS, layout_of
from seshat_trio.system.registry import SystemState
from seshat_trio.system.shard_map import ShardMap

log = get_logger(__name__)

NO_MAP = "CLUSTERDOWN the cluster's shard map is not known yet (the cluster is starting); retry"


class GroupRouter:
    def __init__(
        self,
        groups: Mapping[int, GroupService],
        timeout_s: float,
        remote: Callable[[int, Callable[[], Sequence[int]]], RemoteGroup] | None = None,
    ) -> None:
        """`groups`: this node's drivers of data groups; `remote(group, replicas)` builds the
        backend of a group this node does not vote in (without it, such a slot is
        CLUSTERDOWN)."""
        self._groups = dict(sorted(groups.items()))
        self._services = tuple(self._groups.values())
        self._timeout_s = timeout_s
        self._remote_factory = remote
        self._remotes: dict[int, RemoteGroup] = {}
        self._table: list[int] | None = None
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
        self._table = layout.shards.slot_table()
        self._known.set()
        log.info(
            "shard_map",
            version=layout.shards.version,
            groups=list(layout.shards.group_ids),
            local=list(self._groups),
        )

    @property
    def local(self) -> Sequence[GroupService]:
        """The data groups this node has a driver of (replicas, learners, leftovers)."""
        return self._services

    def hosted(self) -> list[GroupService]:
        """The data groups this node votes in."""
        return [service for service in self._services if service.hosted]

    @property
    def groups(self) -> Sequence[GroupService | RemoteGroup]:
        """Every data group of the map by group id (this node's drivers before it is known)."""
        shards = self.shard_map
        if shards is None:
            return self._services
        return [self._backend(group) for group in shards.group_ids]

    def group(self, group: int) -> GroupService | RemoteGroup | None:
        shards = self.shard_map
        if shards is None or group not in shards.group_ids:
            return self._groups.get(group)
        return self._backend(group)

    def for_slot(self, slot: int) -> GroupService | RemoteGroup | None:
        """The group serving `slot`; None while the map is unknown."""
        table = self._table
        if table is None:
            return None
        return self._backend(table[slot])

    def _backend(self, group: int) -> GroupService | RemoteGroup:
        service = self._groups.get(group)
        if service is not None and service.hosted:
            return service
        remote = self._remotes.get(group)
        if remote is None:
            if self._remote_factory is None:
                raise ServiceError(f"CLUSTERDOWN data group {group} has no replica on this node")
            remote = self._remote_factory(group, lambda: self._replicas(group))
            self._remotes[group] = remote
        return remote

    def _replicas(self, group: int) -> Sequence[int]:
        shards = self.shard_map
        return () if shards is None else shards.replicas(group)

    async def wait_for_map(self) -> None:
        """Return once the shard map is known; CLUSTERDOWN after the request timeout."""
        with trio.move_on_after(self._timeout_s):
            await self._known.wait()
            return
        raise ServiceError(NO_MAP)
