"""Prometheus exposition of one node: a custom collector that reads state at scrape time.

Nothing here runs on a hot path. Gauges (role, term, indexes, peer links, clients) are
read from the objects that already hold them (`RaftGroupDriver.status()`,
`Transport.peer_states()`, `NodeStats`) when `/metrics` is scraped; counters and
histograms that must be updated where events happen are plain integers kept in
`node/stats.py` and `replication/stats.py` and only converted here. Each node gets its own
`CollectorRegistry` (`node_registry`), never the process-global one, so several nodes can
share a process.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Protocol

from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from seshat_trio.histogram import Histogram
from seshat_trio.memory_gauge import USED_MEMORY
from seshat_trio.node.memory import malloc_stats, python_blocks
from seshat_trio.node.stats import NodeStats
from seshat_trio.raft import Role
from seshat_trio.replication.driver import GroupStatus
from seshat_trio.replication.stats import RaftCounters
from seshat_trio.storage.group_commit import CommitStats
from seshat_trio.storage.value_cache import ValueCache
from seshat_trio.transport.peers import PeerState

__all__ = ["CONTENT_TYPE_LATEST", "NodeCollector", "node_registry", "render"]

PREFIX = "seshat_"


class GroupSource(Protocol):
    """One Raft group on this node (a `RaftGroupDriver`)."""

    @property
    def counters(self) -> RaftCounters: ...

    def status(self) -> GroupStatus: ...


class PeerSource(Protocol):
    """The transport's outbound links, and the peer connections it refused."""

    def peer_states(self) -> Mapping[int, PeerState]: ...

    @property
    def refused(self) -> Mapping[str, int]: ...


class CommitSource(Protocol):
    """The storage group committer."""

    @property
    def stats(self) -> CommitStats: ...


