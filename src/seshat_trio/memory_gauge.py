"""`used_memory` for `maxmemory`: the node process's resident memory (RSS), sampled cheaply.

What is counted, precisely: every page of the node process resident in RAM, as Linux
reports it in /proc/self/statm: the store's caches (LevelDB block cache and memtable, the
value cache), the in-memory expiry index, the Raft log tail and unstable entries, client
input and output buffers, and Python itself. Redis counts its allocator's bytes in use;
Python offers no cheap equivalent, and resident memory is what the machine runs out of.

The reading is cached for SAMPLE_INTERVAL_S (a read of /proc costs a few microseconds, too
much for every write). Resident memory only falls when the allocator hands pages back, so
`maxmemory` is a brake rather than a quota: set it with room above the working set.
"""

from __future__ import annotations

import os
import time

SAMPLE_INTERVAL_S = 0.1
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


class MemoryGauge:
    __slots__ = ("_at", "_value", "refused")

    def __init__(self) -> None:
        self._at = -float("inf")
        self._value = 0
        self.refused = 0  # commands answered -OOM

    def used_bytes(self) -> int:
        """Resident bytes of this process, at most SAMPLE_INTERVAL_S old."""
        now = time.monotonic()
        if now - self._at >= SAMPLE_INTERVAL_S:
            self._value = resident_bytes()
            self._at = now
        return self._value


def resident_bytes() -> int:
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_BYTES
    except (OSError, IndexError, ValueError):
        return 0  # not Linux: nothing to measure, so maxmemory never refuses


USED_MEMORY = MemoryGauge()
"""The process's gauge (one process runs one node; nodes sharing a test process share it)."""
