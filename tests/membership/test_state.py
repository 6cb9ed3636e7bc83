"""Membership operations of the system group: add, remove (retire), move, replication factor."""

from __future__ import annotations

import pytest

from seshat_trio.config import Address
from seshat_trio.membership.state import (
    DEFAULT_FACTOR,
    encode_member_add,
    encode_member_address,
    encode_member_remove,
    encode_replication_factor,
    replication_factor_of,
    retired_of,
    wanted_voters,
)
from seshat_trio.protocol import Reply
from seshat_trio.system.layout import (
    NodeAddresses,
    encode_bootstrap,
    initial_layout,
    layout_of,
)
from seshat_trio.system.registry import (
    OperationRefused,
    SystemState,
    apply_operation,
    decode_operation,
)


def apply(state: SystemState, data: bytes) -> tuple[SystemState, Reply]:
    new, _, reply = apply_operation(state, decode_operation(data))
    return new, reply


def founded(*ids: int) -> SystemState:
    layout = initial_layout((NodeAddresses(i, f"127.0.0.1:{7000 + i}") for i in ids), 2)
    state, _ = apply(SystemState(), encode_bootstrap(layout))
    return state


def members(state: SystemState) -> dict[int, str]:
    layout = layout_of(state)
    assert layout is not None
    return {m.node_id: m.raft_addr for m in layout.members}


def test_a_node_joins_once_and_a_retried_join_changes_nothing() -> None:
    state, reply = apply(founded(1), encode_member_add(2, Address("127.0.0.1", 7002)))
    assert reply == 1 and members(state) == {1: "127.0.0.1:7001", 2: "127.0.0.1:7002"}
    again, reply = apply(state, encode_member_add(2, Address("127.0.0.1", 7002)))
    assert reply == 0 and again == state


@pytest.mark.parametrize(
    ("node_id", "address", "error"),
    [
        (2, "127.0.0.1:7009", "already a member"),
        (9, "127.0.0.1:7002", "already uses address"),
        (0, "127.0.0.1:7009", "invalid node id"),
    ],
)
def test_conflicting_joins_are_refused(node_id: int, address: str, error: str) -> None:
    state = founded(1, 2)
    with pytest.raises(OperationRefused, match=error):
        apply(state, encode_member_add(node_id, Address.parse(address)))


def test_a_join_before_the_bootstrap_is_retried_later() -> None:
    with pytest.raises(OperationRefused, match="TRYAGAIN"):
        apply(SystemState(), encode_member_add(2, Address("127.0.0.1", 7002)))


def test_removal_retires_the_id_for_good() -> None:
    state, reply = apply(founded(1, 2, 3), encode_member_remove(3, force=True))
    assert reply == 1 and sorted(members(state)) == [1, 2]
    assert retired_of(state) == {3: True}
    again, reply = apply(state, encode_member_remove(3, force=False))
    assert reply == 0 and retired_of(again) == {3: True}
    with pytest.raises(OperationRefused, match="never reused"):
        apply(state, encode_member_add(3, Address("127.0.0.1", 7013)))


def test_unknown_and_last_members_cannot_be_removed() -> None:
    with pytest.raises(OperationRefused, match="no member"):
        apply(founded(1, 2), encode_member_remove(7, force=False))
    with pytest.raises(OperationRefused, match="last member"):
        apply(founded(1), encode_member_remove(1, force=True))


def test_a_member_moves_to_a_free_address() -> None:
    state, reply = apply(founded(1, 2), encode_member_address(2, Address("127.0.0.1", 7102)))
    assert reply == 1 and members(state)[2] == "127.0.0.1:7102"
    with pytest.raises(OperationRefused, match="already uses"):
        apply(state, encode_member_address(2, Address("127.0.0.1", 7001)))


def test_replication_factor_defaults_to_three_and_is_bounded() -> None:
    state = founded(1)
    assert replication_factor_of(state) == DEFAULT_FACTOR
    state, reply = apply(state, encode_replication_factor(5))
    assert reply == 1 and replication_factor_of(state) == 5
    for bad in (0, 8):
        with pytest.raises(OperationRefused, match="replication factor"):
            apply(state, encode_replication_factor(bad))


def replicas(state: SystemState) -> dict[int, tuple[int, ...]]:
    layout = layout_of(state)
    assert layout is not None
    return {g: layout.shards.replicas(g) for g in layout.shards.group_ids}


def test_the_shard_map_places_the_groups_over_the_members() -> None:
    state = founded(1, 2)
    version = layout_of(state).shards.version  # type: ignore[union-attr]
    state, _ = apply(state, encode_member_add(3, Address("127.0.0.1", 7003)))
    assert replicas(state) == {1: (1, 2, 3), 2: (1, 2, 3)}
    assert layout_of(state).shards.version == version + 1  # type: ignore[union-attr]
    state, _ = apply(state, encode_member_remove(1, force=False))
    assert replicas(state) == {1: (2, 3), 2: (2, 3)}
    assert wanted_voters(state, 0) == {2, 3} and wanted_voters(state, 2) == {2, 3}
    assert wanted_voters(state, 9) is None and wanted_voters(SystemState(), 0) is None
