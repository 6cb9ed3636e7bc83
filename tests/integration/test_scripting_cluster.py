"""Lua scripting on a real 3-node cluster through redis-py: redis.lock.Lock on a follower, the
redis.* API over EVAL, a script cached on one node runs by SHA on every node, a runaway
write script stops at the same instruction on every node (same reply, same state), and
scripts keep working after the leader is killed."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest
import redis
from harness import ClusterProcesses, MemberProcess, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterProcesses]:
    cluster = ClusterProcesses(tmp_path_factory.mktemp("scripting-cluster"))
    try:
        cluster.start()
        cluster.wait_leader()
        yield cluster
    finally:
        cluster.stop()


def follower(cluster: ClusterProcesses) -> MemberProcess:
    return cluster.followers(cluster.leader())[0]


def test_lock_on_a_follower(cluster: ClusterProcesses) -> None:
    with follower(cluster).client() as r:
        lock = r.lock("resource", timeout=10)
        assert lock.acquire(blocking=False)
        assert not r.lock("resource", timeout=10).acquire(blocking=False)
        assert lock.extend(20)
        assert r.pttl("resource") > 10_000
        lock.release()
        assert r.exists("resource") == 0
        with pytest.raises(redis.exceptions.LockError):
            lock.release()
        other = r.lock("resource", timeout=10)
        assert other.acquire(blocking=False)
        r.set("resource", "someone else's token")  # the lock expired and was taken
        with pytest.raises(redis.exceptions.LockNotOwnedError):
            other.release()


def test_the_redis_api_over_eval(cluster: ClusterProcesses) -> None:
    with follower(cluster).client() as r:
        script = """
        redis.call('set', KEYS[1], ARGV[1])
        local bad = redis.pcall('incr', KEYS[1])
        redis.log(redis.LOG_NOTICE, 'api test')
        redis.setresp(2)
        return {
          redis.call('get', KEYS[1]),
          bad.err,
          redis.sha1hex('abc'),
          redis.status_reply('FINE').ok,
          redis.error_reply('CODE text').err,
          cjson.encode({a = {1, 2}}),
          bit.bxor(5, 3),
          tostring(math.random(10) >= 1),
        }
        """
        assert r.eval(script, 1, "api:k", "value") == [
            b"value",
            b"ERR value is not an integer or out of range",
            b"a9993e364706816aba3e25717850c26c9cd0d89d",
            b"FINE",
            b"CODE text",
            b'{"a":[1,2]}',
            6,
            b"true",
        ]
        with pytest.raises(redis.ResponseError, match="user_script:1: Script attempted"):
            r.eval("return nope", 0)
        assert r.eval("return redis.call('get', KEYS[1])", 1, "api:k") == b"value"
        assert r.eval_ro("return redis.call('get', KEYS[1])", 1, "api:k") == b"value"
        with pytest.raises(redis.ResponseError, match="not allowed from read-only scripts"):
            r.eval_ro("return redis.call('set', KEYS[1], 1)", 1, "api:k")


def test_a_script_loaded_on_one_node_runs_by_sha_on_every_node(cluster: ClusterProcesses) -> None:
    members = [cluster.nodes[i] for i in sorted(cluster.nodes)]
    with members[1].client() as r:
        sha = r.script_load("return redis.call('incrby', KEYS[1], ARGV[1])")
    for member in members:
        with member.client() as r:
            wait_for("the script is known", lambda r=r: r.script_exists(sha) == [True], 10)
            assert isinstance(r.evalsha(sha, 1, "sha:counter", 2), int)
    with members[0].client() as r:
        assert r.get("sha:counter") == b"6"
        read_sha = r.script_load("return redis.call('get', KEYS[1])")
    with members[2].client() as r:
        wait_for("the read script is known", lambda: r.script_exists(read_sha) == [True], 10)
        assert r.evalsha_ro(read_sha, 1, "sha:counter") == b"6"
        assert r.script_flush() is True
    for member in members:
        with member.client() as r:
            wait_for("flushed everywhere", lambda r=r: r.script_exists(sha) == [False], 10)


def test_a_runaway_write_script_stops_the_same_way_on_every_node(
    cluster: ClusterProcesses,
) -> None:
    script = "redis.call('set', KEYS[1], 'before') local i = 0 while true do i = i + 1 end"
    with follower(cluster).client() as r:
        with pytest.raises(redis.ResponseError, match="instruction limit") as failure:
            r.eval(script, 1, "runaway")
        assert "script: " in str(failure.value)
    # Every node aborted at the same instruction, after the same writes.
    for member in cluster.nodes.values():
        with member.client() as r:
            assert r.get("runaway") == b"before"


LIBRARY = """#!lua name=counters
redis.register_function('bump', function(keys, args)
  return redis.call('incrby', keys[1], args[1])
end)
redis.register_function{function_name='peek', flags={'no-writes'},
  callback=function(keys) return redis.call('get', keys[1]) end}