class NodeCollector(Collector):
    """Every seshat metric of one node, built fresh on each scrape."""

    def __init__(
        self,
        *,
        node_id: int,
        stats: NodeStats,
        groups: Sequence[GroupSource],
        peers: PeerSource,
        committer: CommitSource,
        value_cache: ValueCache,
        leveldb_memory: Callable[[], int] = lambda: 0,
        acl_denials: Mapping[str, int] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._acl_denials = acl_denials if acl_denials is not None else {}
        self._node_id = node_id
        self._stats = stats
        self._groups = groups
        self._peers = peers
        self._committer = committer
        self._value_cache = value_cache
        self._leveldb_memory = leveldb_memory
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        yield from self._node()
        yield from self._commands()
        yield from self._raft()
        yield from self._transport()
        yield from self._storage()
        yield from self._memory()

    # -- node and clients ------------------------------------------------------------------
    def _node(self) -> Iterator[Metric]:
        stats = self._stats
        yield InfoMetricFamily(_n("node"), "This node's identity.", {"id": str(self._node_id)})
        yield GaugeMetricFamily(
            _n("uptime_seconds"),
            "Seconds since the node started.",
            self._clock() - stats.started_at,
        )
        yield GaugeMetricFamily(
            _n("connected_clients"), "Open client (RESP) connections.", stats.connected_clients
        )
        yield CounterMetricFamily(
            _n("connections_received"),
            "Client connections accepted (including rejected ones).",
            stats.total_connections_received,
        )
        yield CounterMetricFamily(
            _n("connections_rejected"),
            "Client connections refused because max_clients was reached.",
            stats.rejected_connections,
        )
        yield GaugeMetricFamily(
            _n("clients_input_bytes"),
            "Input all clients buffer now (requests still arriving), against maxmemory-clients.",
            stats.clients_input_bytes,
        )
        hits = CounterMetricFamily(
            _n("limit_hits"),
            "Resource limits reached, by limit: maxmemory_clients, timeout, "
            "request_read_timeout, max_request_bytes (clients closed), maxmemory (writes "
            "refused), auth_failures (logins refused), http_* (admin connections).",
            labels=["limit"],
        )
        counted = dict(stats.limit_hits)
        if USED_MEMORY.refused:
            counted["maxmemory"] = USED_MEMORY.refused
        for limit, count in sorted(counted.items()):
            hits.add_metric([limit], count)
        yield hits
        yield GaugeMetricFamily(
            _n("used_memory_bytes"),
            "The node process's resident memory, what maxmemory is compared with.",
            USED_MEMORY.used_bytes(),
        )
        yield CounterMetricFamily(
            _n("protocol_errors"),
            "Client connections closed for a RESP protocol error.",
            stats.protocol_errors,
        )
        yield CounterMetricFamily(
            _n("tls_handshake_failures"),
            "TLS client connections closed before their handshake completed.",
            stats.tls_handshake_failures,
        )
        denied = CounterMetricFamily(
            _n("acl_denied"),
            "Client commands, keys, channels and logins refused by ACL (reason: command, key, "
            "channel, auth).",
            labels=["reason"],
        )
        for reason in ("command", "key", "channel", "auth"):
            denied.add_metric([reason], self._acl_denials.get(reason, 0))
        yield denied

    def _commands(self) -> Iterator[Metric]:
        commands = self._stats.commands
        calls = CounterMetricFamily(
            _n("commands"),
            "Commands executed for clients, by command and outcome (ok or error reply).",
            labels=["command", "outcome"],
        )
        latency = HistogramMetricFamily(
            _n("command_duration_seconds"),
            "From the client read that carried a command until its reply was ready.",
            labels=["command"],
        )
        for name, counts in sorted(commands.by_name.items()):
            calls.add_metric([name, "ok"], counts.ok)
            calls.add_metric([name, "error"], counts.errors)
            _add_histogram(latency, [name], counts.latency)
        yield from (calls, latency)

    # -- raft ------------------------------------------------------------------------------
    def _raft(self) -> Iterator[Metric]:
        labels = ["group"]
        term = GaugeMetricFamily(_n("raft_term"), "Current Raft term.", labels=labels)
        role = GaugeMetricFamily(
            _n("raft_role"), "1 for this node's current role in the group, else 0.",
            labels=["group", "role"],
        )  # fmt: skip
        leader = GaugeMetricFamily(
            _n("raft_leader_id"), "The leader this node knows (0: none known).", labels=labels
        )
        indexes = {
            name: GaugeMetricFamily(_n(f"raft_{name}_index"), text, labels=labels)
            for name, text in (
                ("commit", "Highest log index known to be committed."),
                ("applied", "Highest log index applied to the state machine."),
                ("first", "First index still in the log (older entries are compacted)."),
                ("last", "Last index in the log."),
                ("snapshot", "Index of the latest snapshot (log compaction point)."),
            )
        }
        match = GaugeMetricFamily(
            _n("raft_peer_match_index"),
            "Leader only: highest index known to be replicated to the peer.",
            labels=["group", "peer"],
        )
        lag = GaugeMetricFamily(
            _n("raft_replication_lag"),
            "Leader only: commit index minus the peer's match index (0 when caught up).",
            labels=["group", "peer"],
        )
        members = GaugeMetricFamily(
            _n("raft_member"),
            "1 for each member of the group's membership in force here, by role.",
            labels=["group", "member", "role"],
        )
        counters = {
            name: CounterMetricFamily(_n(f"raft_{name}"), text, labels=labels)
            for name, text in (
                ("pre_votes", "Pre-vote campaigns this node started."),
                ("elections", "Elections this node ran (campaigned for a new term)."),
                ("leader_changes", "Times a new leader became known to this node."),
                ("proposals", "Commands this node appended to the log as leader."),
                ("proposals_failed", "Queued commands refused before reaching the log."),
                ("snapshot_send_failures", "Snapshot transfers to a follower that failed."),
                ("compactions", "Log compactions (snapshots taken locally)."),
                (
                    "lease_voids",
                    "Lease reads: times a gap in ticks (a stopped or stalled process) voided "
                    "the read lease.",
                ),
                (
                    "follower_regressions",
                    "Followers whose log lost entries they had acknowledged (storage lost "
                    "synced writes); re-replicated by the leader.",
                ),
            )
        }
        send = HistogramMetricFamily(
            _n("raft_snapshot_send_seconds"),
            "Duration of completed snapshot transfers to followers.",
            labels=labels,
        )
        install = HistogramMetricFamily(
            _n("raft_snapshot_install_seconds"),
            "Duration of snapshot installs received from the leader.",
            labels=labels,
        )
        for source in self._groups:
            status = source.status()
            group = [str(status.group)]
            term.add_metric(group, status.term)
            for each in Role:
                role.add_metric([*group, each.value], 1.0 if status.role is each else 0.0)
            leader.add_metric(group, status.leader_id or 0)
            for name, value in (
                ("commit", status.commit),
                ("applied", status.applied),
                ("first", status.first_index),
                ("last", status.last_index),
                ("snapshot", status.snapshot_index),
            ):
                indexes[name].add_metric(group, value)
            for kind, ids in (("voter", status.voters), ("learner", status.learners)):
                for member in ids:
                    members.add_metric([*group, str(member), kind], 1.0)
            for peer, progress in status.peers.items():
                match.add_metric([*group, str(peer)], progress.match)
                lag.add_metric([*group, str(peer)], max(0, status.commit - progress.match))
            counted = source.counters
            for name, family in counters.items():
                family.add_metric(group, getattr(counted, name))
            _add_histogram(send, group, counted.snapshot_send_seconds)
            _add_histogram(install, group, counted.snapshot_install_seconds)
        yield from (term, role, leader, *indexes.values(), match, lag, members)
        yield from (*counters.values(), send, install)

    # -- transport and storage -------------------------------------------------------------
    def _transport(self) -> Iterator[Metric]:
        labels = ["peer"]
        connected = GaugeMetricFamily(
            _n("peer_connected"), "1 while the outbound link to the peer is up.", labels=labels
        )
        queued = GaugeMetricFamily(
            _n("peer_queue_bytes"), "Bytes waiting in the outbox to the peer.", labels=labels
        )
        dropped = CounterMetricFamily(
            _n("peer_dropped_messages"),
            "Messages to the peer dropped because its outbox was full.",
            labels=labels,
        )
        reconnects = CounterMetricFamily(
            _n("peer_reconnects"), "Handshakes with the peer after the first.", labels=labels
        )
        for peer, state in sorted(self._peers.peer_states().items()):
            label = [str(peer)]
            connected.add_metric(label, 1.0 if state.connected else 0.0)
            queued.add_metric(label, state.queue_bytes)
            dropped.add_metric(label, state.dropped)
            reconnects.add_metric(label, state.reconnects)
        yield from (connected, queued, dropped, reconnects)
        refused = CounterMetricFamily(
            _n("peer_connections_refused"),
            "Peer connections refused or closed for security: NotMember, AuthenticationError "
            "(no valid proof of the cluster secret), ForgedFrame (a frame failed its MAC), "
            "HandshakeError, TooManyHandshakes.",
            labels=["reason"],
        )
        for reason, count in sorted(self._peers.refused.items()):
            refused.add_metric([reason], count)
        yield refused

    def _storage(self) -> Iterator[Metric]:
        commit = self._committer.stats
        yield CounterMetricFamily(
            _n("group_commit_rounds"), "Synced writes (fsync rounds) written.", commit.rounds
        )
        yield CounterMetricFamily(
            _n("group_commit_inline_rounds"),
            "Synced writes of one small batch made on the idle event loop (of the rounds).",
            commit.inline_rounds,
        )
        yield CounterMetricFamily(
            _n("group_commit_failed_rounds"), "Synced writes that failed.", commit.failed_rounds
        )
        yield CounterMetricFamily(
            _n("group_commit_batches"), "Batches made durable by the group committer.",
            commit.batches,
        )  # fmt: skip
        fsync = HistogramMetricFamily(
            _n("fsync_duration_seconds"), "Duration of each synced write (group-commit round)."
        )
        _add_histogram(fsync, [], self._stats.fsync_seconds)
        batches = HistogramMetricFamily(
            _n("group_commit_batch_size"), "Batches merged into each group-commit round."
        )
        _add_histogram(batches, [], self._stats.commit_batches)
        yield from (fsync, batches)
        cache = self._value_cache
        yield CounterMetricFamily(
            _n("value_cache_hits"), "Value reads answered by the value cache.", cache.hits
        )
        yield CounterMetricFamily(
            _n("value_cache_misses"), "Value reads that went to LevelDB.", cache.misses
        )
        yield GaugeMetricFamily(
            _n("value_cache_bytes"), "Estimated memory held by the value cache.", cache.size_bytes
        )

    def _memory(self) -> Iterator[Metric]:
        """What the resident memory holds (node/memory.py): the bounded parts beside RSS."""
        parts: list[tuple[str, str, float]] = [
            ("value_cache_entries", "Records held by the value cache.", len(self._value_cache)),
            (
                "leveldb_memory_bytes",
                "LevelDB's estimate of its memtables and block cache.",
                self._leveldb_memory(),
            ),
            (
                "python_allocated_blocks",
                "Memory blocks Python's allocators hold (about one per live small object).",
                python_blocks(),
            ),
        ]
        malloc = malloc_stats()
        if malloc is not None:
            parts.append(
                ("malloc_in_use_bytes", "Bytes glibc malloc has handed out.", malloc.in_use)
            )
            parts.append(
                (
                    "malloc_free_bytes",
                    "Bytes glibc malloc holds free (not returned to the system).",
                    malloc.free,
                )
            )
        for name, text, value in parts:
            yield GaugeMetricFamily(_n(name), text, value)


def _n(name: str) -> str:
    return PREFIX + name


def _add_histogram(family: HistogramMetricFamily, labels: list[str], hist: Histogram) -> None:
    buckets = [(_bound(bound), count) for bound, count in hist.cumulative()]
    family.add_metric(labels, buckets, hist.sum)


def _bound(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


def node_registry(collector: NodeCollector) -> CollectorRegistry:
    """A registry of this node's metrics only (no process-global collectors)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The Prometheus text exposition of `registry` (content type CONTENT_TYPE_LATEST)."""
    return generate_latest(registry)
