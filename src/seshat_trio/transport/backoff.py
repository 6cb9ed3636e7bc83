"""Jittered exponential backoff for reconnects (pure; randomness from an injected Random).

Delay n is drawn uniformly from [d/2, d) where d = min(initial * 2**n, maximum): the upper
half keeps the exponential spacing, the jitter keeps restarted nodes from dialling in step.
"""

from __future__ import annotations

import random


class Backoff:
    def __init__(self, rng: random.Random, initial: float, maximum: float) -> None:
        if not 0 < initial <= maximum:
            raise ValueError("backoff needs 0 < initial <= maximum")
        self._rng = rng
        self._initial = initial
        self._maximum = maximum
        self._next = initial

    def next_delay(self) -> float:
        ceiling = self._next
        self._next = min(self._next * 2, self._maximum)
        return self._rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        """After a successful connection: the next failure retries quickly again."""
        self._next = self._initial
