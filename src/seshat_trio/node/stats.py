"""Node-wide counters that INFO (and later /metrics) report."""

from __future__ import annotations

import attrs


@attrs.define(slots=True)
class NodeStats:
    started_at: float
    connected_clients: int = 0
    total_connections_received: int = 0
    total_commands_processed: int = 0
    rejected_connections: int = 0
    protocol_errors: int = 0
