"""Lua scripting on a real 3-node cluster through redis-py: redis.lock.Lock on a follower, the
redis.* API over EVAL, a script cached on one node runs by SHA on every node, a runaway
write script stops at the same instruction on every node (same reply, same state), scripts
and function libraries keep working after the leader is killed, a library loaded on one
node runs on every node (DUMP/RESTORE too), a long read-only script makes its node answer
BUSY (its Raft groups keep their leader) until SCRIPT KILL / FUNCTION KILL, and cmsgpack /
struct give every node the same bytes."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable

import pytest
import redis
from harness import ClusterProcesses, MemberProcess, wait_for

pytestmark = pytest.mark.integration


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


def _raft_view(member: MemberProcess) -> dict[str, object]:
    """The leader and term of every Raft group as `member` reports them."""
    info = member.raft_info()
    return {k: v for k, v in info.items() if k.endswith(("_leader", "_term"))}


def _busy(r: redis.Redis) -> str | None:
    try:
        r.ping()
    except redis.RedisError as exc:
        return str(exc) if "busy running a script" in str(exc) else None
    return None


def _run_in_thread(
    member: MemberProcess, call: Callable[[redis.Redis], object]
) -> dict[str, object]:
    outcome: dict[str, object] = {}

    def run() -> None:
        with redis.Redis(host="127.0.0.1", port=member.port, socket_timeout=60) as r:
            try:
                outcome["reply"] = call(r)
            except redis.RedisError as exc:
                outcome["error"] = str(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    outcome["thread"] = thread
    return outcome


def test_a_long_read_only_script_makes_its_node_busy_until_killed(
    cluster: ClusterProcesses,
) -> None:
    leader = cluster.leader()
    others = cluster.followers(leader)
    before = _raft_view(others[0])
    with leader.client() as admin:
        assert admin.config_set("busy-reply-threshold", 100)
        assert admin.config_get("lua-time-limit") == {"lua-time-limit": "100"}
        started = time.monotonic()
        outcome = _run_in_thread(
            leader, lambda r: r.eval_ro("local i = 0 while true do i = i + 1 end", 1, "busy:k")
        )
        error = wait_for("BUSY", lambda: _busy(admin), 10)
        assert error.endswith("You can only call SCRIPT KILL or SHUTDOWN NOSAVE.")
        with pytest.raises(redis.RedisError, match="only call SCRIPT KILL"):
            admin.function_kill()
        # The rest of the cluster serves meanwhile, writes included (this node leads).
        with others[0].client() as r:
            assert r.set("busy:other", "v")
            assert r.get("busy:other") == b"v"
        # Its Raft groups keep their leader while the script runs 5 s on the leader.
        time.sleep(max(0.0, 5 - (time.monotonic() - started)))
        assert _busy(admin) is not None
        assert _raft_view(others[0]) == before
        assert admin.script_kill()
        thread = outcome["thread"]
        assert isinstance(thread, threading.Thread)
        thread.join(10)
        assert "killed by user" in str(outcome.get("error")), outcome
        assert admin.ping()
        with pytest.raises(redis.ResponseError, match="NOTBUSY"):
            admin.script_kill()
        assert admin.get("busy:other") == b"v"
        admin.config_set("busy-reply-threshold", 5000)


def test_a_long_read_only_function_is_killed_by_function_kill(cluster: ClusterProcesses) -> None:
    member = follower(cluster)
    with member.client() as admin:
        admin.config_set("busy-reply-threshold", 50)
        admin.function_load(
            "#!lua name=spin\nredis.register_function{function_name='spin', flags={'no-writes'},"
            " callback=function() local f = function() while 1 do redis.call('ping') end end"
            " while 1 do pcall(f) end end}",
            replace=True,
        )
        outcome = _run_in_thread(member, lambda r: r.fcall("spin", 0))
        wait_for("BUSY", lambda: _busy(admin), 10)
        stats = dict(zip(*[iter(admin.function_stats())] * 2, strict=True))
        running = dict(zip(*[iter(stats[b"running_script"])] * 2, strict=True))
        assert running[b"name"] == b"spin" and running[b"command"] == [b"FCALL", b"spin", b"0"]
        with pytest.raises(redis.RedisError, match="only call FUNCTION KILL"):
            admin.script_kill()
        assert admin.function_kill()
        thread = outcome["thread"]
        assert isinstance(thread, threading.Thread)
        thread.join(10)
        assert "killed by user" in str(outcome.get("error")), outcome
        assert admin.ping()
        admin.config_set("busy-reply-threshold", 5000)


def test_cmsgpack_and_struct_round_trip_on_every_node(cluster: ClusterProcesses) -> None:
    script = """
    local packed = cmsgpack.pack({KEYS[1], tonumber(ARGV[1]), {a = 1.5}})
    redis.call('set', KEYS[1], packed)
    local value = cmsgpack.unpack(redis.call('get', KEYS[1]))
    local binary = struct.pack('>!4 i h c0', value[2], -2, value[1])
    return {packed, binary, {struct.unpack('>!4 i h', binary)}, value[3].a == 1.5}
    """
    replies = []
    for member in cluster.nodes.values():
        with member.client() as r:
            replies.append(r.eval(script, 1, "lib:k", 300))
    assert replies[0] == [
        b"\x93\xa5lib:k\xcd\x01,\x81\xa1a\xca?\xc0\x00\x00",
        b"\x00\x00\x01,\xff\xfelib:k",
        [300, -2, 7],
        1,
    ]
    assert all(reply == replies[0] for reply in replies)
