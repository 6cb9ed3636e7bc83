"""What a node's memory holds, for the soak's report: its RSS split into anonymous memory
and file pages (/proc/PID/status: LevelDB reads its table files through mmap, and those
pages count in RSS though the kernel may drop them), and from its /metrics the bounded
parts (value cache, LevelDB's memtables and block cache) and the rest (Python's blocks,
glibc malloc's in-use and free bytes), so growth can be attributed.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import attrs
import trio
from prometheus_client.parser import text_string_to_metric_families

from chaos.process import status_kb

#: Gauge (without the `seshat_` prefix) -> short column name in the report.
PARTS = {
    "value_cache_bytes": "vcache",
    "value_cache_entries": "ventries",
    "leveldb_memory_bytes": "leveldb",
    "python_allocated_blocks": "pyblocks",
    "malloc_in_use_bytes": "malloc",
    "malloc_free_bytes": "mfree",
}
#: /proc/PID/status field -> short column name.
RSS_PARTS = {"RssAnon": "anon", "RssFile": "file"}
COLUMNS = (*RSS_PARTS.values(), *PARTS.values())
_BYTES = frozenset({"anon", "file", "vcache", "leveldb", "malloc", "mfree"})
FETCH_TIMEOUT = 3.0


@attrs.frozen(slots=True)
class Breakdown:
    """One node's memory parts at one report, by short name (bytes or counts)."""

    parts: dict[str, float]

    def describe(self) -> str:
        """`anon 40.0MiB file 18.2MiB vcache 1.0MiB ventries 12k ...`, in COLUMNS order."""
        return " ".join(
            f"{name} {_scaled(name, value)}"
            for name in COLUMNS
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


def parse_status(status: str) -> dict[str, float]:
    """The RSS_PARTS of a /proc/PID/status text, in bytes."""
    sizes = status_kb(status)
    return {name: sizes[field] * 1024 for field, name in RSS_PARTS.items() if field in sizes}


def _fetch(http_port: int) -> str:
    url = f"http://127.0.0.1:{http_port}/metrics"
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as response:
        body: bytes = response.read()
    return body.decode()


async def read_breakdown(pid: int, http_port: int) -> Breakdown | None:
    """The node's breakdown, or None if it is gone or does not answer in time."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        body = await trio.to_thread.run_sync(_fetch, http_port)
    except (OSError, urllib.error.URLError, ValueError):
        return None
    return Breakdown({**parse_status(status), **parse_breakdown(body).parts})
