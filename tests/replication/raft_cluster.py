"""Raft groups of real RaftGroupDrivers in one trio run: real Stores, an in-memory network,
inline storage work; the harness of tests/replication (and of tests/membership's reconciler).

Storage work runs inline (no worker threads): with MockClock(autojump_threshold=0) a thread
would let simulated time jump while the disk works, so elections would race fsyncs.
`Cluster` is three voters of one group (`GROUP`, or the system group); `running` runs it for
a test and stops it after.
"""

from __future__ import annotations

import math
import random
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import attrs
import trio

from seshat_trio.kv.operations import Operation, encode_operation
from seshat_trio.kv.state_machine import KvStateMachine
from seshat_trio.protocol import SimpleString
from seshat_trio.raft import Membership, RaftConfig, Role
from seshat_trio.replication.commit_publisher import commit_publisher_for
from seshat_trio.replication.driver import DriverSettings, PeerMessage, RaftGroupDriver
from seshat_trio.replication.machine import StateMachine
from seshat_trio.replication.ticker import Ticker
from seshat_trio.storage import StorageError, Store, WriteBatch
from seshat_trio.system.machine import SystemStateMachine

T = TypeVar("T")
GROUP = 1
IDS = (1, 2, 3)
MEMBERSHIP = Membership(voters=frozenset(IDS))
FAST = DriverSettings(tick_seconds=0.01, snapshot_ack_timeout=1.0)


async def inline(fn: Callable[[], T]) -> T:
    await trio.lowlevel.checkpoint()
    return fn()


class InlineCommitter:
    """Writes each batch at once. Unsynced: the tests' crashes keep the process (and the
    OS page cache), so an fsync would add time and prove nothing here. A `submit`ted batch
    is written by a task of `nursery` (the node's: a crash cancels it, unwritten)."""

    def __init__(self, store: Store, nursery: trio.Nursery | None = None) -> None:
        self.store = store
        self.nursery = nursery
        self.gate: trio.Event | None = None  # set: commits wait for it (a stalled disk)

    async def commit(self, batch: WriteBatch) -> None:
        await trio.lowlevel.checkpoint()
        if self.gate is not None:
            await self.gate.wait()
        self.store.write(batch, sync=False)

    def commit_now(self, batch: WriteBatch) -> bool:
        """At once unless the disk is stalled, as the GroupCommitter on an idle node."""
        if self.gate is not None:
            return False
        self.store.write(batch, sync=False)
        return True

    def submit(self, batch: WriteBatch, written: Callable[[StorageError | None], None]) -> None:
        assert self.nursery is not None
        self.nursery.start_soon(self._submitted, batch, written)

    async def _submitted(
        self, batch: WriteBatch, written: Callable[[StorageError | None], None]
    ) -> None:
        try:
            await self.commit(batch)
        except StorageError as exc:
            written(exc)
            return
        written(None)


class Network:
    """Routes peer messages between drivers; `isolated` nodes send and receive nothing."""

    def __init__(self) -> None:
        self.drivers: dict[int, RaftGroupDriver] = {}
        self.isolated: set[int] = set()
        self.sent: list[PeerMessage] = []
        self.drop: Callable[[PeerMessage], bool] = lambda msg: False
        self._send, self._receive = trio.open_memory_channel[PeerMessage](math.inf)

    def send(self, msg: PeerMessage) -> None:
        self.sent.append(msg)
        self._send.send_nowait(msg)

    async def run(self) -> None:
        async for msg in self._receive:
            if msg.src in self.isolated or msg.dst in self.isolated or self.drop(msg):
                continue
            driver = self.drivers.get(msg.dst)
            if driver is not None:
                driver.deliver(msg)


