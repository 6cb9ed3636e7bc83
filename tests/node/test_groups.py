"""GroupRouter: the slot table follows the shard map applied in the system group."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

import attrs
import pytest
import trio
import trio.testing

from seshat_trio.errors import ServiceError
from seshat_trio.node.groups import GroupRouter
from seshat_trio.slots import key_slot
from seshat_trio.system.layout import NodeAddresses, encode_bootstrap, initial_layout
from seshat_trio.system.registry import SystemState, apply_operation, decode_operation


def layout_state(groups: int) -> SystemState:
    layout = initial_layout([NodeAddresses(1, "127.0.0.1:7001")], groups)
    state, _, _ = apply_operation(SystemState(), decode_operation(encode_bootstrap(layout)))
    return state


@attrs.define
class Local:
    name: str
    hosted: bool = True


@attrs.frozen
class Remote:
    group: int
    replicas: tuple[int, ...]


def router(*groups: int, remote: bool = False) -> GroupRouter:
    def make_remote(group: int, replicas: Callable[[], Sequence[int]]) -> Any:
        return Remote(group, tuple(replicas()))

    return GroupRouter(
        {g: cast(Any, Local(f"group{g}")) for g in groups},
        timeout_s=1.0,
        remote=make_remote if remote else None,
    )


def names(backends: Sequence[Any]) -> list[str]:
    return [b.name for b in backends]


def test_slots_route_to_the_local_replica_once_the_map_is_applied() -> None:
    r = router(1, 2, 3)
    assert r.for_slot(0) is None  # no map yet
    state = layout_state(3)
    r.on_system_state(state, frozenset({"members"}))
    assert r.for_slot(0) is None  # the shards section did not change
    r.on_system_state(state, state.names())
    assert r.shard_map is not None and r.shard_map.version == 1
    assert names([r.for_slot(s) for s in (0, 5460, 5461, 16383)]) == [
        "group1", "group1", "group2", "group3"
    ]  # fmt: skip
    assert names([r.for_slot(key_slot(b"foo"))]) == ["group3"]
    assert names(r.groups) == ["group1", "group2", "group3"]


def test_a_slot_of_a_group_this_node_lacks_is_clusterdown_without_remote_groups() -> None:
    r = router(1)
    state = layout_state(2)
    r.on_system_state(state, state.names())
    assert names([r.for_slot(0)]) == ["group1"]
    with pytest.raises(ServiceError, match="CLUSTERDOWN"):
        r.for_slot(16383)


def test_a_group_this_node_does_not_vote_in_is_served_remotely() -> None:
    r = router(1, 2, remote=True)
    state = layout_state(3)
    r.on_system_state(state, state.names())
    high = r.for_slot(16383)
    assert high == Remote(3, (1,))  # no driver here: the map's replicas serve it
    assert r.for_slot(16383) is high  # built once per group
    local = cast(Any, r.group(2))
    assert local.name == "group2"
    local.hosted = False  # a learner catching up, or a replica placement moved away
    assert r.group(2) == Remote(2, (1,))
    assert [b.name for b in r.hosted()] == ["group1"]
    assert len(r.groups) == 3 and len(r.local) == 2


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


async def test_waiting_for_the_map_ends_when_it_applies_or_at_the_timeout(
    clock: trio.testing.MockClock,
) -> None:
    r = router(1)
    with pytest.raises(ServiceError, match="CLUSTERDOWN"):
        await r.wait_for_map()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(r.wait_for_map)
        await trio.testing.wait_all_tasks_blocked()
        state = layout_state(1)
        r.on_system_state(state, state.names())
