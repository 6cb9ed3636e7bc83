"""The shard map: even initial ranges, the coverage rules, its JSON form and the old form."""

from __future__ import annotations

import pytest

from seshat_trio.slots import SLOT_COUNT, key_slot
from seshat_trio.system.layout import NodeAddresses, encode_bootstrap, initial_layout, layout_of
from seshat_trio.system.placement import initial_shard_map
from seshat_trio.system.registry import SystemState, apply_operation, decode_operation
from seshat_trio.system.shard_map import (
    GroupPlacement,
    ShardMap,
    ShardMapError,
    SlotRange,
    SlotState,
    shard_map_from_json,
)


def test_initial_map_splits_the_slots_evenly_and_places_every_group_everywhere() -> None:
    shards = initial_shard_map([3, 1, 2], 3)
    assert shards.version == 1
    assert [(r.first_slot, r.last_slot, r.group) for r in shards.ranges] == [
        (0, 5460, 1),
        (5461, 10922, 2),
        (10923, 16383, 3),
    ]  # redis-cli --cluster create splits 3 masters the same way
    assert all(p.replicas == (1, 2, 3) for p in shards.groups)
    assert shards.groups_of(2) == (1, 2, 3) and shards.groups_of(9) == ()
    table = shards.slot_table()
    assert len(table) == SLOT_COUNT and table[0] == 1 and table[16383] == 3
    assert table[key_slot(b"foo")] == 3  # slot 12182


def test_sixty_four_groups_cover_every_slot_once() -> None:
    shards = initial_shard_map([1, 2, 3], 64)
    sizes = [r.last_slot - r.first_slot + 1 for r in shards.ranges]
    assert sum(sizes) == SLOT_COUNT and set(sizes) == {256}


@pytest.mark.parametrize(
    "ranges",
    [
        (SlotRange(0, 100, 1),),  # not every slot
        (SlotRange(1, SLOT_COUNT - 1, 1),),  # slot 0 missing
        (SlotRange(0, 10, 1), SlotRange(10, SLOT_COUNT - 1, 1)),  # overlap
        (SlotRange(0, SLOT_COUNT - 1, 2),),  # no such group
    ],
)
def test_a_map_that_breaks_the_rules_is_refused(ranges: tuple[SlotRange, ...]) -> None:
    with pytest.raises(ShardMapError):
        ShardMap(1, (GroupPlacement(1, (1,)),), ranges)


def test_json_round_trip_keeps_version_placement_and_slot_state() -> None:
    shards = initial_shard_map([1, 2], 2)
    decoded = shard_map_from_json(shards.to_json(), [1, 2])
    assert decoded == shards
    assert decoded.ranges[0].state is SlotState.STABLE
    assert shards.to_json()["items"][0] == {
        "first_slot": 0, "last_slot": 8191, "group": 1, "state": "stable"
    }  # fmt: skip


def test_a_version_one_section_reads_as_one_group_on_every_member() -> None:
    old = {"v": 1, "items": [{"first_slot": 0, "last_slot": SLOT_COUNT - 1, "group": 1}]}
    shards = shard_map_from_json(old, [2, 1])
    assert shards.version == 1 and shards.groups == (GroupPlacement(1, (1, 2)),)


def test_bootstrap_records_the_map_and_an_old_bootstrap_entry_still_applies() -> None:
    members = [NodeAddresses(1, "127.0.0.1:7001"), NodeAddresses(2, "127.0.0.1:7002")]
    layout = initial_layout(members, 2)
    state, _, reply = apply_operation(SystemState(), decode_operation(encode_bootstrap(layout)))
    assert reply == 1 and layout_of(state) == layout
    # A build before placements proposed the slot ranges as a bare list.
    old = decode_operation(
        b'{"members":[{"node_id":1,"raft_addr":"127.0.0.1:7001"}],"op":"bootstrap",'
        b'"shards":[{"first_slot":0,"group":1,"last_slot":16383}],"v":1}'
    )
    state, _, reply = apply_operation(SystemState(), old)
    applied = layout_of(state)
    assert reply == 1 and applied is not None
    assert applied.shards.groups == (GroupPlacement(1, (1,)),)