@attrs.define(eq=False)
class Node:
    node_id: int
    path: Path
    network: Network
    settings: DriverSettings
    system: bool = False
    merge: Callable[[list[bytes]], bytes] | None = None
    publish_commits: bool = True  # run a CommitPublisher, as a node does
    store: Store = attrs.field(init=False)
    machine: StateMachine = attrs.field(init=False)
    driver: RaftGroupDriver = attrs.field(init=False)
    committer: InlineCommitter = attrs.field(init=False)
    scope: trio.CancelScope = attrs.field(init=False)
    stopped: trio.Event = attrs.field(init=False)

    async def start(self, nursery: trio.Nursery) -> None:
        self.store = Store.open(self.path)
        group = 0 if self.system else GROUP
        self.machine = (
            SystemStateMachine(self.store) if self.system else KvStateMachine(self.store, GROUP)
        )
        self.committer = InlineCommitter(self.store)
        self.driver = RaftGroupDriver(
            raft_config=RaftConfig(group=group, node_id=self.node_id),
            store=self.store,
            committer=self.committer,
            machine=self.machine,
            transport=self.network,
            initial_membership=MEMBERSHIP,
            settings=self.settings,
            rng=random.Random(self.node_id * 7919),
            offload=inline,
            merge=self.merge,
        )
        self.network.drivers[self.node_id] = self.driver
        self.scope = trio.CancelScope()
        self.stopped = trio.Event()
        await nursery.start(self._run)

    async def _run(self, *, task_status: trio.TaskStatus[None]) -> None:
        with self.scope:
            async with trio.open_nursery() as nursery:
                self.committer.nursery = nursery
                await nursery.start(self.driver.run)
                nursery.start_soon(Ticker(self.settings.tick_seconds, [self.driver]).run)
                if self.publish_commits:
                    nursery.start_soon(commit_publisher_for([self.driver]).run)
                task_status.started()
        self.stopped.set()

    async def crash(self) -> None:
        """Cancel the driver and close the store, as a killed process would leave it."""
        self.network.drivers.pop(self.node_id, None)
        self.scope.cancel()
        await self.stopped.wait()
        self.store.close()

    @property
    def kv(self) -> KvStateMachine:
        assert isinstance(self.machine, KvStateMachine)
        return self.machine

    def data(self) -> list[tuple[bytes, bytes]]:
        return [(k, v.data) for k, v in self.store.iter_values(GROUP)]


class Cluster:
    def __init__(
        self,
        tmp_path: Path,
        settings: DriverSettings,
        *,
        system: bool = False,
        merge: Callable[[list[bytes]], bytes] | None = None,
        publish_commits: bool = True,
    ) -> None:
        self.network = Network()
        self.nodes = {
            i: Node(
                i, tmp_path / f"node{i}", self.network, settings, system, merge, publish_commits
            )
            for i in IDS
        }

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes.values())

    async def start(self, nursery: trio.Nursery) -> None:
        nursery.start_soon(self.network.run)
        for node in self:
            await node.start(nursery)

    async def leader(self, among: set[int] | None = None) -> Node:
        """Wait until one of `among` (default: all running) leads and the others follow it."""
        candidates = set(self.nodes) if among is None else among
        while True:
            live = [self.nodes[i] for i in candidates if i in self.network.drivers]
            leaders = [n for n in live if n.driver.role is Role.LEADER]
            if len(leaders) == 1 and all(n.driver.leader_id == leaders[0].node_id for n in live):
                return leaders[0]
            await trio.sleep(0.01)

    def other_than(self, node: Node) -> Node:
        """The first node (by id) that is not `node`: a follower of the leader `node`."""
        return next(n for n in self if n is not node)

    async def wait_applied(self, index: int, nodes: list[Node] | None = None) -> None:
        for node in nodes or list(self):
            while node.driver.applied_index < index:
                await trio.sleep(0.01)

    async def stop(self) -> None:
        for node in self:
            if node.node_id in self.network.drivers:
                await node.crash()


@asynccontextmanager
async def running(cluster: Cluster, timeout: float) -> AsyncIterator[trio.Nursery]:
    """Run `cluster` in a nursery of its own (yielded, to restart nodes in), failing after
    `timeout` seconds; on exit every node is stopped and the cluster's tasks cancelled."""
    with trio.fail_after(timeout):
        async with trio.open_nursery() as nursery:
            await cluster.start(nursery)
            yield nursery
            await cluster.stop()
            nursery.cancel_scope.cancel()


def set_op(key: bytes, value: bytes) -> bytes:
    return encode_operation(Operation(time_ms=1_000, commands=((b"set", key, value),)))


async def write(node: Node, key: bytes, value: bytes) -> int:
    """Write through `node` (the leader); returns the applied index it got."""
    replies = await node.driver.propose(set_op(key, value))
    assert replies == (SimpleString("OK"),)
    return node.driver.applied_index
