"""Cluster options: `redirect = moved` and `read_mode = lease`."""

from __future__ import annotations

import socket
import subprocess

import pytest
from harness import ClusterFactory, wait_for

from seshat_trio.slots import key_slot

pytestmark = pytest.mark.integration


def test_followers_answer_moved_with_the_leader_client_address(
    make_cluster: ClusterFactory,
) -> None:
    """One data group: its leader is the only primary, the two followers its replicas."""
    cluster = make_cluster("--redirect", "moved")
    leader = cluster.leader()
    follower = cluster.followers(leader)[0]
    assert leader.client().set("k", "v") is True
    moved = f"-MOVED {key_slot(b'k')} 127.0.0.1:{leader.port}\r\n".encode()
    with socket.create_connection(("127.0.0.1", follower.port), timeout=10) as sock:
        sock.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nother\r\n")
        reply = b""
        while not reply.endswith(b"\r\n"):
            reply += sock.recv(4096)
        assert reply == moved
        # After READONLY reads are served here (and linearizable); writes still move.
        sock.sendall(b"*1\r\n$8\r\nREADONLY\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
        expected = b"+OK\r\n$1\r\nv\r\n"
        reply = b""
        while len(reply) < len(expected):
            reply += sock.recv(4096)
        assert reply == expected
    info = follower.raft_info()
    assert info["group1_leader_addr"] == f"127.0.0.1:{leader.port}"
    wait_for(
        "the follower knows every member's address",
        lambda: len(follower.client().execute_command("CLUSTER", "SLOTS")[0]) == 5,
        15.0,
    )
    ((first, last, primary, *replicas),) = follower.client().execute_command("CLUSTER", "SLOTS")
    assert (first, last, primary[1]) == (0, 16383, leader.port)
    assert sorted(r[1] for r in replicas) == sorted(m.port for m in cluster.followers(leader))
    # redis-cli -c follows the redirection.
    out = subprocess.run(
        ["redis-cli", "-c", "-p", str(follower.port), "SET", "k", "cli"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    assert out.stdout.strip() == "OK"
    assert leader.client().get("k") == b"cli"


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
