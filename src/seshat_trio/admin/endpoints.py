"""Routes of the admin listener: GET /metrics, /health and /ready of one node."""

from __future__ import annotations

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
    ) -> None:
        self._groups = groups
        self._peers = peers
        self._registry = registry
        self._ready_max_lag = ready_max_lag
        self._routes: dict[str, Callable[[], Response]] = {
            "/metrics": self.metrics,
            "/health": self.health,
            "/ready": self.ready,
        }

    def __call__(self, method: str, path: str) -> Response:
        route = self._routes.get(path)
        if route is None:
            return Response.error(404, f"no such endpoint: {path}")
        if method != "GET":
            return Response.json(
                405, {"status": "error", "reason": f"{method} not allowed"}, (("allow", "GET"),)
            )
        return route()

    def metrics(self) -> Response:
        return Response(200, render(self._registry), CONTENT_TYPE_LATEST)

    def health(self) -> Response:
        connected = {peer: state.connected for peer, state in self._peers.peer_states().items()}
        return _verdict_response(
            node_verdict([health(group.status(), connected) for group in self._groups])
        )

    def ready(self) -> Response:
        return _verdict_response(
            node_verdict([readiness(group.status(), self._ready_max_lag) for group in self._groups])
        )


def _verdict_response(verdict: Verdict) -> Response:
    return Response.json(200 if verdict.ok else 503, verdict.body)
