"""The node's admin endpoints with fake status sources: health and readiness rules, routing,
and /metrics parsed back with prometheus_client's own parser."""

from __future__ import annotations

import json

import attrs
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from seshat_trio.admin import AdminEndpoints, Response, health, readiness
from seshat_trio.config import Address
from seshat_trio.node.metrics import NodeCollector, node_registry
from seshat_trio.node.stats import NodeStats
from seshat_trio.protocol import ErrorReply, RawReplies, SimpleString
from seshat_trio.raft import ProgressState, Role
from seshat_trio.replication.driver import GroupStatus, PeerStatus
from seshat_trio.replication.stats import RaftCounters
from seshat_trio.storage.group_commit import CommitStats
from seshat_trio.storage.value_cache import ValueCache
from seshat_trio.transport.peers import PeerState

FOLLOWER = GroupStatus(
    node_id=1,
    group=1,
    role=Role.FOLLOWER,
    term=3,
    leader_id=2,
    commit=10,
    applied=10,
    first_index=1,
    last_index=10,
    snapshot_index=0,
    voters=(1, 2, 3),
    learners=(),
    peers={},
)
LEADER = attrs.evolve(
    FOLLOWER,
    role=Role.LEADER,
    leader_id=1,
    commit=50,
    applied=50,
    last_index=52,
    peers={
        2: PeerStatus(match=50, next=53, state=ProgressState.REPLICATE),
        3: PeerStatus(match=20, next=21, state=ProgressState.PROBE),
    },
)


class FakeGroup:
    def __init__(self, status: GroupStatus) -> None:
        self.current = status
        self.counters = RaftCounters()

    def status(self) -> GroupStatus:
        return self.current


class FakeTransport:
    def __init__(self, connected: dict[int, bool]) -> None:
        self.connected = connected
        self.refused = {"NotMember": 3}

    def peer_states(self) -> dict[int, PeerState]:
        return {
            peer: PeerState(
                address=Address("127.0.0.1", 7000 + peer),
                connected=up,
                queue_frames=0,
                queue_bytes=17 * peer,
                dropped=peer,
                dropped_heartbeats=0,
                connects=2,
                reconnects=1,
                client_addr=None,
            )
            for peer, up in self.connected.items()
        }


@attrs.define
class FakeCommitter:
    stats: CommitStats = attrs.Factory(CommitStats)


# -- health and readiness rules ------------------------------------------------------------
def test_follower_with_leader_link_is_healthy() -> None:
    verdict = health(FOLLOWER, {2: True, 3: False})
    assert verdict.ok
    assert verdict.body == {"status": "ok", "role": "follower", "leader": 2, "term": 3, "group": 1}


def test_no_leader_is_unhealthy_and_not_ready() -> None:
    lost = attrs.evolve(FOLLOWER, leader_id=None, role=Role.PRE_CANDIDATE)
    for verdict in (health(lost, {2: True, 3: True}), readiness(lost)):
        assert not verdict.ok
        assert verdict.body["status"] == "unavailable"
        assert verdict.body["reason"] == "no leader known"
        assert verdict.body["role"] == "pre-candidate"


def test_follower_cut_off_from_its_leader_is_unhealthy() -> None:
    verdict = health(FOLLOWER, {2: False, 3: True})
    assert (verdict.ok, verdict.body["reason"]) == (False, "no connection to leader 2")


@pytest.mark.parametrize(
    ("connected", "ok"),
    [({2: True, 3: True}, True), ({2: False, 3: True}, True), ({2: False, 3: False}, False)],
)
def test_leader_needs_links_to_a_majority_of_voters(connected: dict[int, bool], ok: bool) -> None:
    verdict = health(LEADER, connected)
    assert verdict.ok is ok
    assert verdict.body["quorum"] == 2
    if not ok:
        assert verdict.body["reason"] == "leader reaches 1 of 3 voters, needs 2"


def test_single_node_leader_is_its_own_majority() -> None:
    alone = attrs.evolve(LEADER, voters=(1,), peers={})
    assert health(alone, {}).ok


def test_ready_allows_a_small_apply_lag_only() -> None:
    assert readiness(attrs.evolve(FOLLOWER, commit=110, applied=10), max_lag=100).ok
    behind = readiness(attrs.evolve(FOLLOWER, commit=111, applied=10), max_lag=100)
    assert not behind.ok
    assert behind.body["reason"] == "applying: 101 committed entries behind"
    assert (behind.body["commit"], behind.body["applied"]) == (111, 10)


