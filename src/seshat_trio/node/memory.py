"""Where a node's resident memory goes: the parts /metrics shows beside RSS, and an opt-in
tracer of the Python heap's growth.

RSS alone cannot tell a cache filling towards its bound from a leak. The bounded parts are
read at scrape time (never on a hot path): the value cache's bytes and entries, LevelDB's
own estimate of its memtables and block cache (`leveldb.approximate-memory-usage`), the
blocks Python's allocator holds (`sys.getallocatedblocks`: objects, not bytes, but a leak
of Python objects shows there first) and, on glibc, what malloc has handed out and what it
keeps free (`mallinfo2`: LevelDB's memory and Python's larger objects; free bytes that stay
high are fragmentation, not data).

`node.memory_trace_s` > 0 starts tracemalloc (one frame per allocation: it costs CPU and
memory, a debugging aid only) and logs, every that many seconds, the source lines whose
live allocations grew most since the previous snapshot (event `memory_growth`).
"""

from __future__ import annotations

import ctypes
import sys
import tracemalloc
from collections.abc import Callable

import attrs
import trio

from seshat_trio.logs import get_logger

log = get_logger(__name__)

#: Source lines logged per `memory_growth` event.
TRACE_TOP = 12


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd",
            "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
        )
    ]  # fmt: skip


def _load_mallinfo2() -> Callable[[], _MallInfo2] | None:
    try:
        function = ctypes.CDLL(None).mallinfo2
    except (AttributeError, OSError):
        return None  # not glibc >= 2.33
    function.restype = _MallInfo2
    function.argtypes = []
    return function


_MALLINFO2 = _load_mallinfo2()


@attrs.frozen(slots=True)
class MallocStats:
    """glibc malloc's totals over all arenas, in bytes."""

    in_use: int  # handed out and not freed (heap chunks plus mmapped ones)
    free: int  # held in malloc's free lists, not returned to the system


def malloc_stats() -> MallocStats | None:
    """malloc's totals, or None where glibc's mallinfo2 is missing."""
    if _MALLINFO2 is None:
        return None
    info = _MALLINFO2()
    return MallocStats(in_use=int(info.uordblks + info.hblkhd), free=int(info.fordblks))


def python_blocks() -> int:
    """Memory blocks Python's allocators hold (about one per live small object)."""
    return sys.getallocatedblocks()


def growth_lines(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, top: int) -> list[str]:
    """The `top` source lines whose live bytes grew most from `before` to `after`, as
    `file:line +bytes (+count)`."""
    stats = after.compare_to(before, "lineno")
    grown = sorted((s for s in stats if s.size_diff > 0), key=lambda s: -s.size_diff)[:top]
    return [
        f"{s.traceback[0].filename}:{s.traceback[0].lineno} {s.size_diff:+d}B ({s.count_diff:+d})"
        for s in grown
    ]


async def trace_memory(interval_s: float, top: int = TRACE_TOP) -> None:
    """Log the Python heap's growth by source line every `interval_s` (runs until
    cancelled; stops tracemalloc then)."""
    tracemalloc.start(1)
    ignore = (tracemalloc.Filter(False, tracemalloc.__file__),)
    try:
        previous = tracemalloc.take_snapshot().filter_traces(ignore)
        while True:
            await trio.sleep(interval_s)
            current = tracemalloc.take_snapshot().filter_traces(ignore)
            traced, _peak = tracemalloc.get_traced_memory()
            log.info(
                "memory_growth",
                traced_bytes=traced,
                lines=" | ".join(growth_lines(previous, current, top)),
            )
            previous = current
    finally:
        tracemalloc.stop()