"""


def pairs(flat: list[object]) -> dict[object, object]:
    """A RESP2 map (a flat key/value array) as a dict."""
    return dict(zip(flat[::2], flat[1::2], strict=True))


def test_a_library_loaded_on_one_node_runs_on_every_node(cluster: ClusterProcesses) -> None:
    members = [cluster.nodes[i] for i in sorted(cluster.nodes)]
    with follower(cluster).client() as r:
        r.function_flush()
        assert r.function_load(LIBRARY) == b"counters"
        with pytest.raises(redis.ResponseError, match="Library 'counters' already exists"):
            r.function_load(LIBRARY)
    total = 0
    for member in members:
        with member.client() as r:
            # A library is cluster state: listed on every node once acknowledged.
            (library,) = r.function_list()
            assert pairs(library)[b"library_name"] == b"counters"
            total += 5
            assert r.fcall("bump", 1, "fn:counter", 5) == total
            assert r.fcall_ro("peek", 1, "fn:counter") == str(total).encode()
            assert r.fcall("peek", 1, "fn:counter") == str(total).encode()
            with pytest.raises(redis.ResponseError, match="write flag using \\*_ro"):
                r.fcall_ro("bump", 1, "fn:counter", 1)
    with members[0].client() as r:
        payload = r.function_dump()
        assert r.function_delete("counters") in (b"OK", "OK", True)
        with pytest.raises(redis.ResponseError, match="Function not found"):
            r.fcall("bump", 1, "fn:counter", 1)
    with members[2].client() as r:
        assert r.function_restore(payload) in (b"OK", "OK", True)
        assert r.fcall("bump", 1, "fn:counter", 1) == total + 1
        with pytest.raises(redis.ResponseError, match="payload version or checksum are wrong"):
            r.function_restore(b"garbage")
    with members[1].client() as r:
        stats = pairs(r.function_stats())
        assert stats[b"running_script"] is None
        assert stats[b"engines"] == [b"LUA", [b"libraries_count", 1, b"functions_count", 2]]


def test_scripts_after_the_leader_is_killed(cluster: ClusterProcesses) -> None:
    leader = cluster.leader()
    with leader.client() as r:
        sha = r.script_load("return redis.call('incr', KEYS[1])")
        assert r.evalsha(sha, 1, "after:kill") == 1
        r.function_load(LIBRARY, replace=True)
    leader.signal(signal.SIGKILL)
    leader.wait()
    try:
        survivors = cluster.live()
        cluster.wait_leader(among=survivors)
        with survivors[0].client() as r:
            assert r.evalsha(sha, 1, "after:kill") == 2
            assert r.eval("return redis.call('incr', KEYS[1])", 1, "after:kill") == 3
            lock = r.lock("after:lock", timeout=5)
            assert lock.acquire(blocking=False)
            lock.release()
            assert r.fcall("bump", 1, "after:kill", 10) == 13
    finally:
        leader.start(30)
        cluster.wait_leader()
    # Libraries are durable: the restarted node still has them.
    with leader.client() as r:
        assert [pairs(lib)[b"library_name"] for lib in r.function_list()] == [b"counters"]
        wait_for("caught up", lambda: r.get("after:kill") == b"13", 10)
        assert r.fcall("bump", 1, "after:kill", 1) == 14
