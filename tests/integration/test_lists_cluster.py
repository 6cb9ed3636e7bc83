"""Lists and blocking pops on a real 3-node cluster through redis-py: a client blocked on
any node is served by a push sent to another node, a blocked client that hangs up or is
killed (CLIENT KILL) pops nothing, and a client blocked on a follower rides out a kill -9
of the leader and is served by the next one."""

from __future__ import annotations

import signal
import socket
import time
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
import redis
from harness import ClusterFactory, ClusterProcesses, MemberProcess, wait_for
from redis.backoff import NoBackoff
from redis.retry import Retry


def blocked_clients(member: MemberProcess) -> int:
    with member.client() as r:
        value = r.info("clients")["blocked_clients"]
    assert isinstance(value, int)
    return value


def block(pool: ThreadPoolExecutor, member: MemberProcess, *argv: str) -> Future[object]:
    """Run a blocking command on `member` in a thread (its own connection)."""

    def run() -> object:
        # No retries: a killed client must not come back as a new one.
        retry = Retry(NoBackoff(), retries=0)
        with redis.Redis(host="127.0.0.1", port=member.port, socket_timeout=60, retry=retry) as r:
            return r.execute_command(*argv)

    before = blocked_clients(member)
    future = pool.submit(run)
    wait_for(
        f"a client blocks on node {member.node_id}", lambda: blocked_clients(member) > before, 10
    )
    return future


@pytest.mark.parametrize("waiter_role", ["leader", "follower"])
def test_a_client_blocked_on_any_node_is_served_by_a_push_on_another(
    shared_cluster: ClusterProcesses, waiter_role: str
) -> None:
    leader = shared_cluster.leader()
    followers = shared_cluster.followers(leader)
    waiter, pusher = (leader, followers[0]) if waiter_role == "leader" else (followers[0], leader)
    key = f"jobs-{waiter_role}"
    with ThreadPoolExecutor(2) as pool, pusher.client() as r:
        popped = block(pool, waiter, "BLPOP", f"{key}-empty", key, "30")
        moved = block(pool, waiter, "BLMOVE", key, f"{key}-done", "RIGHT", "LEFT", "30")
        assert blocked_clients(waiter) == 2
        assert r.rpush(key, "a", "b") == 2
        assert popped.result(10) == (key.encode(), b"a")
        assert moved.result(10) == b"b"
        assert r.exists(key) == 0
        assert r.lrange(f"{key}-done", 0, -1) == [b"b"]
        assert blocked_clients(waiter) == 0
        # Not blocked: the elements are there, and a timeout answers nil.
        assert r.rpush(key, "c") == 1
        with waiter.client() as w:
            assert w.brpop([key], 1) == (key.encode(), b"c")
            started = time.monotonic()
            assert w.blpop([key], 0.3) is None
            assert time.monotonic() - started >= 0.25


def test_a_blocked_client_that_hangs_up_or_is_killed_pops_nothing(
    shared_cluster: ClusterProcesses,
) -> None:
    leader = shared_cluster.leader()
    follower = shared_cluster.followers(leader)[0]
    with socket.create_connection(("127.0.0.1", follower.port)) as sock:
        sock.sendall(b"*3\r\n$5\r\nBLPOP\r\n$6\r\nhungup\r\n$1\r\n0\r\n")
        wait_for("the client blocks", lambda: blocked_clients(follower) == 1, 10)
    wait_for("the waiter is gone", lambda: blocked_clients(follower) == 0, 10)
    with ThreadPoolExecutor(1) as pool, follower.client() as admin:
        killed = block(pool, follower, "BLPOP", "hungup", "0")
        (blocked,) = [c for c in admin.client_list() if c["cmd"] == "blpop"]
        assert admin.client_kill_filter(_id=blocked["id"]) == 1
        with pytest.raises(redis.ConnectionError):
            killed.result(10)
        assert blocked_clients(follower) == 0
    with leader.client() as r:
        assert r.rpush("hungup", "kept") == 1
        time.sleep(0.3)
        assert r.lrange("hungup", 0, -1) == [b"kept"]


def test_client_unblock_ends_a_wait_on_the_node_the_client_is_connected_to(
    shared_cluster: ClusterProcesses,
) -> None:
    leader = shared_cluster.leader()
    follower = shared_cluster.followers(leader)[0]
    with ThreadPoolExecutor(1) as pool, follower.client() as admin, leader.client() as other:
        waiting = block(pool, follower, "BZPOPMIN", "unblock-z", "unblock-y", "0")
        (blocked,) = [c for c in admin.client_list() if c["cmd"] == "bzpopmin"]
        assert blocked["flags"] == "b"
        clients_info = admin.info("clients")
        assert clients_info["blocked_clients"] == 1
        assert clients_info["total_blocking_keys"] == 2
        # Another node does not list the client: it cannot unblock it (as CLIENT KILL).
        assert other.execute_command("CLIENT", "UNBLOCK", blocked["id"], "ERROR") == 0
        assert admin.execute_command("CLIENT", "UNBLOCK", blocked["id"], "ERROR") == 1
        with pytest.raises(redis.ResponseError, match="UNBLOCKED client unblocked via CLIENT"):
            waiting.result(10)
        assert admin.info("clients")["total_blocking_keys"] == 0
        waiting = block(pool, follower, "BLMOVE", "unblock-q", "unblock-d", "LEFT", "LEFT", "0")
        (blocked,) = [c for c in admin.client_list() if c["cmd"] == "blmove"]
        assert admin.execute_command("CLIENT", "UNBLOCK", blocked["id"]) == 1
        assert waiting.result(10) is None
        assert blocked_clients(follower) == 0


def test_a_client_blocked_on_a_follower_survives_a_leader_kill(
    make_cluster: ClusterFactory,
) -> None:
    cluster = make_cluster()
    leader = cluster.leader()
    waiter, other = cluster.followers(leader)
    with ThreadPoolExecutor(1) as pool:
        popped = block(pool, waiter, "BLPOP", "queue", "60")
        leader.signal(signal.SIGKILL)
        leader.wait()
        cluster.wait_leader(among=[waiter, other])
        assert blocked_clients(waiter) == 1  # still waiting: nothing to wake it for
        with other.client() as r:
            assert r.lpush("queue", "after-failover") == 1
        assert popped.result(20) == (b"queue", b"after-failover")
        with waiter.client() as r:
            assert r.llen("queue") == 0
