"""Peer authentication on a real 3-node cluster that has a cluster secret.

- The issue's forged-peer attack: a process that reaches a node's internal port claims to
  be node 99 (not a member) or member 1, sends a forwarded FLUSHALL and a HeartbeatResp
  with a huge term: nothing is applied, no term moves, no leader changes, and each refusal
  is counted and logged.
- The cluster secret is rotated exactly as docs/security.md says (two rolling restarts):
  the cluster keeps serving and no pair of nodes ever refuses the other.
"""

from __future__ import annotations

import re
import signal
import socket
import urllib.request
from pathlib import Path

import pytest
import redis
from harness import ClusterFactory, ClusterProcesses, MemberProcess, wait_for

from seshat_trio.raft import HeartbeatResp
from seshat_trio.transport import ClusterSecrets, ForwardRequest, Hello, encode, encode_frame
from seshat_trio.transport.auth import Role, Transcript
from seshat_trio.transport.codec import decode
from seshat_trio.transport.messages import FEATURES, PROTOCOL_VERSION

pytestmark = pytest.mark.integration

SECRET = "4f1c" * 16


def _read_frame(sock: socket.socket) -> bytes:
    header = _read_exactly(sock, 4)
    return _read_exactly(sock, int.from_bytes(header, "big"))


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _closed_by_peer(sock: socket.socket) -> bool:
    sock.settimeout(5)
    try:
        while sock.recv(1 << 16):
            pass
    except ConnectionResetError:
        pass
    return True


def attack(member: MemberProcess, claimed_id: int, guessed_secret: bytes | None) -> None:
    """Connect to `member`'s internal port as `claimed_id` and send the payload."""
    with socket.create_connection(("127.0.0.1", member.internal_port), timeout=5) as sock:
        opening = decode(_read_frame(sock))
        assert isinstance(opening, Hello) and opening.node_id == member.node_id
        nonce = b"\x07" * 32
        proofs: tuple[bytes, ...] = ()
        if guessed_secret is not None:
            transcript = Transcript(
                version=PROTOCOL_VERSION,
                dialler=claimed_id,
                acceptor=member.node_id,
                dialler_nonce=nonce,
                acceptor_nonce=opening.nonce,
                dialler_addr="",
                acceptor_addr=opening.client_addr,
                dialler_features=FEATURES,
                acceptor_features=opening.features,
            )
            proofs = ClusterSecrets((guessed_secret,)).proofs(Role.DIALLER, transcript)
        hello = Hello(node_id=claimed_id, peer_id=member.node_id, nonce=nonce, proofs=proofs)
        flush = ForwardRequest(1, 2, ((b"FLUSHALL",),), 1)
        high_term = HeartbeatResp(
            group=1, src=claimed_id, dst=member.node_id, term=10**9, context=0
        )
        sock.sendall(b"".join(encode_frame(encode(m)) for m in (hello, flush, high_term)))
        assert _closed_by_peer(sock)


def refused_total(member: MemberProcess, reason: str) -> int:
    url = f"http://127.0.0.1:{member.http_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    found = re.search(
        rf'^seshat_peer_connections_refused_total{{reason="{reason}"}} (\S+)$', text, re.M
    )
    return int(float(found.group(1))) if found else 0


def test_forged_peers_change_nothing(make_cluster: ClusterFactory, tmp_path: Path) -> None:
    secret_file = tmp_path / "cluster.secret"
    secret_file.write_text(SECRET + "\n")
    secret_file.chmod(0o600)
    cluster = make_cluster("--cluster-secret-file", str(secret_file))
    leader = cluster.leader()
    with leader.client() as r:
        for i in range(20):
            r.set(f"k{i}", f"v{i}")
    follower = cluster.followers(leader)[0]
    terms = {m.node_id: m.raft_int("group1_term") for m in cluster.nodes.values()}

    for target in (leader, follower):
        impostor = next(i for i in cluster.nodes if i != target.node_id)
        attack(target, 99, SECRET.encode())  # not a member, even with the right secret
        attack(target, impostor, None)  # a member's id, no secret
        attack(target, impostor, b"guess" * 8)  # a member's id, a wrong secret
        # The old protocol's Hello, exactly as the issue sent it.
        with socket.create_connection(("127.0.0.1", target.internal_port), timeout=5) as sock:
            _read_frame(sock)
            old = Hello(node_id=99, peer_id=target.node_id, protocol_version=1)
            flush = ForwardRequest(1, 2, ((b"FLUSHALL",),), 1)
            sock.sendall(b"".join(encode_frame(encode(m)) for m in (old, flush)))
            assert _closed_by_peer(sock)

    for member in cluster.nodes.values():
        with member.client() as r:
            assert r.dbsize() == 20, member.node_id
            assert r.get("k7") == b"v7"
        assert member.raft_int("group1_term") == terms[member.node_id]
    assert cluster.leader().node_id == leader.node_id
    for target in (leader, follower):
        assert refused_total(target, "NotMember") == 1
        assert refused_total(target, "AuthenticationError") == 2
        assert refused_total(target, "HandshakeError") == 1
        log = target.log_path.read_text()
        assert "event=peer_refused" in log and "reason=NotMember" in log


def _write_secrets(path: Path, *secrets: str) -> None:
    """As an operator would: a new file moved into place, readable by the node only."""
    staged = path.with_suffix(".new")
    staged.write_text("".join(f"{secret}\n" for secret in secrets))
    staged.chmod(0o600)
    staged.replace(path)


def _written_through(member: MemberProcess, key: str) -> bool:
    try:
        with member.client() as r:
            return bool(r.set(key, "1"))
    except (redis.ConnectionError, redis.ResponseError):
        return False  # an election after the restart: try again


def test_rotating_the_cluster_secret_as_documented(tmp_path: Path) -> None:
    old, new = SECRET, "9d2e" * 16
    cluster = ClusterProcesses(tmp_path / "cluster")
    files = {i: tmp_path / f"node-{i}.secret" for i in cluster.nodes}
    for i, member in cluster.nodes.items():
        _write_secrets(files[i], old)
        member.extra = [*member.extra, "--cluster-secret-file", str(files[i])]
    written = []
    try:
        cluster.start()
        # Step 1: every node in turn gets `new` then `old`; step 2: `new` alone.
        for step, secrets in enumerate([(new, old), (new,)], start=1):
            for i, member in cluster.nodes.items():
                _write_secrets(files[i], *secrets)
                member.signal(signal.SIGTERM)
                assert member.wait(20) == 0
                member.start()
                # Back in the cluster: a write through it commits (forwarded when it
                # follows, replicated to a peer when it leads).
                key = f"step{step}:node{i}"
                wait_for(
                    f"a write through node {i}", lambda m=member, k=key: _written_through(m, k), 20
                )
                written.append(key)
        for member in cluster.nodes.values():
            with member.client() as r:
                assert r.exists(*written) == len(written), member.node_id
            assert "reason=AuthenticationError" not in member.log_path.read_text()
    finally:
        cluster.stop()
