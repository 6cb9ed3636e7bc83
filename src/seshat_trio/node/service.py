"""The node service: what the command layer calls to write, read and describe the node.

Writes are submitted to the replication engine and acknowledged after they apply; every
request has a deadline (`limits.request_timeout_ms`). A write whose deadline passes after it
was submitted may still commit, so it is reported as an unknown outcome, never as failed.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Awaitable

import trio

from seshat_trio import __version__
from seshat_trio.config import Config
from seshat_trio.errors import OutcomeUnknownError
from seshat_trio.kv.operations import Operation
from seshat_trio.kv.state_machine import KvStateMachine
from seshat_trio.node.local_log import LocalLog
from seshat_trio.node.stats import NodeStats
from seshat_trio.protocol import Reply
from seshat_trio.storage import StoredValue

REDIS_VERSION = "7.0.0"


class NodeService:
    def __init__(
        self, config: Config, machine: KvStateMachine, log: LocalLog, stats: NodeStats
    ) -> None:
        self._config = config
        self._machine = machine
        self._log = log
        self.stats = stats
        self._timeout_s = config.limits.request_timeout_ms / 1000

    def submit(self, op: Operation) -> Awaitable[tuple[Reply, ...]]:
        return self._await_with_deadline(self._log.submit(op))

    async def _await_with_deadline(
        self, pending: Awaitable[tuple[Reply, ...]]
    ) -> tuple[Reply, ...]:
        with trio.move_on_after(self._timeout_s):
            return await pending
        raise OutcomeUnknownError(
            "TIMEOUT the write was not confirmed within the request timeout; its outcome is unknown"
        )

    async def read_barrier(self) -> None:
        # One node: a write is applied before it is acknowledged, and applied state is only
        # ever made of fsynced log entries, so applied state is always linearizable.
        return None

    def get(self, key: bytes) -> StoredValue | None:
        return self._machine.get(key)

    def key_count(self) -> int:
        return self._machine.key_count

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def info_sections(self) -> dict[str, list[tuple[str, str]]]:
        node = self._config.node
        uptime = int(time.monotonic() - self.stats.started_at)
        keys = self._machine.key_count
        return {
            "server": [
                ("redis_version", REDIS_VERSION),
                ("seshat_version", __version__),
                ("redis_mode", "standalone"),
                ("os", f"{platform.system()} {platform.release()} {platform.machine()}"),
                ("arch_bits", "64" if sys.maxsize > 2**32 else "32"),
                ("multiplexing_api", "trio"),
                ("python_version", platform.python_version()),
                ("process_id", str(os.getpid())),
                ("run_id", f"{node.id:040d}"),
                ("tcp_port", str(node.client_addr.port)),
                ("uptime_in_seconds", str(uptime)),
                ("uptime_in_days", str(uptime // 86400)),
                ("executable", sys.executable),
            ],
            "clients": [
                ("connected_clients", str(self.stats.connected_clients)),
                ("maxclients", str(self._config.limits.max_clients)),
                ("blocked_clients", "0"),
            ],
            "persistence": [
                ("loading", "0"),
                ("aof_enabled", "1"),
                ("rdb_changes_since_last_save", "0"),
            ],
            "stats": [
                ("total_connections_received", str(self.stats.total_connections_received)),
                ("total_commands_processed", str(self.stats.total_commands_processed)),
                ("rejected_connections", str(self.stats.rejected_connections)),
                ("protocol_errors", str(self.stats.protocol_errors)),
            ],
            "replication": [("role", "master"), ("connected_slaves", "0")],
            "keyspace": [("db0", f"keys={keys},expires=0,avg_ttl=0")] if keys else [],
            "cluster": [("cluster_enabled", "0")],
        }
