"""`read_mode = lease` against real processes: a leader stopped with SIGSTOP and resumed
after a new leader committed a write never answers a read from its old lease, even on a
connection it accepted before the stop (docs/raft.md, "Lease reads")."""

from __future__ import annotations

import signal
import socket
import time

import pytest
from harness import ClusterFactory, MemberProcess, wait_for

pytestmark = pytest.mark.integration

TRIALS = 4


def _command(*args: str) -> bytes:
    out = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def _reply(sock: socket.socket) -> bytes:
    """One reply line, plus the bulk payload of a bulk string."""
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(4096)
        assert chunk, "the old leader closed the connection"
        data += chunk
    if data.startswith(b"$") and not data.startswith(b"$-1"):
        size = int(data[1 : data.index(b"\r\n")])
        while len(data) < data.index(b"\r\n") + 2 + size + 2:
            data += sock.recv(4096)
    return data


def test_resumed_leader_never_answers_from_its_old_lease(make_cluster: ClusterFactory) -> None:
    cluster = make_cluster("--read-mode", "lease")
    for trial in range(TRIALS):
        old = cluster.leader()
        others = cluster.followers(old)
        assert old.client().set("k", f"old-{trial}") is True
        with socket.create_connection(("127.0.0.1", old.port), timeout=15) as sock:
            sock.sendall(_command("PING"))
            assert _reply(sock) == b"+PONG\r\n"  # the connection is open and served
            time.sleep(0.15)  # a heartbeat round or two: the lease is fresh
            old.signal(signal.SIGSTOP)
            try:
                new_id = cluster.wait_leader(timeout=15, among=others)
                new: MemberProcess = cluster.nodes[new_id]
                assert new.client().set("k", f"new-{trial}") is True
                # Queued in the stopped leader's socket buffer until it resumes.
                sock.sendall(_command("GET", "k"))
                time.sleep(0.05)
            finally:
                old.signal(signal.SIGCONT)
            reply = _reply(sock)
        # A current value, or an error the client may retry: never the old value.
        assert f"old-{trial}".encode() not in reply, (trial, reply)
        assert reply.startswith(b"-") or f"new-{trial}".encode() in reply, (trial, reply)
        wait_for("the old leader rejoins", lambda: cluster.agreed_leader(cluster.live()), 15)
