"""node/memory.py and chaos/memory.py: the memory parts /metrics shows beside RSS, the soak's
reading of them, and the opt-in tracemalloc growth log."""

from __future__ import annotations

import logging
import tracemalloc

import pytest
import trio
import trio.testing
from chaos.memory import Breakdown, curve_text, parse_breakdown, parse_status
from chaos.process import status_kb

from seshat_trio.node.memory import growth_lines, malloc_stats, trace_memory

EXPOSITION = """\
# HELP seshat_value_cache_bytes Estimated memory held by the value cache.
# TYPE seshat_value_cache_bytes gauge
seshat_value_cache_bytes 2097152.0
# HELP seshat_value_cache_entries Records held by the value cache.
# TYPE seshat_value_cache_entries gauge
seshat_value_cache_entries 12000.0
# HELP seshat_leveldb_memory_bytes LevelDB's estimate.
# TYPE seshat_leveldb_memory_bytes gauge
seshat_leveldb_memory_bytes 34603008.0
# HELP seshat_uptime_seconds Seconds since the node started.
# TYPE seshat_uptime_seconds gauge
seshat_uptime_seconds 5.0
"""


def test_malloc_stats_count_a_large_allocation() -> None:
    before = malloc_stats()
    if before is None:
        pytest.skip("not glibc >= 2.33")
    held = bytearray(8 << 20)
    after = malloc_stats()
    assert after is not None
    assert after.in_use - before.in_use >= 8 << 20
    del held


def test_soak_splits_rss_into_anonymous_and_file_pages() -> None:
    status = "Name:\tpython\nVmRSS:\t   68536 kB\nRssAnon:\t   48868 kB\nRssFile:\t   19668 kB\n"
    assert parse_status(status) == {"anon": 48868 * 1024, "file": 19668 * 1024}
    parts = Breakdown({**parse_status(status), "leveldb": 2**20})
    assert parts.describe() == "anon 47.7MiB file 19.2MiB leveldb 1.0MiB"
    # The soak's RSS column and its parts come from one parse of the same file.
    assert status_kb(status + "Threads:\t9\n") == {
        "VmRSS": 68536,
        "RssAnon": 48868,
        "RssFile": 19668,
    }


def test_soak_reads_the_parts_and_ignores_the_rest() -> None:
    parts = parse_breakdown(EXPOSITION)
    assert parts.parts == {"vcache": 2097152.0, "ventries": 12000.0, "leveldb": 34603008.0}
    assert parts.describe() == "vcache 2.0MiB ventries 12k leveldb 33.0MiB"
    assert curve_text("leveldb", [1 << 20, None, 3 << 20]) == "1.0 - 3.0 MiB"
    assert curve_text("pyblocks", [250_000.0]) == "250k"
    assert Breakdown({}).describe() == ""


def test_growth_lines_name_the_allocating_line() -> None:
    tracemalloc.start(1)
    try:
        before = tracemalloc.take_snapshot()
        kept = [bytes(1000) + bytes([i % 256]) for i in range(2000)]  # the growing line
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    (top,) = growth_lines(before, after, 1)
    assert top.startswith(f"{__file__}:")
    assert int(top.split()[1].removeprefix("+").removesuffix("B")) >= 2000 * 1000
    assert len(kept) == 2000


async def test_trace_memory_logs_growth_each_interval_and_stops_tracing(
    caplog: pytest.LogCaptureFixture, autojump_clock: trio.testing.MockClock
) -> None:
    caplog.set_level(logging.INFO, logger="seshat_trio.node.memory")
    kept: list[bytes] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trace_memory, 10.0)
        await trio.sleep(1.0)
        kept.extend(bytes(1000) + bytes([i % 256]) for i in range(500))
        await trio.sleep(10.0)
        assert tracemalloc.is_tracing()
        nursery.cancel_scope.cancel()
    assert not tracemalloc.is_tracing()
    events = [r for r in caplog.records if r.getMessage() == "memory_growth"]
    assert len(events) == 1
    fields = events[0].seshat_fields  # type: ignore[attr-defined]
    assert __file__ in fields["lines"]
    assert fields["traced_bytes"] >= 500 * 1000


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)
