"""Node-wide counters that INFO and /metrics report, updated inline where things happen.

Everything here is plain integers, dicts and lists: an update is an attribute or dict
increment (tens of nanoseconds), far cheaper than prometheus_client's locked metric
objects. `node/metrics.py` turns these into Prometheus families only when scraped.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence

import attrs
import hiredis

from seshat_trio.histogram import Histogram
from seshat_trio.protocol import ErrorReply, RawReplies, Reply

# Seconds; a command's latency spans sub-millisecond reads to multi-second retries.
LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0,
)  # fmt: skip
# Seconds per synced write (fsync).
FSYNC_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# Batches merged into one group-commit round.
BATCH_BUCKETS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 1024.0)


def _raw_outcomes(raw: RawReplies) -> Iterator[bool]:
    # Only forwarded runs get here, after a network round trip: decoding the top-level
    # replies once more is cheap next to that.
    reader = hiredis.Reader()
    reader.feed(raw.data)
    for _ in range(raw.count):
        yield not isinstance(reader.gets(), hiredis.ReplyError)


class CommandCounts:
    """One command's calls by outcome and its latency histogram."""

    __slots__ = ("errors", "latency", "ok")

    def __init__(self) -> None:
        self.ok = 0
        self.errors = 0
        self.latency = Histogram(LATENCY_BUCKETS)


@attrs.define(slots=True)
class CommandStats:
    """Commands served to clients, by name and outcome, with read-to-reply latency."""

    by_name: dict[str, CommandCounts] = attrs.Factory(dict)

    def record(self, names: Sequence[str], replies: Iterable[Reply], seconds: float) -> int:
        """Count one client read's commands and return how many ran; `seconds` from the
        read to its replies (they are sent together, so that is each command's latency as
        the client sees it). Commands without a reply (after QUIT) did not run."""
        # Every command of the read shares `seconds`: find its bucket once.
        bucket = bisect_left(LATENCY_BUCKETS, seconds)
        position = 0
        for reply in replies:
            if isinstance(reply, RawReplies):
                outcomes: Iterable[bool] = _raw_outcomes(reply)
            else:
                outcomes = (not isinstance(reply, ErrorReply),)
            for ok in outcomes:
                if position == len(names):
                    return position
                counts = self.by_name.get(names[position])
                if counts is None:
                    counts = self.by_name[names[position]] = CommandCounts()
                if ok:
                    counts.ok += 1
                else:
                    counts.errors += 1
                latency = counts.latency
                latency.counts[bucket] += 1
                latency.sum += seconds
                position += 1
        return position


@attrs.define(slots=True)
class NodeStats:
    started_at: float
    connected_clients: int = 0
    total_connections_received: int = 0
    total_commands_processed: int = 0
    rejected_connections: int = 0
    tls_handshake_failures: int = 0
    protocol_errors: int = 0
    output_limit_disconnections: int = 0  # clients cut off by client-output-buffer-limit
    commands: CommandStats = attrs.Factory(CommandStats)
    fsync_seconds: Histogram = attrs.Factory(lambda: Histogram(FSYNC_BUCKETS))
    commit_batches: Histogram = attrs.Factory(lambda: Histogram(BATCH_BUCKETS))

    def observe_commit_round(self, batches: int, seconds: float) -> None:
        """The group committer's hook: one synced write of `batches` batches took `seconds`."""
        self.fsync_seconds.observe(seconds)
        self.commit_batches.observe(batches)
