"""Placement: which nodes replicate each data group (recorded in the shard map).

Today every member replicates every data group, as the single data group always did: a
cluster of N nodes survives the loss of a minority of them for every group. Leaders, not
replicas, spread the load. Membership changes extend this module (a
replication factor, new nodes taking over replicas); the shard map records its decisions.
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
