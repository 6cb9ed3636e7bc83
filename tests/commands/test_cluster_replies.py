"""CLUSTER SLOTS / SHARDS / NODES / INFO from a topology snapshot: one role per node, a
group without a leader, members whose address is unknown or whose link is down."""

from __future__ import annotations

import attrs

from seshat_trio.commands.cluster import cluster_info, cluster_nodes, cluster_shards, cluster_slots
from seshat_trio.protocol import encode_reply
from seshat_trio.system.topology import ClusterTopology, NodeEndpoint, ShardView, node_name


def endpoint(n: int, connected: bool = True) -> NodeEndpoint:
    return NodeEndpoint("127.0.0.1", 7000 + n, 17000 + n, connected)


def one_group(leader: int | None, nodes: dict[int, NodeEndpoint]) -> ClusterTopology:
    shard = ShardView(1, ((0, 16383),), leader, (1, 2, 3), {1: 10, 2: 9})
    return ClusterTopology(1, 4, (shard,), nodes)


def entry(n: int) -> list[object]:
    return ["127.0.0.1", 7000 + n, node_name(n), {}]


def test_one_group_has_one_primary_and_its_followers_as_replicas() -> None:
    topology = one_group(2, {n: endpoint(n) for n in (1, 2, 3)})
    assert cluster_slots(topology) == [[0, 16383, entry(2), entry(1), entry(3)]]
    # RESP2: Redis 7.0's bytes, the empty metadata map included.
    assert encode_reply(cluster_slots(topology)[0][2], 2) == (
        b"*4\r\n$9\r\n127.0.0.1\r\n:7002\r\n$40\r\n" + node_name(2).encode() + b"\r\n*0\r\n"
    )
    assert encode_reply(cluster_slots(topology)[0][2], 3).endswith(b"%0\r\n")
    ((shard),) = cluster_shards(topology)
    assert isinstance(shard, dict) and shard["slots"] == [0, 16383]
    nodes = shard["nodes"]
    assert isinstance(nodes, list)
    assert [(n["id"], n["role"], n["replication-offset"]) for n in nodes] == [  # type: ignore[index]
        (node_name(2), "master", 9), (node_name(1), "replica", 10), (node_name(3), "replica", 0)
    ]  # fmt: skip
    lines = cluster_nodes(topology).splitlines()
    assert lines[0] == (
        f"{node_name(1)} 127.0.0.1:7001@17001 myself,slave {node_name(2)} 0 0 4 connected"
    )
    assert lines[1] == f"{node_name(2)} 127.0.0.1:7002@17002 master - 0 0 4 connected 0-16383"
    info = cluster_info(topology)
    assert "cluster_state:ok\r\n" in info and "cluster_size:1\r\n" in info
    assert "cluster_known_nodes:3\r\ncluster_size:1\r\ncluster_current_epoch:4\r\n" in info


def test_without_a_leader_the_lowest_reachable_voter_stands_in_and_the_state_fails() -> None:
    topology = one_group(None, {1: endpoint(1, connected=False), 2: endpoint(2), 3: endpoint(3)})
    # Node 1 (this one) is always reachable from itself in a real snapshot; here its link is
    # marked down to prove that only reachable voters stand in, and down replicas are left
    # out of CLUSTER SLOTS (as Redis 7.0 leaves failed replicas out).
    assert cluster_slots(topology) == [[0, 16383, entry(2), entry(3)]]
    info = cluster_info(topology)
    assert "cluster_state:fail\r\n" in info and "cluster_slots_fail:16384\r\n" in info
    assert "cluster_size:0\r\n" in info
    assert "myself,slave,fail? " in cluster_nodes(topology).splitlines()[0]
    assert cluster_info(None).startswith("cluster_state:fail\r\ncluster_slots_assigned:0\r\n")


def test_a_node_leading_any_group_is_listed_as_a_primary_only() -> None:
    shards = tuple(ShardView(g, ((g * 100, g * 100 + 99),), g, (1, 2, 3, 4), {}) for g in (1, 2, 3))
    # Node 4 leads nothing; node 5's address is unknown (no handshake yet): left out.
    topology = ClusterTopology(1, 1, shards, {n: endpoint(n) for n in (1, 2, 3, 4)})
    assert [row[2:] for row in cluster_slots(topology)] == [
        [entry(1), entry(4)], [entry(2), entry(4)], [entry(3), entry(4)]
    ]  # fmt: skip
    assert topology.led_slots(2) == [(200, 299)]
    assert cluster_nodes(topology).splitlines()[3].split(" ")[2:4] == ["slave", node_name(1)]


def test_tls_clients_are_given_the_tls_ports_as_redis_with_tls_cluster() -> None:
    # Nodes 1 and 2 serve TLS on 6001/6002; node 3 has no TLS port.
    nodes = {n: endpoint(n) for n in (1, 2, 3)}
    nodes |= {n: attrs.evolve(nodes[n], tls_port=6000 + n) for n in (1, 2)}
    topology = one_group(2, nodes)
    tls_entry = ["127.0.0.1", 6002, node_name(2), {}]
    # Redis 7.0.15 (tls-cluster yes): a TLS client's SLOTS and NODES name the TLS ports, a
    # plain client's the plain ones; SHARDS gives both ("tls-port" right after "port").
    assert cluster_slots(topology, tls=True) == [
        [0, 16383, tls_entry, ["127.0.0.1", 6001, node_name(1), {}], entry(3)]
    ]
    assert cluster_slots(topology) == [[0, 16383, entry(2), entry(1), entry(3)]]
    assert [line.split(" ")[1] for line in cluster_nodes(topology, tls=True).splitlines()] == [
        "127.0.0.1:6001@17001", "127.0.0.1:6002@17002", "127.0.0.1:7003@17003"
    ]  # fmt: skip
    assert "127.0.0.1:7002@17002" in cluster_nodes(topology)
    ((shard),) = cluster_shards(topology)
    assert isinstance(shard, dict)
    first, *others = shard["nodes"]  # type: ignore[misc]
    assert list(first) == [
        "id", "port", "tls-port", "ip", "endpoint", "role", "replication-offset", "health"
    ]  # fmt: skip
    assert (first["port"], first["tls-port"]) == (7002, 6002)
    assert "tls-port" not in others[1] and others[1]["port"] == 7003
