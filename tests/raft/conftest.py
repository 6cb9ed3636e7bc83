"""A tiny synchronous in-memory harness driving RaftCores for the tests in tests/raft.

It follows the Ready contract to the letter (persist, then send, then apply, then advance),
streams snapshots through the chunking helpers, and checks state-machine safety on every
apply: no two nodes apply different entries at the same index, and no term has two leaders.
The big randomized simulator lives in seshat_trio.testing; this one is deliberately small.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Iterable
from typing import Any

import attrs
import pytest

from seshat_trio.raft import (
    Entry,
    EntryKind,
    FailedRead,
    HardState,
    Membership,
    MemoryLogStorage,
    Message,
    RaftConfig,
    RaftCore,
    ReadState,
    Ready,
    Role,
    Snapshot,
    SnapshotMeta,
    TransferResult,
)

GROUP = 7


def encode_state(state: list[bytes]) -> bytes:
    return b"".join(struct.pack(">I", len(item)) + item for item in state)


def decode_state(data: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos < len(data):
        (size,) = struct.unpack_from(">I", data, pos)
        out.append(data[pos + 4 : pos + 4 + size])
        pos += 4 + size
    return out


class Node:
    """One member: core + storage + a list-of-commands state machine + observed outputs."""

    def __init__(self, cluster: Cluster, node_id: int, storage: MemoryLogStorage) -> None:
        self.cluster = cluster
        self.node_id = node_id
        self.storage = storage
        self.snapshots: dict[int, bytes] = {}  # snapshot index -> state data (app side)
        self.received: dict[SnapshotMeta, bytes] = {}
        self.read_states: list[ReadState] = []
        self.failed_reads: list[FailedRead] = []
        self.transfer_results: list[TransferResult] = []
        self.readies: list[Ready] = []
        self.start(applied=0)

    def start(self, applied: int) -> None:
        snap = self.storage.snapshot_meta()
        self.state: list[bytes] = decode_state(self.snapshots.get(snap.index, b""))
        self.applied_index = snap.index
        self.commit_published = 0  # the commit index `Cluster.publish_commits` last sent
        base = RaftConfig(group=GROUP, node_id=self.node_id, applied=applied)
        cfg = attrs.evolve(base, **self.cluster.cfg)
        self.core = RaftCore(
            cfg, self.storage, random.Random(self.cluster.seed * 1000 + self.node_id)
        )

    def snapshot_now(self) -> SnapshotMeta:
        """Take an application snapshot at the applied index and compact the log to it."""
        meta = self.core.applied_snapshot_meta()
        assert meta is not None and meta.index == self.applied_index
        self.snapshots[meta.index] = encode_state(self.state)
        self.core.compact(meta)
        return meta


class Cluster:
    def __init__(
        self,
        voters: Iterable[int],
        learners: Iterable[int] = (),
        *,
        seed: int = 1,
        take_messages: bool = False,
        **cfg: Any,
    ) -> None:
        self.seed = seed
        # Hand out a Ready of messages only through `take_messages`, as the production
        # driver does where a message arrives; `taken` counts those hand-outs.
        self.take_messages = take_messages
        self.taken = 0
        self.cfg = cfg  # RaftConfig overrides
        self.membership = Membership(frozenset(voters), frozenset(learners))
        self.nodes: dict[int, Node] = {}
        self.queue: list[Message] = []
        self.cut: set[tuple[int, int]] = set()  # directed links that drop messages
        self.down: set[int] = set()
        self.committed: dict[int, tuple[int, bytes]] = {}  # index -> (term, data) applied
        self.leaders: dict[int, int] = {}  # term -> leader
        self.sent: list[Message] = []
        # Rewrites (or drops, by returning None) every message on the wire.
        self.transform: Callable[[Message], Message | None] | None = None
        for node_id in sorted(self.membership.members):
            self.add_node(node_id, MemoryLogStorage(self.membership))

    def add_node(self, node_id: int, storage: MemoryLogStorage | None = None) -> Node:
        node = Node(self, node_id, storage or MemoryLogStorage())
        self.nodes[node_id] = node
        return node

    def preload(self, node_id: int, terms: list[int], term: int, commit: int = 0) -> None:
        """Give `node_id` a log with the given entry terms (index 1..) and restart it."""
        node = self.nodes[node_id]
        node.storage.append(
            [Entry(t, i, EntryKind.NORMAL, b"%d:%d" % (i, t)) for i, t in enumerate(terms, 1)]
        )
        node.storage.set_hard_state(HardState(term=term, vote=0, commit=commit))
        node.start(applied=0)

    def core(self, node_id: int) -> RaftCore:
        return self.nodes[node_id].core

    # -- failure injection ---------------------------------------------------------------
    def isolate(self, node_id: int) -> None:
        for other in self.nodes:
            if other != node_id:
                self.cut |= {(node_id, other), (other, node_id)}

    def heal(self) -> None:
        self.cut.clear()

    def crash(self, node_id: int) -> None:
        self.down.add(node_id)

    def restart(self, node_id: int, applied: int = 0) -> None:
        self.down.discard(node_id)
        self.nodes[node_id].start(applied)

    # -- driving -------------------------------------------------------------------------
    def process(self, node_id: int) -> bool:
        node = self.nodes[node_id]
        if node_id in self.down:
            return False
        if self.take_messages and (messages := node.core.take_messages()):
            self.taken += 1
            self._emit(messages)
            return True
        if not node.core.has_ready():
            return False
        rd = node.core.ready()
        node.readies.append(rd)
        self._emit(rd.messages)
        if rd.snapshot is not None:
            node.state = decode_state(node.received.pop(rd.snapshot))
            node.applied_index = rd.snapshot.index
            node.snapshots[rd.snapshot.index] = encode_state(node.state)
            node.storage.apply_snapshot(rd.snapshot)
        node.storage.append(rd.entries)
        if rd.hard_state is not None:
            node.storage.set_hard_state(rd.hard_state)
        if rd.compact is not None:
            node.storage.compact(rd.compact)
        self._emit(rd.persisted_messages)
        for entry in rd.committed_entries:
            self._apply(node, entry)
        node.read_states.extend(rd.read_states)
        node.failed_reads.extend(rd.failed_reads)
        node.transfer_results.extend(rd.transfer_results)
        if rd.soft_state is not None and rd.soft_state.role is Role.LEADER:
            previous = self.leaders.setdefault(rd.soft_state.term, node_id)
            assert previous == node_id, f"two leaders in term {rd.soft_state.term}"
        node.core.advance(rd)
        return True

    def _apply(self, node: Node, entry: Entry) -> None:
        assert entry.index == node.applied_index + 1, (entry.index, node.applied_index)
        seen = self.committed.setdefault(entry.index, (entry.term, entry.data))
        assert seen == (entry.term, entry.data), f"divergent apply at {entry.index}"
        if entry.kind is EntryKind.NORMAL:
            node.state.append(entry.data)
        node.applied_index = entry.index

    def _emit(self, messages: Iterable[Message]) -> None:
        for msg in messages:
            self.sent.append(msg)
            self.queue.append(msg)

    def _deliver(self, msg: Message) -> None:
        if (msg.src, msg.dst) in self.cut or msg.dst in self.down or msg.dst not in self.nodes:
            return
        if self.transform is not None:
            changed = self.transform(msg)
            if changed is None:
                return
            msg = changed
        if isinstance(msg, Snapshot):
            self._stream_snapshot(msg)
            return
        self.nodes[msg.dst].core.step(msg)

    def _stream_snapshot(self, offer: Snapshot) -> None:
        """Play both drivers: the follower receives the snapshot whole (chunked streaming is
        the drivers' job: tests/replication and the simulator cover it)."""
        sender, receiver = self.nodes[offer.src], self.nodes[offer.dst]
        receiver.received[offer.meta] = sender.snapshots[offer.meta.index]
        receiver.core.step(offer)
        sender.core.report_snapshot(offer.dst, success=True)

    def round(self) -> bool:
        """Every node handles one Ready, then the wire is delivered; whether anything moved."""
        moved = False
        for node_id in sorted(self.nodes):
            moved |= self.process(node_id)
        queue, self.queue = self.queue, []
        for msg in queue:
            self._deliver(msg)
        return moved or bool(queue)

    def stabilize(self, max_rounds: int = 200) -> None:
        """Process Readys and deliver messages until nothing moves; a quiet leader then
        publishes a commit index its followers have not learned, as the driver does after
        its short delay (once per commit index)."""
        for _ in range(max_rounds):
            if not self.round() and not self.publish_commits():
                return
        raise AssertionError("cluster did not quiesce")

    def publish_commits(self) -> bool:
        published = False
        for node_id, node in sorted(self.nodes.items()):
            core = node.core
            if node_id in self.down or node.commit_published == core.commit:
                continue
            if core.commit_unpublished():
                node.commit_published = core.commit
                core.publish_commit()
                published = True
        return published

    def tick(self, node_ids: Iterable[int] | None = None, times: int = 1) -> None:
        for _ in range(times):
            for node_id in sorted(node_ids if node_ids is not None else self.nodes):
                if node_id not in self.down:
                    self.nodes[node_id].core.tick()
            self.stabilize()

    def elect(self, node_id: int) -> None:
        """Let `node_id` time out first and win (the others stay quiet)."""
        core = self.core(node_id)
        for _ in range(100):
            if core.role is Role.LEADER:
                return
            core.tick()
            self.stabilize()
        raise AssertionError(f"node {node_id} did not become leader")

    def leader(self) -> int:
        leaders = [
            n
            for n, node in self.nodes.items()
            if node.core.role is Role.LEADER and n not in self.down
        ]
        assert len(leaders) == 1, leaders
        return leaders[0]

    def propose(self, node_id: int, *commands: bytes) -> list[int]:
        indexes = self.core(node_id).propose(list(commands))
        self.stabilize()
        return indexes

    def replicate_commit(self) -> None:
        """One heartbeat so followers learn the latest commit index."""
        self.tick([self.leader()])


@pytest.fixture
def make_cluster() -> Callable[..., Cluster]:
    return Cluster