# -- routing -------------------------------------------------------------------------------
def make_endpoints(
    status: GroupStatus = FOLLOWER,
    connected: dict[int, bool] | None = None,
    metrics_token: bytes | None = None,
) -> tuple[AdminEndpoints, NodeStats, FakeGroup]:
    stats = NodeStats(started_at=0.0)
    data = FakeGroup(status)
    system = FakeGroup(attrs.evolve(status, group=0))
    transport = FakeTransport({2: True, 3: True} if connected is None else connected)
    cache = ValueCache(1 << 20)
    cache.put(b"k", b"record")
    cache.get(b"k")
    cache.get(b"absent")
    collector = NodeCollector(
        node_id=1,
        stats=stats,
        groups=[system, data],
        peers=transport,
        committer=FakeCommitter(CommitStats(rounds=7, inline_rounds=4, batches=9)),
        value_cache=cache,
        leveldb_memory=lambda: 12345,
        clock=lambda: 42.0,
    )
    return (
        AdminEndpoints(
            groups=[data],
            peers=transport,
            registry=node_registry(collector),
            metrics_token=metrics_token,
        ),
        stats,
        data,
    )


def body_of(response: Response) -> dict[str, object]:
    parsed: dict[str, object] = json.loads(response.body)
    return parsed


def test_routes_status_codes() -> None:
    endpoints, _, data = make_endpoints()
    assert (endpoints("GET", "/health").status, endpoints("GET", "/ready").status) == (200, 200)
    data.current = attrs.evolve(FOLLOWER, leader_id=None)
    assert (endpoints("GET", "/health").status, endpoints("GET", "/ready").status) == (503, 503)
    body = body_of(endpoints("GET", "/health"))
    assert body["reason"] == "no leader known"
    assert body["groups"] == [
        {"status": "unavailable", "reason": "no leader known", "role": "follower",
         "leader": None, "term": FOLLOWER.term, "group": FOLLOWER.group}
    ]  # fmt: skip
    assert endpoints("GET", "/other").status == 404
    not_allowed = endpoints("DELETE", "/metrics")
    assert not_allowed.status == 405
    assert ("allow", "GET") in not_allowed.headers


def test_groups_this_node_is_not_a_member_of_are_not_judged() -> None:
    endpoints, _, data = make_endpoints()
    # Placement put the group on other nodes: this node's idle driver knows no leader.
    data.current = attrs.evolve(FOLLOWER, leader_id=None, voters=(2, 3, 4))
    assert (endpoints("GET", "/health").status, endpoints("GET", "/ready").status) == (200, 200)
    data.current = attrs.evolve(FOLLOWER, leader_id=None, voters=(2, 3), learners=(1,))
    assert endpoints("GET", "/health").status == 503  # a learner catching up is judged


# -- /metrics ------------------------------------------------------------------------------
def scrape(endpoints: AdminEndpoints) -> dict[str, list[Sample]]:
    response = endpoints("GET", "/metrics")
    assert response.status == 200
    assert response.content_type.startswith("text/plain")
    families = text_string_to_metric_families(response.body.decode())
    return {family.name: family.samples for family in families}


def value(samples: list[Sample], name: str, **labels: str) -> float:
    matching = [s.value for s in samples if s.name == name and s.labels == labels]
    assert len(matching) == 1, (name, labels, samples)
    return matching[0]


