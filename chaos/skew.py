"""Clock skew for one node through libfaketime (Debian package `faketime`).

The library is preloaded into the node process only (LD_PRELOAD), so the test process and
the other nodes keep the real clock. FAKETIME="+30s" shifts every clock the process reads,
including CLOCK_MONOTONIC, by a constant: a node's timers keep their real rate, its wall
clock (the leader's write timestamps, TIME) is 30 s ahead.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

LIBFAKETIME_PATHS = (
    Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"),
    Path("/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1"),
    Path("/usr/lib/faketime/libfaketime.so.1"),
)


def faketime_env(offset: str) -> dict[str, str] | None:
    """Environment that runs a process `offset` (e.g. "+30s") off the real clock, or None
    when libfaketime is not installed."""
    for path in LIBFAKETIME_PATHS:
        if path.exists():
            # NO_CACHE: the offset applies from the very first clock call.
            return {"LD_PRELOAD": str(path), "FAKETIME": offset, "FAKETIME_NO_CACHE": "1"}
    return None


def log_clock_offset(log_text: str, now: float) -> float | None:
    """How far ahead of `now` (a real wall-clock time) the newest `ts=` in a node's log is."""
    words = (word for line in log_text.splitlines() for word in line.split())
    stamps = [word[3:] for word in words if word.startswith("ts=")]
    if not stamps:
        return None
    newest = datetime.fromisoformat(stamps[-1].replace("Z", "+00:00"))
    return newest.timestamp() - now
