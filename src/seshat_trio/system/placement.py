"""Placement: which nodes replicate each data group (recorded in the shard map).

Today every member replicates every data group, as the single data group always did: a
cluster of N nodes survives the loss of a minority of them for every group. Leaders, not
replicas, spread the load. When the members change (`membership/state.py`), `for_members`
places the groups over the new members and bumps the map's version; each group's leader
then moves the group's Raft membership to the placement (`membership/reconciler.py`).
Placing fewer replicas than members (the replication factor, recorded by the membership
operations) needs the router to serve slots of groups a node does not replicate: until
then every member replicates every group.
"""

from __future__ import annotations

from collections.abc import Iterable

from seshat_trio.system.shard_map import GroupPlacement, ShardMap, even_ranges

FIRST_DATA_GROUP = 1


def place_groups(node_ids: Iterable[int], groups: Iterable[int]) -> tuple[GroupPlacement, ...]:
    """The replicas of each group of `groups` among `node_ids`."""
    everyone = tuple(sorted(set(node_ids)))
    return tuple(GroupPlacement(group, everyone) for group in groups)


def initial_shard_map(node_ids: Iterable[int], group_count: int) -> ShardMap:
    """The map a new cluster starts with: groups 1..G, the slots split evenly among them."""
    if group_count < 1:
        raise ValueError(f"a cluster needs at least one data group, not {group_count}")
    groups = range(FIRST_DATA_GROUP, FIRST_DATA_GROUP + group_count)
    return ShardMap(1, place_groups(node_ids, groups), even_ranges(list(groups)))


def for_members(shards: ShardMap, node_ids: Iterable[int]) -> ShardMap:
    """`shards` with its groups placed over `node_ids`: the same map when nothing moves,
    else a new version."""
    placements = place_groups(node_ids, shards.group_ids)
    if placements == shards.groups:
        return shards
    return ShardMap(shards.version + 1, placements, shards.ranges)
