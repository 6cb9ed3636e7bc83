"""One simulated Raft group: the event loop, simulated time, nodes and the network.

Rules:
- Single-threaded discrete-event simulation.  Events are (time, sequence)
  ordered, so simultaneous events run in the order they were scheduled and a
  run is a pure function of its seed.
- Randomness: one `random.Random(seed)`; the network and every node core get
  their own generators seeded from it at construction, in a fixed order.
- Time is simulated milliseconds (`now`); nothing here reads a real clock.
- The trace keeps the last events in a ring buffer, formatted only when a
  failure needs showing.
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from collections.abc import Callable

from seshat_trio.raft import Membership, MemoryLogStorage, Role
from seshat_trio.testing.driver import NodeParams, SimNode, Wire
from seshat_trio.testing.invariants import Invariants
from seshat_trio.testing.network import Network, NetworkFaults


class Cluster:
    """Nodes, network and event queue of one simulated group (the nodes' `Host`)."""

    def __init__(
        self,
        seed: int,
        size: int,
        params: NodeParams | None = None,
        faults: NetworkFaults | None = None,
        trace_length: int = 400,
    ) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.now = 0.0
        self.events = 0
        self.invariants = Invariants()
        self.network = Network(random.Random(self.rng.getrandbits(64)), faults)
        self.params = params or NodeParams()
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = 0
        self._trace: deque[tuple[float, int, str | Wire]] = deque(maxlen=trace_length)
        voters = frozenset(range(1, size + 1))
        self.nodes: dict[int, SimNode] = {
            i: SimNode(i, self, self.params, Membership(voters=voters)) for i in sorted(voters)
        }
        self.next_id = size + 1

    # --- Host ----------------------------------------------------------------------

    def schedule(self, delay: float, action: Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (self.now + delay, self._seq, action))

    def transmit(self, msg: Wire) -> None:
        for delay in self.network.delivery_delays(msg.src, msg.dst):
            self.schedule(delay, lambda: self._deliver(msg))

    def trace(self, node: int, what: str) -> None:
        self._trace.append((self.now, node, what))

    def durable_logs(self) -> dict[int, MemoryLogStorage]:
        return {i: node.durable for i, node in self.nodes.items()}

    # --- running -------------------------------------------------------------------

    def start(self) -> None:
        for node in self.nodes.values():
            node.start()

    def step(self) -> bool:
        """Run the next event; False when nothing is scheduled."""
        if not self._queue:
            return False
        when, _, action = heapq.heappop(self._queue)
        self.now = when
        self.events += 1
        action()
        return True

    def run_until(self, deadline: float, stop: Callable[[], bool] | None = None) -> bool:
        """Run events up to simulated time `deadline`, or until `stop()` holds.

        Returns whether `stop()` became true (False if there was no `stop`).
        """
        while self._queue and self._queue[0][0] <= deadline:
            self.step()
            if stop is not None and stop():
                return True
        self.now = max(self.now, deadline)
        return False

    def _deliver(self, msg: Wire) -> None:
        node = self.nodes.get(msg.dst)
        if node is None or not node.up or not self.network.connected(msg.src, msg.dst):
            return
        if node.is_paused:  # it waits in the socket buffer
            self.schedule(node.paused_until - self.now, lambda: self._deliver(msg))
            return
        self._trace.append((self.now, msg.dst, msg))
        node.receive(msg)

    # --- membership and queries ----------------------------------------------------------

    def add_node(self) -> SimNode:
        """A brand-new node (fresh id, empty membership) that waits to be added."""
        node = SimNode(self.next_id, self, self.params, Membership())
        self.next_id += 1
        self.nodes[node.id] = node
        node.start()
        return node

    def up_nodes(self) -> list[SimNode]:
        return [node for node in self.nodes.values() if node.up]

    def leader(self) -> SimNode | None:
        """The live leader with the highest term, if any."""
        best: SimNode | None = None
        for node in self.up_nodes():
            core = node.core
            if (
                core is not None
                and core.role is Role.LEADER
                and (best is None or best.core is None or core.term > best.core.term)
            ):
                best = node
        return best

    def format_trace(self) -> str:
        lines = []
        for when, node, what in self._trace:
            text = what if isinstance(what, str) else f"<- {_short(what)}"
            lines.append(f"{when:10.3f}ms  n{node}: {text}")
        return "\n".join(lines)


def _short(msg: Wire) -> str:
    text = repr(msg)
    return text if len(text) <= 300 else text[:297] + "..."
