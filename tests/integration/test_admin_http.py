"""The admin HTTP listener of a real single-node process: /health, /ready and /metrics after
redis-py traffic, read with urllib and parsed with prometheus_client."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from harness import NodeProcess, wait_for
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.integration


def get(node: NodeProcess, path: str, method: str = "GET") -> tuple[int, bytes]:
    url = f"http://127.0.0.1:{node.http_port}{path}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def samples(body: bytes, family: str, suffix: str = "") -> dict[tuple[tuple[str, str], ...], float]:
    """{sorted label pairs: value} of the samples named `family + suffix`
    (suffix "_total" for counters, "_bucket" / "_count" for histograms)."""
    for metric in text_string_to_metric_families(body.decode()):
        if metric.name == family:
            return {
                tuple(sorted(s.labels.items())): s.value
                for s in metric.samples
                if s.name == family + suffix
            }
    raise AssertionError(f"no family {family}")


def wait_healthy(node: NodeProcess) -> None:
    """The fixture waits for PING only; the first elections (of the data group, which
    /health reports, and of the system group) may still be running."""
    wait_for("/health answers 200", lambda: get(node, "/health")[0] == 200, timeout=10)

    def system_group_leads() -> bool:
        role = samples(get(node, "/metrics")[1], "seshat_raft_role")
        return role.get((("group", "0"), ("role", "leader"))) == 1

    wait_for("the system group elects this node", system_group_leads, timeout=10)


def test_health_ready_and_metrics_after_traffic(node: NodeProcess) -> None:
    wait_healthy(node)
    r = node.client()
    for i in range(5):
        assert r.set(f"k{i}", "v") is True
    assert r.get("k0") == b"v"
    with pytest.raises(Exception, match="unknown command"):
        r.execute_command("NOSUCHCOMMAND")

    status, body = get(node, "/health")
    health = json.loads(body)
    assert status == 200
    (group,) = health["groups"]
    assert (health["status"], group["role"], group["leader"]) == ("ok", "leader", 1)
    assert group["reachable_voters"] == [1]
    status, body = get(node, "/ready")
    ready = json.loads(body)
    assert (status, ready["status"]) == (200, "ok")
    assert ready["groups"][0]["applied"] >= 5

    status, body = get(node, "/metrics")
    assert status == 200
    commands = samples(body, "seshat_commands", "_total")
    assert commands[(("command", "set"), ("outcome", "ok"))] == 5
    assert commands[(("command", "get"), ("outcome", "ok"))] == 1
    assert commands[(("command", "unknown"), ("outcome", "error"))] == 1
    role = samples(body, "seshat_raft_role")
    assert role[(("group", "1"), ("role", "leader"))] == 1
    assert role[(("group", "0"), ("role", "leader"))] == 1
    applied = samples(body, "seshat_raft_applied_index")
    assert applied[(("group", "1"),)] >= 5
    assert samples(body, "seshat_connected_clients")[()] >= 1
    fsync = samples(body, "seshat_fsync_duration_seconds", "_bucket")
    assert fsync[(("le", "+Inf"),)] >= 5
    elections = samples(body, "seshat_raft_elections", "_total")
    assert elections[(("group", "1"),)] >= 1


def test_bad_requests_get_http_errors_and_node_keeps_serving(node: NodeProcess) -> None:
    wait_healthy(node)
    assert get(node, "/nope")[0] == 404
    assert get(node, "/health", method="POST")[0] == 405
    assert node.client().ping() is True
    assert get(node, "/health")[0] == 200
