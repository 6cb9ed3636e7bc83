"""Cluster-aware clients over TLS on real processes (3 nodes, 3 groups, each node with a
TLS client port): as Redis Cluster with `tls-cluster yes` (checked against redis-server
7.0.15), a client on a TLS port is given TLS ports in CLUSTER SLOTS/NODES and -MOVED, a
plain client plain ports, and CLUSTER SHARDS lists both; redis-py's RedisCluster with
ssl=True works end to end in both redirect modes."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from harness import ClusterFactory, ClusterProcesses, MemberProcess, wait_for
from redis.cluster import RedisCluster
from test_client_security import Certificates, tls_client, tls_options, tls_port
from test_cluster_protocol import RANGES, group_of
from test_data_groups import spread

from seshat_trio.system.placement import preferred_leader
from seshat_trio.testing.ports import free_port

pytestmark = pytest.mark.integration


def start_tls_cluster(
    make_cluster: ClusterFactory, certs: Certificates, *extra: str
) -> tuple[ClusterProcesses, dict[int, int]]:
    cluster = ClusterProcesses(
        make_cluster.base_dir / f"tls-cluster-{len(make_cluster.started)}",
        extra=["--data-groups", "3", *certs.flags(), *extra],
    )
    for member in cluster.nodes.values():
        member.extra = [*member.extra, "--tls-port", str(free_port())]
    make_cluster.started.append(cluster)  # stopped by the fixture
    cluster.start()
    preferred = {g: preferred_leader(g, list(cluster.nodes)) for g in RANGES}
    wait_for("each group led by its preferred leader", lambda: spread(cluster) == preferred, 30.0)
    for member in cluster.nodes.values():
        # Every node has every other's TLS port (it arrives in the peers' handshake).
        wait_for(
            f"node {member.node_id} knows every TLS port",
            lambda m=member: tls_ports_of(m, certs) == tls_ports(cluster),
            15.0,
        )
    return cluster, preferred


def tls_ports(cluster: ClusterProcesses) -> set[int]:
    return {tls_port(member) for member in cluster.nodes.values()}


def tls_ports_of(member: MemberProcess, certs: Certificates) -> set[int]:
    with tls_client(member, certs) as r:
        return {row[2][1] for row in r.execute_command("CLUSTER", "SLOTS")}


def pairs(reply: object) -> dict[str, object]:
    """A CLUSTER SHARDS map, however redis-py hands it over (flat array or dict)."""
    if isinstance(reply, list):
        reply = dict(zip(reply[::2], reply[1::2], strict=True))
    assert isinstance(reply, dict)
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in reply.items()}


def redis_cluster(member: MemberProcess, certs: Certificates) -> RedisCluster:
    return RedisCluster(
        host="127.0.0.1",
        port=tls_port(member),
        socket_timeout=10,
        **tls_options(certs),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("mode", ["forward", "moved"])
def test_cluster_aware_clients_over_tls(
    make_cluster: ClusterFactory, tmp_path: Path, mode: str
) -> None:
    certs = Certificates(tmp_path / "certs")
    cluster, leaders = start_tls_cluster(
        make_cluster, certs, *(["--redirect", "moved"] if mode == "moved" else [])
    )
    nodes = cluster.nodes
    plain_ports = {member.port for member in nodes.values()}
    for member in nodes.values():
        with tls_client(member, certs) as r:
            lines = r.execute_command("CLUSTER", "NODES").decode().splitlines()
            assert {int(line.split(" ")[1].split(":")[1].split("@")[0]) for line in lines} == (
                tls_ports(cluster)
            )
            for shard in r.execute_command("CLUSTER", "SHARDS"):
                (node,) = pairs(shard)["nodes"]  # the leader: 3 nodes, each leads one group
                details = pairs(node)
                leader = nodes[int(details["id"])]
                assert (details["port"], details["tls-port"]) == (leader.port, tls_port(leader))
        with member.client() as plain:
            slots = plain.execute_command("CLUSTER", "SLOTS")
            assert {row[2][1] for row in slots} == plain_ports
    keys = [f"tls:{i}" for i in range(45)]
    assert {group_of(k) for k in keys} == {1, 2, 3}
    for number, member in enumerate(nodes.values()):
        with redis_cluster(member, certs) as client:
            assert {n.port for n in client.get_primaries()} == tls_ports(cluster)
            for key in keys:
                assert client.set(key, f"{key}={number}") is True
            assert client.mget_nonatomic(keys) == [f"{k}={number}".encode() for k in keys]
            pipe = client.pipeline()
            for key in keys[:9]:
                pipe.incr(f"{key}:n")
            assert pipe.execute() == [number + 1] * 9
    if mode != "moved":
        return
    # A key led elsewhere: -MOVED names the leader's TLS port to a TLS client, its plain
    # port to a plain one.
    member = nodes[leaders[1]]
    key = next(k for k in keys if group_of(k) == 2)
    elsewhere = nodes[leaders[2]]
    with tls_client(member, certs) as r, pytest.raises(redis.exceptions.MovedError) as moved:
        r.get(key)
    assert (moved.value.host, moved.value.port) == ("127.0.0.1", tls_port(elsewhere))
    with member.client() as r, pytest.raises(redis.exceptions.MovedError) as moved:
        r.get(key)
    assert (moved.value.host, moved.value.port) == ("127.0.0.1", elsewhere.port)