def test_metrics_families_and_labels_parse() -> None:
    endpoints, stats, data = make_endpoints(LEADER)
    stats.connected_clients = 3
    stats.commands.record(
        ["set", "get", "get"], [SimpleString("OK"), b"v", ErrorReply("ERR")], 0.002
    )
    data.counters.elections = 2
    data.counters.leader_changes = 1
    data.counters.proposals = 12
    data.counters.snapshot_send_seconds.observe(0.3)
    stats.observe_commit_round(3, 0.004)
    families = scrape(endpoints)

    assert value(families["seshat_node_info"], "seshat_node_info", id="1") == 1
    assert value(families["seshat_uptime_seconds"], "seshat_uptime_seconds") == 42.0
    assert value(families["seshat_connected_clients"], "seshat_connected_clients") == 3
    commands = families["seshat_commands"]
    assert value(commands, "seshat_commands_total", command="set", outcome="ok") == 1
    assert value(commands, "seshat_commands_total", command="get", outcome="ok") == 1
    assert value(commands, "seshat_commands_total", command="get", outcome="error") == 1
    latency = families["seshat_command_duration_seconds"]
    assert value(latency, "seshat_command_duration_seconds_count", command="get") == 2
    assert value(latency, "seshat_command_duration_seconds_bucket", command="get", le="0.001") == 0
    assert value(latency, "seshat_command_duration_seconds_bucket", command="get", le="0.0025") == 2

    assert value(families["seshat_raft_term"], "seshat_raft_term", group="1") == 3
    role = families["seshat_raft_role"]
    assert value(role, "seshat_raft_role", group="1", role="leader") == 1
    assert value(role, "seshat_raft_role", group="1", role="follower") == 0
    assert value(families["seshat_raft_commit_index"], "seshat_raft_commit_index", group="1") == 50
    assert (
        value(families["seshat_raft_applied_index"], "seshat_raft_applied_index", group="0") == 50
    )
    lag = families["seshat_raft_replication_lag"]
    assert value(lag, "seshat_raft_replication_lag", group="1", peer="2") == 0
    assert value(lag, "seshat_raft_replication_lag", group="1", peer="3") == 30
    members = families["seshat_raft_member"]
    assert value(members, "seshat_raft_member", group="1", member="2", role="voter") == 1
    assert value(families["seshat_raft_elections"], "seshat_raft_elections_total", group="1") == 2
    changes = families["seshat_raft_leader_changes"]
    assert value(changes, "seshat_raft_leader_changes_total", group="1") == 1
    assert value(families["seshat_raft_proposals"], "seshat_raft_proposals_total", group="1") == 12
    sends = families["seshat_raft_snapshot_send_seconds"]
    assert value(sends, "seshat_raft_snapshot_send_seconds_count", group="1") == 1
    assert value(sends, "seshat_raft_snapshot_send_seconds_count", group="0") == 0

    connected = families["seshat_peer_connected"]
    assert value(connected, "seshat_peer_connected", peer="2") == 1
    assert value(families["seshat_peer_queue_bytes"], "seshat_peer_queue_bytes", peer="3") == 51
    refused = families["seshat_peer_connections_refused"]
    assert value(refused, "seshat_peer_connections_refused_total", reason="NotMember") == 3
    rounds = families["seshat_group_commit_rounds"]
    assert value(rounds, "seshat_group_commit_rounds_total") == 7
    inline = families["seshat_group_commit_inline_rounds"]
    assert value(inline, "seshat_group_commit_inline_rounds_total") == 4
    fsync = families["seshat_fsync_duration_seconds"]
    assert value(fsync, "seshat_fsync_duration_seconds_count") == 1
    assert value(fsync, "seshat_fsync_duration_seconds_bucket", le="0.005") == 1
    batch = families["seshat_group_commit_batch_size"]
    assert value(batch, "seshat_group_commit_batch_size_sum") == 3
    hits = families["seshat_value_cache_hits"]
    assert value(hits, "seshat_value_cache_hits_total") == 1
    misses = families["seshat_value_cache_misses"]
    assert value(misses, "seshat_value_cache_misses_total") == 1
    assert value(families["seshat_value_cache_bytes"], "seshat_value_cache_bytes") > 0
    assert value(families["seshat_value_cache_entries"], "seshat_value_cache_entries") == 1
    leveldb = families["seshat_leveldb_memory_bytes"]
    assert value(leveldb, "seshat_leveldb_memory_bytes") == 12345
    blocks = families["seshat_python_allocated_blocks"]
    assert value(blocks, "seshat_python_allocated_blocks") > 1000
    assert value(families["seshat_malloc_in_use_bytes"], "seshat_malloc_in_use_bytes") > 0
    assert value(families["seshat_malloc_free_bytes"], "seshat_malloc_free_bytes") >= 0


def test_follower_exports_no_replication_lag() -> None:
    endpoints, _, _ = make_endpoints(FOLLOWER)
    assert scrape(endpoints)["seshat_raft_replication_lag"] == []


def test_forwarded_replies_are_counted_per_command_by_outcome() -> None:
    stats = NodeStats(started_at=0.0)
    forwarded = RawReplies(b"+OK\r\n-ERR no\r\n:1\r\n", 3)
    stats.commands.record(["set", "set", "incr", "quit"], [forwarded], 0.01)
    counts = {name: (c.ok, c.errors) for name, c in stats.commands.by_name.items()}
    assert counts == {"set": (1, 1), "incr": (1, 0)}  # quit had no reply: it did not run
    assert stats.commands.by_name["set"].latency.count == 2
    assert stats.commands.by_name["set"].latency.sum == pytest.approx(0.02)


def test_metrics_may_require_a_bearer_token() -> None:
    endpoints, _, _ = make_endpoints(metrics_token=b"s3cret-token-0123")
    refused = endpoints("GET", "/metrics")
    assert refused.status == 401
    assert dict(refused.headers)["www-authenticate"] == 'Bearer realm="seshat-trio"'
    assert endpoints("GET", "/metrics", authorization="Bearer wrong").status == 401
    assert endpoints("GET", "/metrics", authorization="s3cret-token-0123").status == 401
    granted = endpoints("GET", "/metrics", authorization="Bearer s3cret-token-0123")
    assert granted.status == 200 and b"seshat_node_info" in granted.body
    # Health checks never need it.
    assert endpoints("GET", "/health").status == 200
    assert endpoints("GET", "/ready").status == 200
