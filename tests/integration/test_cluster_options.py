"""Cluster options: `redirect = moved` and `read_mode = lease`."""

from __future__ import annotations

import socket

import pytest
from harness import ClusterFactory

pytestmark = pytest.mark.integration


def test_followers_answer_moved_with_the_leader_client_address(
    make_cluster: ClusterFactory,
) -> None:
    cluster = make_cluster("--redirect", "moved")
    leader = cluster.leader()
    follower = cluster.followers(leader)[0]
    assert leader.client().set("k", "v") is True
    with socket.create_connection(("127.0.0.1", follower.port), timeout=10) as sock:
        sock.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nother\r\n")
        reply = b""
        while not reply.endswith(b"\r\n"):
            reply += sock.recv(4096)
    assert reply == f"-MOVED 0 127.0.0.1:{leader.port}\r\n".encode()
    # Reads stay local (and linearizable); the refused write changed nothing.
    assert follower.client().get("k") == b"v"
    info = follower.raft_info()
    assert info["group1_leader_addr"] == f"127.0.0.1:{leader.port}"


def test_lease_reads_see_every_acknowledged_write_on_every_node(
    make_cluster: ClusterFactory,
) -> None:
    cluster = make_cluster("--read-mode", "lease")
    leader = cluster.leader()
    members = [leader, *cluster.followers(leader)]
    for round_ in range(20):
        writer = members[round_ % 3]
        assert writer.client().set("lease-key", f"v{round_}") is True
        # Acknowledged, so every node's next read must see it (no stale lease read).
        assert [m.client().get("lease-key") for m in members] == [f"v{round_}".encode()] * 3
