"""Placement: F replicas per group, balanced, deterministic, and sticky when members or the
factor change (system/placement.py)."""

from __future__ import annotations

from collections import Counter

from hypothesis import example, given, settings
from hypothesis import strategies as st

from seshat_trio.system.placement import (
    DEFAULT_FACTOR,
    initial_shard_map,
    place_groups,
    preferred_leader,
    replace,
)
from seshat_trio.system.shard_map import GroupPlacement

nodes_st = st.sets(st.integers(1, 40), min_size=1, max_size=9)
groups_st = st.integers(1, 64)
factor_st = st.integers(1, 7)


def loads(placements: tuple[GroupPlacement, ...], nodes: set[int]) -> Counter[int]:
    counts = Counter(dict.fromkeys(nodes, 0))
    for p in placements:
        counts.update(p.replicas)
    return counts


def moved(before: tuple[GroupPlacement, ...], after: tuple[GroupPlacement, ...]) -> int:
    """Replicas added anywhere (each one a learner to catch up)."""
    old = {p.group: set(p.replicas) for p in before}
    return sum(len(set(p.replicas) - old.get(p.group, set())) for p in after)


def bound(groups: int, factor: int, nodes: int) -> int:
    return -(-groups * min(factor, nodes) // nodes)


@given(nodes_st, groups_st, factor_st)
def test_each_group_gets_factor_distinct_members_evenly(
    nodes: set[int], groups: int, factor: int
) -> None:
    placed = place_groups(nodes, range(1, groups + 1), factor)
    assert [p.group for p in placed] == list(range(1, groups + 1))
    for p in placed:
        assert len(p.replicas) == min(factor, len(nodes))
        assert len(set(p.replicas)) == len(p.replicas) and set(p.replicas) <= nodes
        assert list(p.replicas) == sorted(p.replicas)
    counts = loads(placed, nodes)
    assert max(counts.values()) - min(counts.values()) <= 1
    # Deterministic: the same inputs in any order give the same placement.
    assert place_groups(sorted(nodes, reverse=True), range(1, groups + 1), factor) == placed


@settings(max_examples=200)
@given(nodes_st, groups_st, factor_st, st.integers(41, 60))
# Two replicas of one group on nodes over the bound: only one may move to the newcomer.
@example(nodes={2, 3, 4, 5, 6, 8, 9, 10, 12}, groups=5, factor=6, newcomer=41)
@example(nodes={1, 3, 4, 5, 6, 7, 9, 10, 11}, groups=5, factor=6, newcomer=41)
def test_a_new_member_takes_only_what_evens_the_loads(
    nodes: set[int], groups: int, factor: int, newcomer: int
) -> None:
    before = place_groups(nodes, range(1, groups + 1), factor)
    after = place_groups(nodes | {newcomer}, range(1, groups + 1), factor, before)
    counts = loads(after, nodes | {newcomer})
    assert max(counts.values()) <= bound(groups, factor, len(nodes) + 1) + 1
    if factor <= len(nodes):
        # Only the newcomer gains replicas: no group moves between old members.
        assert moved(before, after) == counts[newcomer]
    # Stable: placing again changes nothing.
    assert place_groups(nodes | {newcomer}, range(1, groups + 1), factor, after) == after


@settings(max_examples=200)
@given(nodes_st.filter(lambda n: len(n) >= 2), groups_st, factor_st, st.data())
def test_a_removed_member_moves_only_its_own_replicas(
    nodes: set[int], groups: int, factor: int, data: st.DataObject
) -> None:
    before = place_groups(nodes, range(1, groups + 1), factor)
    gone = data.draw(st.sampled_from(sorted(nodes)))
    rest = nodes - {gone}
    after = place_groups(rest, range(1, groups + 1), factor, before)
    lost = loads(before, nodes)[gone]
    if factor <= len(rest):
        assert moved(before, after) == lost
    counts = loads(after, rest)
    assert max(counts.values()) <= bound(groups, factor, len(rest)) + 1


@settings(max_examples=200)
@given(nodes_st, groups_st, factor_st, factor_st)
def test_a_factor_change_keeps_the_replicas_it_can(
    nodes: set[int], groups: int, factor: int, new_factor: int
) -> None:
    before = place_groups(nodes, range(1, groups + 1), factor)
    after = place_groups(nodes, range(1, groups + 1), new_factor, before)
    counts = loads(after, nodes)
    assert max(counts.values()) <= bound(groups, new_factor, len(nodes)) + 1
    old = {p.group: set(p.replicas) for p in before}
    for p in after:  # every group keeps replicas (only evening the loads moves others)
        assert len(set(p.replicas) & old[p.group]) >= min(factor, new_factor, len(nodes)) // 2
    if new_factor <= factor:  # shrinking adds a replica only to even the loads out
        assert moved(before, after) <= len(nodes)


def test_the_default_factor_places_three_of_five_and_every_member_of_fewer() -> None:
    shards = initial_shard_map([1, 2, 3, 4, 5], 5)
    assert DEFAULT_FACTOR == 3
    assert all(len(p.replicas) == 3 for p in shards.groups)
    assert sorted(loads(shards.groups, {1, 2, 3, 4, 5}).values()) == [3] * 5
    small = initial_shard_map([1, 2], 4)
    assert all(p.replicas == (1, 2) for p in small.groups)


def test_replace_bumps_the_version_only_when_a_replica_moves() -> None:
    shards = initial_shard_map([1, 2, 3], 3)
    assert replace(shards, [1, 2, 3], 3) is shards
    grown = replace(shards, [1, 2, 3, 4, 5], 5)
    assert grown.version == 2 and all(p.replicas == (1, 2, 3, 4, 5) for p in grown.groups)
    assert grown.ranges == shards.ranges
    shrunk = replace(grown, [1, 2, 3, 4, 5], 3)
    assert shrunk.version == 3 and all(len(p.replicas) == 3 for p in shrunk.groups)


def test_preferred_leaders_rotate_over_each_groups_own_replicas() -> None:
    assert preferred_leader(1, (2, 4, 5)) == 2
    assert preferred_leader(2, (5, 4, 2)) == 4
    assert preferred_leader(4, (2, 4, 5)) == 2
    assert preferred_leader(1, ()) is None
