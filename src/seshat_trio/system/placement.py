"""Placement: which nodes replicate each data group (recorded in the shard map).

Each data group has `factor` replicas (the replication factor, `membership/state.py`; every
member when the cluster has no more members than that). Rules, all deterministic (every
node computes the same map at apply):

- Balanced: a new cluster's loads (groups per node) differ by one at most; after members
  or the factor change a node replicates at most one more than ceil(G*F/N) (G groups,
  factor F, N nodes), since replicas only move where the bound makes them.
- Sticky: a replica stays where it is while its node is a member and the group does not
  have too many. A node over the bound (members joined) hands replicas, one at a time, to a
  node under it that is not in the group yet, spreading the moves over the groups (a
  newcomer can join each group only once). Then the missing replicas are placed, each on
  the least-loaded member not in the group yet (ties broken by a hash of (group, node), so
  groups spread over different nodes). A new member thus takes only the replicas it needs
  to even the loads; a removed member's replicas alone move.
- Leaders, not replicas, spread the client load: each group has a preferred leader, rotating
  over its own voters, and the node's leader balancer (node/balancer.py) hands each group
  to it.

The system group is not placed: every member votes in it (membership lives there). When the
members or the factor change, `replace` places the groups again and bumps the map's
version; each group's leader then moves the group's Raft membership to the placement, one
step at a time, adding before removing (`membership/reconciler.py`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from seshat_trio.system.shard_map import GroupPlacement, ShardMap, even_ranges

FIRST_DATA_GROUP = 1
DEFAULT_FACTOR = 3


def place_groups(
    node_ids: Iterable[int],
    groups: Iterable[int],
    factor: int = DEFAULT_FACTOR,
    previous: Sequence[GroupPlacement] = (),
) -> tuple[GroupPlacement, ...]:
    """The replicas of each group of `groups` among `node_ids`, keeping what `previous`
    placed where the rules above allow."""
    nodes = sorted(set(node_ids))
    ids = list(groups)
    if not nodes:
        raise ValueError("placement needs at least one node")
    if factor < 1:
        raise ValueError(f"the replication factor must be >= 1, not {factor}")
    wanted = min(factor, len(nodes))
    bound = -(-len(ids) * wanted // len(nodes))  # ceil(G*F/N)
    members = set(nodes)
    before = {p.group: p.replicas for p in previous}
    placed = {
        group: list(dict.fromkeys(n for n in before.get(group, ()) if n in members))
        for group in ids
    }
    load = dict.fromkeys(nodes, 0)
    for replicas in placed.values():
        for node in replicas:
            load[node] += 1
    _trim(placed, ids, wanted, load)
    _shed(placed, ids, bound, load)
    # Then the missing ones on the least-loaded members, the groups missing most first.
    for group in sorted(ids, key=lambda g: (len(placed[g]), g)):
        replicas = placed[group]
        while len(replicas) < wanted:
            node = min(
                (n for n in nodes if n not in replicas),
                key=lambda n: (load[n], _spread(group, n)),
            )
            replicas.append(node)
            load[node] += 1
    return tuple(GroupPlacement(group, tuple(sorted(placed[group]))) for group in ids)


def _trim(placed: dict[int, list[int]], ids: list[int], wanted: int, load: dict[int, int]) -> None:
    """Drop the replicas a group has beyond `wanted` (the factor fell), one per group per
    round and each time from its most loaded node, so every group keeps most of its own."""
    while any(len(placed[group]) > wanted for group in ids):
        for group in ids:
            replicas = placed[group]
            if len(replicas) > wanted:
                node = max(replicas, key=lambda n: (load[n], n))
                replicas.remove(node)
                load[node] -= 1


def _shed(placed: dict[int, list[int]], ids: list[int], bound: int, load: dict[int, int]) -> None:
    """Move replicas off nodes above `bound` (members joined) to nodes below it that are not
    in the group yet, each move into the group that has moved least (a newcomer joins a
    group once, so two replicas of one group cannot both move to it). A node left above the
    bound had no such move: every node below it already replicates its groups."""
    stuck: set[int] = set()
    moves = dict.fromkeys(ids, 0)
    while True:
        over = [n for n in load if load[n] > bound and n not in stuck]
        if not over:
            return
        node = min(over, key=lambda n: (-load[n], n))
        under = [n for n in load if load[n] < bound]
        options = [
            (moves[group], load[to], _spread(group, to), group, to)
            for group in ids
            if node in placed[group]
            for to in under
            if to not in placed[group]
        ]
        if not options:
            stuck.add(node)
            continue
        *_, group, to = min(options)
        replicas = placed[group]
        replicas[replicas.index(node)] = to
        moves[group] += 1
        load[node] -= 1
        load[to] += 1


def _spread(group: int, node: int) -> bytes:
    """A stable pseudo-random rank of `node` for `group` (the same on every node)."""
    return hashlib.blake2b(f"{group}:{node}".encode(), digest_size=8).digest()


def initial_shard_map(
    node_ids: Iterable[int], group_count: int, factor: int = DEFAULT_FACTOR
) -> ShardMap:
    """The map a new cluster starts with: groups 1..G, the slots split evenly among them."""
    if group_count < 1:
        raise ValueError(f"a cluster needs at least one data group, not {group_count}")
    groups = range(FIRST_DATA_GROUP, FIRST_DATA_GROUP + group_count)
    return ShardMap(1, place_groups(node_ids, groups, factor), even_ranges(list(groups)))


def preferred_leader(group: int, voters: Sequence[int]) -> int | None:
    """The voter that should lead `group`: groups 1, 2, 3, ... rotate over the group's
    voters in id order, so leadership spreads evenly (None without voters)."""
    if not voters:
        return None
    ordered = sorted(voters)
    return ordered[(group - FIRST_DATA_GROUP) % len(ordered)]


def replace(shards: ShardMap, node_ids: Iterable[int], factor: int) -> ShardMap:
    """`shards` with its groups placed over `node_ids` with `factor` replicas each: the same
    map when nothing moves, else a new version."""
    placements = place_groups(node_ids, shards.group_ids, factor, shards.groups)
    if placements == shards.groups:
        return shards
    return ShardMap(shards.version + 1, placements, shards.ranges)
