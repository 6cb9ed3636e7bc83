"""The leader balancer hands each group it leads to the group's preferred leader, only when
that node is connected and caught up, and never to anyone else."""

from __future__ import annotations

from typing import Any, cast

import attrs

from seshat_trio.node.balancer import LeaderBalancer
from seshat_trio.raft import ProgressState, Role
from seshat_trio.replication.driver import GroupStatus, PeerStatus
from seshat_trio.system.placement import preferred_leader


def test_preferred_leaders_rotate_over_the_voters() -> None:
    assert [preferred_leader(g, (3, 1, 2)) for g in range(1, 8)] == [1, 2, 3, 1, 2, 3, 1]
    assert preferred_leader(5, ()) is None


@attrs.define
class FakeDriver:
    status_now: GroupStatus
    transferee: int | None = None
    transfers: list[int] = attrs.Factory(list)

    def status(self) -> GroupStatus:
        return self.status_now

    def transfer_leadership(self, to: int) -> None:
        self.transfers.append(to)


@attrs.define
class FakeGroup:
    group: int
    driver: FakeDriver


def status(group: int, role: Role, matches: dict[int, int], last: int = 10) -> GroupStatus:
    return GroupStatus(
        node_id=1, group=group, role=role, term=2, leader_id=1 if role is Role.LEADER else 2,
        commit=last, applied=last, first_index=1, last_index=last, snapshot_index=0,
        voters=(1, 2, 3), learners=(),
        peers={p: PeerStatus(m, m + 1, ProgressState.REPLICATE) for p, m in matches.items()},
    )  # fmt: skip


def test_each_led_group_goes_to_its_caught_up_connected_preferred_leader() -> None:
    groups = [
        FakeGroup(1, FakeDriver(status(1, Role.LEADER, {2: 10, 3: 10}))),  # prefers node 1
        FakeGroup(2, FakeDriver(status(2, Role.LEADER, {2: 10, 3: 10}))),  # -> node 2
        FakeGroup(3, FakeDriver(status(3, Role.LEADER, {2: 10, 3: 9}))),  # node 3 lags
        FakeGroup(
            5, FakeDriver(status(5, Role.LEADER, {2: 10, 3: 10}))
        ),  # -> node 2 while connected
        FakeGroup(8, FakeDriver(status(8, Role.FOLLOWER, {}))),  # not ours to move
        FakeGroup(6, FakeDriver(status(6, Role.LEADER, {2: 10, 3: 10}), transferee=2)),
    ]
    connected = {2: True, 3: True}
    balancer = LeaderBalancer(1, cast(Any, groups), lambda peer: connected[peer])
    connected[2] = True
    assert balancer.balance_once() == [(2, 2), (5, 2)]
    connected[2] = False
    assert balancer.balance_once() == []
    assert [g.driver.transfers for g in groups] == [[], [2], [], [2], [], []]
