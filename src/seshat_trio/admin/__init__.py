"""The per-node HTTP admin listener: /metrics (Prometheus), /health and /ready (JSON).

`http` is a small Trio + h11 server, `health` decides health and readiness from the data
groups' status, `endpoints` routes requests to them; the metrics themselves are built by
`seshat_trio.node.metrics`.
"""

from seshat_trio.admin.endpoints import AdminEndpoints
from seshat_trio.admin.health import READY_MAX_LAG, Verdict, health, readiness
from seshat_trio.admin.http import AdminServer, HttpLimits, Response

__all__ = [
    "READY_MAX_LAG",
    "AdminEndpoints",
    "AdminServer",
    "HttpLimits",
    "Response",
    "Verdict",
    "health",
    "readiness",
]
