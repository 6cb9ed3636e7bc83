"""Simulated clients: sequential writers, deleters and ReadIndex readers with timeouts.

Rules:
- Each client has at most one operation outstanding and records it in a
  `HistoryRecorder` fed by the simulation's clock, so the history can be
  checked for linearizability afterwards.
- Outcomes are recorded as the client can know them: a refused proposal or a
  definite "overwritten" is FAIL, a dropped connection or a timeout is INFO,
  never a guess.  A late answer after a timeout is ignored.
- Written values are unique (client id and sequence number), which keeps the
  checker's search small and its explanations readable.
"""

from __future__ import annotations

import random

import attrs

from seshat_trio.testing.cluster import Cluster
from seshat_trio.testing.driver import SimNode
from seshat_trio.testing.history import HistoryRecorder, OpKind, OpStatus
from seshat_trio.testing.kvapp import Command


@attrs.frozen(slots=True)
class WorkloadParams:
    clients: int = 3
    keys: int = 3
    read_fraction: float = 0.4
    delete_fraction: float = 0.1
    #: Probability that a client targets the node it believes leads (else any node).
    leader_affinity: float = 0.7
    #: Probability that a write is pipelined with a read of its key right behind it, the
    #: read placed in the log after the write (a read behind writes, docs/raft.md).
    pipeline_fraction: float = 0.0
    timeout_ms: float = 250.0
    think_min_ms: float = 1.0
    think_max_ms: float = 30.0


#: History client ids of pipelined reads: this plus the id of the client that sent them.
PIPELINED_READER = 1_000_000


class _Call:
    """One outstanding client call; `close` records the first outcome only. The calls of
    one pipeline share `pending`: the client is idle once the last of them closes."""

    def __init__(
        self, workload: Workload, client: int, handle: int, pending: list[int] | None = None
    ) -> None:
        self.workload = workload
        self.client = client
        self.handle = handle
        self.closed = False
        self.pending = pending if pending is not None else [0]
        self.pending[0] += 1

    def close(self, status: OpStatus, observed: bytes | None = None) -> None:
        if self.closed:
            return
        self.closed = True
        rec = self.workload.recorder
        if status is OpStatus.OK:
            rec.ok(self.handle, observed)
        elif status is OpStatus.FAIL:
            rec.fail(self.handle)
        else:
            rec.info(self.handle)
        self.workload.counts[status] += 1
        self.pending[0] -= 1
        if not self.pending[0]:
            self.workload.idle(self.client)

    def write_done(self, status: OpStatus) -> None:
        self.close(status)

    def read_done(self, status: OpStatus, value: bytes | None) -> None:
        self.close(status, value if status is OpStatus.OK else None)


class Workload:
    """Drives `params.clients` clients against a cluster until `stop()`."""

    def __init__(self, cluster: Cluster, params: WorkloadParams | None = None) -> None:
        self.cluster = cluster
        self.params = params or WorkloadParams()
        self.rng = random.Random(cluster.rng.getrandbits(64))
        self._clock_seq = 0
        self.recorder = HistoryRecorder(self._clock)
        self.running = False
        self.counts: dict[OpStatus, int] = dict.fromkeys(OpStatus, 0)
        self._seq = 0
        self._busy: set[int] = set()

    def _clock(self) -> float:
        # Strictly increasing and consistent with event order, so simultaneous
        # simulated events keep their real (execution) order in the history.
        self._clock_seq += 1
        return self.cluster.now + self._clock_seq * 1e-9

    def start(self) -> None:
        self.running = True
        for client in range(self.params.clients):
            self.idle(client)

    def stop(self) -> None:
        self.running = False

    @property
    def outstanding(self) -> int:
        return len(self._busy)

    def idle(self, client: int) -> None:
        """`client` finished; it thinks for a while and then issues its next call."""
        self._busy.discard(client)
        if not self.running:
            return
        self._busy.add(client)
        p = self.params
        self.cluster.schedule(
            self.rng.uniform(p.think_min_ms, p.think_max_ms), lambda: self._issue(client)
        )

    def _issue(self, client: int) -> None:
        if not self.running:
            self._busy.discard(client)
            return
        node = self._pick_node()
        p = self.params
        key = b"k%d" % self.rng.randrange(p.keys)
        roll = self.rng.random()
        if roll < p.read_fraction:
            call = _Call(self, client, self.recorder.invoke(client, OpKind.READ, key))
            node.client_read(key, call.read_done)
        else:
            self._seq += 1
            if roll < p.read_fraction + p.delete_fraction:
                kind, value = OpKind.DELETE, None
            else:
                kind, value = OpKind.WRITE, b"c%d-%d" % (client, self._seq)
            call = _Call(self, client, self.recorder.invoke(client, kind, key, value))
            node.client_write(Command(self._seq, key, value), call.write_done)
            if self.rng.random() < p.pipeline_fraction:
                self._read_behind(client, node, key, call)
        self.cluster.schedule(p.timeout_ms, lambda: call.close(OpStatus.INFO))

    def _read_behind(self, client: int, node: SimNode, key: bytes, write: _Call) -> None:
        """A read of `key` pipelined behind the write just sent, recorded as the op of a
        second (virtual) client: both are outstanding at once."""
        self._seq += 1
        reader = PIPELINED_READER + client
        call = _Call(self, client, self.recorder.invoke(reader, OpKind.READ, key), write.pending)
        node.client_log_read(Command(self._seq, key, None, read=True), call.read_done)
        self.cluster.schedule(self.params.timeout_ms, lambda: call.close(OpStatus.INFO))

    def _pick_node(self) -> SimNode:
        leader = self.cluster.leader()
        if leader is not None and self.rng.random() < self.params.leader_affinity:
            return leader
        nodes = sorted(self.cluster.nodes)
        return self.cluster.nodes[self.rng.choice(nodes)]
