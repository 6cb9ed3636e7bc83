"""`cluster.redirect = moved`: followers name the leader instead of forwarding."""

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
    assert info["data_leader_addr"] == f"127.0.0.1:{leader.port}"
