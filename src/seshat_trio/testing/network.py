"""A seeded, lossy, partitionable network for the deterministic Raft simulator.

Rules:
- All randomness comes from the `random.Random` passed in; the same seed and the
  same sequence of calls give the same deliveries, so any run replays exactly.
- The network never delivers anything itself: `send()` returns the delivery
  times it chose (zero, one or two: dropped, delivered, duplicated) and the
  simulator schedules them as events.  Reordering falls out of independent
  random delays.
- Partitions are a set of blocked *directed* links, checked both when a message
  is sent and when it arrives, so a partition that starts while a message is
  in flight still cuts it off (as a real cable pull would).
"""

from __future__ import annotations

import random
from collections.abc import Iterable

import attrs


@attrs.frozen(slots=True)
class NetworkFaults:
    """Per-message fault probabilities and the delay distribution (milliseconds)."""

    drop: float = 0.0
    duplicate: float = 0.0
    min_delay: float = 0.5
    max_delay: float = 5.0
    #: Probability that a message is delayed by up to `long_delay` instead.
    slow: float = 0.0
    long_delay: float = 100.0


class Network:
    """Decides the fate of each message; holds the current partition."""

    def __init__(self, rng: random.Random, faults: NetworkFaults | None = None) -> None:
        self._rng = rng
        self.faults = faults or NetworkFaults()
        self._blocked: set[tuple[int, int]] = set()
        self.sent = 0
        self.dropped = 0
        self.duplicated = 0

    def delivery_delays(self, src: int, dst: int) -> list[float]:
        """Delays after which copies of one message from `src` to `dst` arrive."""
        self.sent += 1
        f = self.faults
        if not self.connected(src, dst) or self._rng.random() < f.drop:
            self.dropped += 1
            return []
        copies = 1
        if self._rng.random() < f.duplicate:
            copies = 2
            self.duplicated += 1
        return [self._delay() for _ in range(copies)]

    def connected(self, src: int, dst: int) -> bool:
        """Whether a message from `src` can currently reach `dst`."""
        return (src, dst) not in self._blocked

    def _delay(self) -> float:
        f = self.faults
        if self._rng.random() < f.slow:
            return self._rng.uniform(f.max_delay, f.long_delay)
        return self._rng.uniform(f.min_delay, f.max_delay)

    # --- partitions ------------------------------------------------------------

    def heal(self) -> None:
        """Remove every partition."""
        self._blocked.clear()

    def split(self, sides: Iterable[Iterable[int]]) -> None:
        """Full partition: nodes talk only to nodes on their own side."""
        groups = [frozenset(side) for side in sides]
        for a in groups:
            for b in groups:
                if a is not b:
                    self._blocked.update((x, y) for x in a for y in b)

    def isolate(self, node: int, others: Iterable[int]) -> None:
        """Cut `node` off from everyone, both directions."""
        for other in others:
            if other != node:
                self._blocked.add((node, other))
                self._blocked.add((other, node))

    def reconnect(self, node: int) -> None:
        """Undo every block to or from `node`; other partitions stay."""
        self._blocked = {link for link in self._blocked if node not in link}

    def block_one_way(self, src: int, dst: int) -> None:
        """Messages from `src` to `dst` are lost; the reverse direction still works."""
        self._blocked.add((src, dst))

    def describe(self) -> str:
        """The blocked links, for traces."""
        if not self._blocked:
            return "fully connected"
        return "blocked " + " ".join(f"{a}->{b}" for a, b in sorted(self._blocked))
