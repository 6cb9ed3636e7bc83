"""What a node's memory holds, read from its /metrics for the soak's report: the bounded
parts (value cache, LevelDB's memtables and block cache) and the rest (Python's blocks,
glibc malloc's in-use and free bytes) beside RSS, so growth can be attributed.
"""

from __future__ import annotations

import urllib.error
import urllib.request

import attrs
import trio
from prometheus_client.parser import text_string_to_metric_families

#: Gauge (without the `seshat_` prefix) -> short column name in the report.
PARTS = {
    "value_cache_bytes": "vcache",
    "value_cache_entries": "ventries",
    "leveldb_memory_bytes": "leveldb",
    "python_allocated_blocks": "pyblocks",
    "malloc_in_use_bytes": "malloc",
    "malloc_free_bytes": "mfree",
}
_BYTES = frozenset({"vcache", "leveldb", "malloc", "mfree"})
FETCH_TIMEOUT = 3.0


@attrs.frozen(slots=True)
class Breakdown:
    """One node's memory parts at one report, by short name (bytes or counts)."""

    parts: dict[str, float]

    def describe(self) -> str:
        """`vcache 1.0MiB ventries 12k leveldb 33.1MiB ...`, in PARTS order."""
        return " ".join(
            f"{name} {_scaled(name, value)}"
            for name in PARTS.values()
            if (value := self.parts.get(name)) is not None
        )


def _scaled(name: str, value: float) -> str:
    return f"{value / 2**20:.1f}MiB" if name in _BYTES else f"{value / 1000:.0f}k"


def curve_text(name: str, values: list[float | None]) -> str:
    """A part's values over the reports: MiB for byte counts, thousands for the others."""
    unit = " MiB" if name in _BYTES else "k"
    return " ".join("-" if v is None else _scaled(name, v).rstrip("MiBk") for v in values) + unit


def parse_breakdown(exposition: str) -> Breakdown:
    """The PARTS gauges of a /metrics body."""
    parts: dict[str, float] = {}
    for family in text_string_to_metric_families(exposition):
        name = PARTS.get(family.name.removeprefix("seshat_"))
        if name is not None and family.samples:
            parts[name] = family.samples[0].value
    return Breakdown(parts)


def _fetch(http_port: int) -> str:
    url = f"http://127.0.0.1:{http_port}/metrics"
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as response:
        body: bytes = response.read()
    return body.decode()


async def read_breakdown(http_port: int) -> Breakdown | None:
    """The node's breakdown, or None if it does not answer in time."""
    try:
        body = await trio.to_thread.run_sync(_fetch, http_port)
    except (OSError, urllib.error.URLError, ValueError):
        return None
    return parse_breakdown(body)
