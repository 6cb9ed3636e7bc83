"""Routes of the admin listener: GET /metrics, /health and /ready of one node.

`/metrics` requires `Authorization: Bearer <token>` when a token is configured
(node.metrics_token_file); `/health` and `/ready` never do (load balancers and
orchestrators probe them), and say nothing a scraper could not see anyway.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from prometheus_client.registry import CollectorRegistry

from seshat_trio.admin.health import READY_MAX_LAG, Verdict, health, node_verdict, readiness
from seshat_trio.admin.http import Response
from seshat_trio.node.metrics import CONTENT_TYPE_LATEST, render
from seshat_trio.replication.driver import GroupStatus
from seshat_trio.transport.peers import PeerState


class StatusSource(Protocol):
    """A data group's driver."""

    def status(self) -> GroupStatus: ...


class PeerSource(Protocol):
    def peer_states(self) -> Mapping[int, PeerState]: ...


class AdminEndpoints:
    """The `Handler` of the node's `AdminServer`."""

    def __init__(
        self,
        *,
        groups: Sequence[StatusSource],
        peers: PeerSource,
        registry: CollectorRegistry,
        ready_max_lag: int = READY_MAX_LAG,
        metrics_token: bytes | None = None,
    ) -> None:
        self._groups = groups
        self._metrics_auth = None if metrics_token is None else b"Bearer " + metrics_token
        self._peers = peers
        self._registry = registry
        self._ready_max_lag = ready_max_lag
        self._routes: dict[str, Callable[[], Response]] = {
            "/metrics": self.metrics,
            "/health": self.health,
            "/ready": self.ready,
        }

    def __call__(self, method: str, path: str, *, authorization: str = "") -> Response:
        route = self._routes.get(path)
        if route is None:
            return Response.error(404, f"no such endpoint: {path}")
        if method != "GET":
            return Response.json(
                405, {"status": "error", "reason": f"{method} not allowed"}, (("allow", "GET"),)
            )
        if path == "/metrics" and not self._authorized(authorization):
            return Response.json(
                401,
                {"status": "error", "reason": "/metrics needs Authorization: Bearer <token>"},
                (("www-authenticate", 'Bearer realm="seshat-trio"'),),
            )
        return route()

    def _authorized(self, authorization: str) -> bool:
        if self._metrics_auth is None:
            return True
        given = authorization.strip().encode("latin-1", "replace")
        return hmac.compare_digest(given, self._metrics_auth)

    def metrics(self) -> Response:
        return Response(200, render(self._registry), CONTENT_TYPE_LATEST)

    def _statuses(self) -> list[GroupStatus]:
        """The groups this node is a member of (it runs an idle driver for the others,
        where placement did not put it: they are not its to judge)."""
        statuses = [group.status() for group in self._groups]
        return [s for s in statuses if s.node_id in s.voters or s.node_id in s.learners]

    def health(self) -> Response:
        connected = {peer: state.connected for peer, state in self._peers.peer_states().items()}
        return _verdict_response(
            node_verdict([health(status, connected) for status in self._statuses()])
        )

    def ready(self) -> Response:
        return _verdict_response(
            node_verdict([readiness(s, self._ready_max_lag) for s in self._statuses()])
        )


def _verdict_response(verdict: Verdict) -> Response:
    return Response.json(200 if verdict.ok else 503, verdict.body)
