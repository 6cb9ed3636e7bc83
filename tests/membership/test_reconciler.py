"""The reconciler moves a group towards the wanted members, one Raft change at a time.

Four RaftGroupDrivers of one data group in one Trio run over an in-memory network, MockClock
time (the harness parts of tests/replication/raft_cluster.py): node 4 starts with an empty
membership (a joining node); each node runs a MembershipReconciler that acts only where its
node leads.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
import trio
import trio.testing
from tests.replication.raft_cluster import FAST, GROUP, InlineCommitter, Network, inline

from seshat_trio.kv.operations import Operation, encode_operation
from seshat_trio.kv.state_machine import KvStateMachine
from seshat_trio.membership.reconciler import MembershipReconciler
from seshat_trio.protocol import SimpleString
from seshat_trio.raft import Membership, RaftConfig, Role
from seshat_trio.replication.driver import RaftGroupDriver
from seshat_trio.replication.ticker import Ticker
from seshat_trio.storage import Store


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


class Cluster:
    def __init__(self, tmp_path: Path) -> None:
        self.network = Network()
        self.wanted = frozenset({1, 2, 3})
        self.retired: dict[int, bool] = {}
        self.stores: list[Store] = []
        self.tmp_path = tmp_path

    async def add(self, nursery: trio.Nursery, node_id: int, founders: frozenset[int]) -> None:
        store = Store.open(self.tmp_path / f"node{node_id}")
        self.stores.append(store)
        driver = RaftGroupDriver(
            raft_config=RaftConfig(group=GROUP, node_id=node_id),
            store=store,
            committer=InlineCommitter(store, nursery),
            machine=KvStateMachine(store, GROUP),
            transport=self.network,
            initial_membership=Membership(voters=founders),
            settings=FAST,
            rng=random.Random(node_id * 7919),
            offload=inline,
        )
        self.network.drivers[node_id] = driver
        await nursery.start(driver.run)
        nursery.start_soon(Ticker(FAST.tick_seconds, [driver]).run)
        groups: Mapping[int, RaftGroupDriver] = {GROUP: driver}
        reconciler = MembershipReconciler(
            groups=lambda: groups,
            wanted=lambda group: self.wanted,
            retired=lambda: self.retired,
            live_ticks=5,
            interval_s=0.01,
        )
        nursery.start_soon(reconciler.run)

    def leader(self) -> RaftGroupDriver | None:
        leaders = [d for d in self.network.drivers.values() if d.role is Role.LEADER]
        return leaders[0] if len(leaders) == 1 else None

    async def wait(self, what: Callable[[], bool]) -> None:
        with trio.fail_after(30):
            while not what():
                await trio.sleep(0.01)

    def voters_everywhere(self, want: set[int]) -> bool:
        return all(self.network.drivers[n].membership.voters == want for n in want)


async def write(driver: RaftGroupDriver, key: bytes) -> None:
    replies = await driver.propose(encode_operation(Operation(0, ((b"set", key, b"v"),))))
    assert replies == (SimpleString("OK"),)


async def test_a_new_node_joins_and_the_leader_hands_over_before_its_removal(
    tmp_path: Path, clock: trio.testing.MockClock
) -> None:
    cluster = Cluster(tmp_path)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(cluster.network.run)
        for node_id in (1, 2, 3):
            await cluster.add(nursery, node_id, frozenset({1, 2, 3}))
        await cluster.wait(lambda: cluster.leader() is not None)
        first = cluster.leader()
        assert first is not None
        await write(first, b"before")
        await cluster.add(nursery, 4, frozenset())  # a joining node: empty membership
        cluster.wanted = frozenset({1, 2, 3, 4})
        await cluster.wait(lambda: cluster.voters_everywhere({1, 2, 3, 4}))
        gone = first.node_id
        cluster.retired = {gone: False}
        cluster.wanted = frozenset({1, 2, 3, 4}) - {gone}
        await cluster.wait(lambda: cluster.voters_everywhere(set(cluster.wanted)))
        # It handed leadership over: the removal was committed by its successor.
        assert first.role is not Role.LEADER and first.removed
        leader = cluster.leader()
        assert leader is not None and leader.node_id != gone
        await write(leader, b"after")
        joined = cluster.network.drivers[4]
        await cluster.wait(lambda: joined.applied_index >= leader.applied_index)
        nursery.cancel_scope.cancel()
    for store in cluster.stores:
        store.close()
