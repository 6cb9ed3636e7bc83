"""The command set on a real 3-node cluster through redis-py: every case runs on the leader,
on a follower, and on a follower whose clock is 30 s fast (`faketime`), and they must agree.

One module-scoped cluster: nodes 1 and 2 start first and elect a leader among themselves;
node 3 then joins with libfaketime preloaded, its wall clock 30 s fast (Debian's faketime
package; without it the skewed-clock test is skipped and the cases run without skew). The
library is preloaded through `env`, which execs the node, rather than through the
`faketime` wrapper, which would fork: the PID the harness kills must be the node's. A node's clock
must never decide on its own whether a key is alive, so the skewed follower answers like
the others.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from harness import ClusterProcesses, MemberProcess, wait_for

pytestmark = pytest.mark.integration

SKEW = "+30s"
LIBFAKETIME = next(
    (
        path
        for path in (
            Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"),
            Path("/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1"),
            Path("/usr/lib/faketime/libfaketime.so.1"),
        )
        if path.exists()
    ),
    None,
)
HAS_FAKETIME = LIBFAKETIME is not None
_tags = itertools.count()


class SkewedMember(MemberProcess):
    """A member whose wall clock runs 30 s ahead (its monotonic clock is left alone)."""

    def argv(self) -> list[str]:
        return [
            "env",
            f"LD_PRELOAD={LIBFAKETIME}",
            f"FAKETIME={SKEW}",
            "FAKETIME_DONT_FAKE_MONOTONIC=1",
            *super().argv(),
        ]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterProcesses]:
    base: Path = tmp_path_factory.mktemp("commands-cluster")
    cluster = ClusterProcesses(base)
    if HAS_FAKETIME:
        plain = cluster.nodes[3]
        cluster.nodes[3] = SkewedMember(3, plain.members, plain.internal_port, base, [])
    try:
        first = [cluster.nodes[1], cluster.nodes[2]]
        for member in first:
            member.launch()
        for member in first:
            member.wait_ready(30)
        cluster.wait_leader(among=first)  # a leader exists before the skewed node starts
        cluster.nodes[3].start(30)
        cluster.wait_leader()
        yield cluster
    finally:
        cluster.stop()


def role_member(cluster: ClusterProcesses, role: str) -> MemberProcess:
    leader = cluster.leader()
    if role == "leader":
        return leader
    skewed = cluster.nodes[3]
    if role == "skewed follower":
        if leader is skewed:
            pytest.skip("the skewed node became the leader; its clock is then the clock")
        return skewed
    return next(m for m in cluster.followers(leader) if m is not skewed)


def raw_client(member: MemberProcess) -> redis.Redis:
    """redis-py without reply callbacks: replies as the server sent them."""
    client = member.client()
    client.response_callbacks.clear()
    return client


def call(client: redis.Redis, *args: object) -> object:
    """One command's reply, with RESP3 maps and sets flattened as RESP2 sends them."""
    try:
        return flat(client.execute_command(*args))  # type: ignore[no-untyped-call]
    except redis.ResponseError as exc:
        return ("error", str(exc))


def flat(reply: object) -> object:
    if isinstance(reply, dict):
        return [flat(part) for pair in reply.items() for part in pair]
    if isinstance(reply, set | frozenset):
        return sorted(flat(item) for item in reply)  # type: ignore[type-var]
    if isinstance(reply, list):
        return [flat(item) for item in reply]
    return reply


def err(text: str) -> tuple[str, str]:
    return ("error", text)


class AnyOrder(list[object]):
    """An expected array whose order is not part of the contract (a hash's fields, KEYS)."""


def agrees(reply: object, expected: object) -> bool:
    if isinstance(expected, AnyOrder):
        return isinstance(reply, list) and sorted(reply, key=repr) == sorted(expected, key=repr)
    if isinstance(expected, list):
        return (
            isinstance(reply, list)
            and len(reply) == len(expected)
            and all(agrees(r, e) for r, e in zip(reply, expected, strict=True))
        )
    return reply == expected


NOT_INT = err("value is not an integer or out of range")
# A TTL read back takes time on a loaded machine: any of these is right (a frozenset
# expectation means "one of").
TTL_100 = frozenset({99, 100})
CASES: dict[str, list[tuple[tuple[object, ...], object]]] = {
    "strings": [
        (("SET", "{t}a", "v"), b"OK"),
        (("SET", "{t}a", "w", "NX", "GET"), b"v"),
        (("SET", "{t}a", "w", "XX", "GET"), b"v"),
        (("GET", "{t}a"), b"w"),
        (("SET", "{t}a", "v", "EX", "0"), err("invalid expire time in 'set' command")),
        (("MSET", "{t}b", "1", "{t}c", "2"), b"OK"),
        (("MGET", "{t}a", "{t}b", "{t}nope"), [b"w", b"1", None]),
        (("MSETNX", "{t}b", "1", "{t}new", "2"), 0),
        (("INCRBY", "{t}b", "41"), 42),
        (("DECR", "{t}b"), 41),
        (("INCR", "{t}a"), NOT_INT),
        (("SET", "{t}max", str(2**63 - 1)), b"OK"),
        (("INCR", "{t}max"), err("increment or decrement would overflow")),
        (("SET", "{t}f", "10.50"), b"OK"),
        (("INCRBYFLOAT", "{t}f", "0.1"), b"10.6"),
        (("INCRBYFLOAT", "{t}g", "3.0e3"), b"3000"),
        (("APPEND", "{t}s", "Hello"), 5),
        (("SETRANGE", "{t}s", "6", "World"), 11),
        (("GETRANGE", "{t}s", "0", "4"), b"Hello"),
        (("STRLEN", "{t}s"), 11),
        (("GETSET", "{t}s", "x"), b"Hello\x00World"),
        (("GETDEL", "{t}s"), b"x"),
        (("SETNX", "{t}s", "y"), 1),
        (("SETRANGE", "{t}s", "-1", "x"), err("offset is out of range")),
        (("SETRANGE", "{t}s", "4194304", "x"), err("value too large (max 4194304 bytes)")),
    ],
    "keys": [
        (("MSET", "{t}k1", "1", "{t}k2", "2", "{t}x", "3"), b"OK"),
        (("EXISTS", "{t}k1", "{t}k1", "{t}none"), 2),
        (("TYPE", "{t}k1"), b"string"),
        (("TYPE", "{t}none"), b"none"),
        (("KEYS", "{t}k?"), AnyOrder([b"{t}k1", b"{t}k2"])),
        (("SCAN", "0", "MATCH", "{t}k*", "COUNT", "100000"),
         [b"0", AnyOrder([b"{t}k1", b"{t}k2"])]),
        (("RENAME", "{t}k1", "{t}r"), b"OK"),
        (("RENAME", "{t}k1", "{t}r"), err("no such key")),
        (("RENAMENX", "{t}r", "{t}x"), 0),
        (("COPY", "{t}r", "{t}c"), 1),
        (("COPY", "{t}r", "{t}c"), 0),
        (("TOUCH", "{t}r", "{t}c", "{t}none"), 2),
        (("DEL", "{t}r", "{t}c", "{t}none"), 2),
        (("UNLINK", "{t}k2", "{t}x"), 2),
        (("KEYS", "{t}*"), []),
    ],
    "expiry": [
        (("SET", "{t}e", "v", "EX", "100"), b"OK"),
        (("TTL", "{t}e"), TTL_100),
        (("EXPIRE", "{t}e", "50", "GT"), 0),
        (("EXPIRE", "{t}e", "500", "GT"), 1),
        (("TTL", "{t}e"), frozenset({499, 500})),
        (("EXPIRE", "{t}e", "10", "NX"), 0),
        (("PERSIST", "{t}e"), 1),
        (("TTL", "{t}e"), -1),
        (("PEXPIRE", "{t}e", "100000"), 1),
        (("TTL", "{t}e"), TTL_100),
        (("EXPIRETIME", "{t}none"), -2),
        (("EXPIRE", "{t}e", "10", "NX", "XX"),
         err("NX and XX, GT or LT options at the same time are not compatible")),
        (("EXPIRE", "{t}e", "-1"), 1),
        (("GET", "{t}e"), None),
    ],
    "hashes": [
        (("HSET", "{t}h", "a", "1", "b", "2"), 2),
        (("HSET", "{t}h", "a", "10"), 0),
        (("HGET", "{t}h", "a"), b"10"),
        (("HMGET", "{t}h", "a", "nope", "b"), [b"10", None, b"2"]),
        (("HGETALL", "{t}h"), AnyOrder([b"a", b"10", b"b", b"2"])),
        (("HKEYS", "{t}h"), AnyOrder([b"a", b"b"])),
        (("HLEN", "{t}h"), 2),
        (("HINCRBY", "{t}h", "b", "40"), 42),
        (("HINCRBYFLOAT", "{t}h", "f", "1.5"), b"1.5"),
        (("HSETNX", "{t}h", "f", "x"), 0),
        (("HEXISTS", "{t}h", "f"), 1),
        (("HSTRLEN", "{t}h", "a"), 2),
        (("HDEL", "{t}h", "f", "nope"), 1),
        (("HSCAN", "{t}h", "0", "MATCH", "a", "COUNT", "100"), [b"0", [b"a", b"10"]]),
        (("HRANDFIELD", "{t}h", "5"), AnyOrder([b"a", b"b"])),
        (("TYPE", "{t}h"), b"hash"),
        (("OBJECT", "ENCODING", "{t}h"), b"hashtable"),
        (("GET", "{t}h"), err("WRONGTYPE Operation against a key holding the wrong kind of value")),
        (("HGET", "{t}nope", "a"), None),
        (("EXPIRE", "{t}h", "100"), 1),
        (("TTL", "{t}h"), TTL_100),
        (("RENAME", "{t}h", "{t}h2"), b"OK"),
        (("HGET", "{t}h2", "b"), b"42"),
        (("TTL", "{t}h2"), TTL_100),
        (("SCAN", "0", "TYPE", "hash", "MATCH", "{t}*", "COUNT", "100000"), [b"0", [b"{t}h2"]]),
        (("HDEL", "{t}h2", "a", "b"), 2),
        (("EXISTS", "{t}h2"), 0),
        (("HSET", "{t}h2", "x", "y"), 1),
        (("TTL", "{t}h2"), -1),
        (("DEL", "{t}h2"), 1),
    ],
    "server": [
        (("ECHO", "hi"), b"hi"),
        (("DEBUG", "SLEEP", "0"), b"OK"),
        (("FUNCTION", "FLUSH"), b"OK"),
        (("SAVE",), b"OK"),
        (("CONFIG", "GET", "appendonly"), [b"appendonly", b"yes"]),
        (("CONFIG", "SET", "port", "1"),
         err("CONFIG SET failed (possibly related to argument 'port') - "
             "can't set immutable config")),
        (("COMMAND", "INFO", "mset"),
         [[b"mset", -3, [b"denyoom", b"write"], 1, -1, 2, [b"@write", b"@string", b"@slow"],
           [], [], []]]),
    ],
}  # fmt: skip


def with_tag(value: object, tag: str) -> object:
    if isinstance(value, str):
        return value.replace("{t}", tag)
    if isinstance(value, bytes):
        return value.replace(b"{t}", tag.encode())
    if isinstance(value, list):
        return type(value)(with_tag(item, tag) for item in value)
    if isinstance(value, tuple) and value and value[0] != "error":
        return tuple(with_tag(item, tag) for item in value)
    return value


ROLES = ["leader", "follower", "skewed follower"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_cases_on_every_node(cluster: ClusterProcesses, role: str, case: str) -> None:
    tag = f"c{next(_tags)}:"
    with raw_client(role_member(cluster, role)) as client:
        for command, expected in CASES[case]:
            reply = call(client, *with_tag(command, tag))  # type: ignore[misc]
            if isinstance(expected, frozenset):
                assert reply in expected, command
            else:
                assert agrees(reply, with_tag(expected, tag)), (command, reply)


@pytest.mark.parametrize("role", ROLES)
def test_multi_exec_and_watch(cluster: ClusterProcesses, role: str) -> None:
    tag = f"m{next(_tags)}:"
    member, leader = role_member(cluster, role), cluster.leader()
    with member.client() as r, leader.client() as other:
        pipe = r.pipeline(transaction=True)
        pipe.set(f"{tag}a", "1").incr(f"{tag}a").get(f"{tag}a").ttl(f"{tag}a")
        assert pipe.execute() == [True, 2, b"2", -1]
        with r.pipeline(transaction=True) as watched:
            watched.watch(f"{tag}a")
            assert watched.get(f"{tag}a") == b"2"
            other.set(f"{tag}a", "changed")  # another client, on the leader
            watched.multi()
            watched.set(f"{tag}a", "mine")
            with pytest.raises(redis.WatchError):
                watched.execute()
        assert r.get(f"{tag}a") == b"changed"
        raw = raw_client(member)
        assert call(raw, "MULTI") == b"OK"
        assert call(raw, "GET") == err("wrong number of arguments for 'get' command")
        # redis-py strips the EXECABORT code word into its ExecAbortError class.
        assert call(raw, "EXEC") == err("Transaction discarded because of previous errors.")


def node_time_ms(client: redis.Redis) -> int:
    seconds, micros = client.execute_command("TIME")  # type: ignore[no-untyped-call]
    return int(seconds) * 1000 + int(micros) // 1000


def test_every_node_agrees_on_ttls_and_expired_keys(cluster: ClusterProcesses) -> None:
    if not HAS_FAKETIME:
        pytest.skip("libfaketime is not installed (apt-get install faketime): no skewed node")
    leader = cluster.leader()
    skewed = cluster.nodes[3]
    if leader is skewed:
        pytest.skip("the skewed node became the leader; its clock is then the clock")
    members = list(cluster.nodes.values())
    clients = [raw_client(m) for m in members]
    try:
        leader_ms = node_time_ms(clients[members.index(leader)])
        skew_ms = node_time_ms(clients[members.index(skewed)]) - leader_ms
        assert 29_000 < skew_ms < 31_000  # faketime really moved node 3's wall clock
        # Relative TTLs become absolute with the leader's clock, even when set via the
        # skewed node, whose own clock is 30 s ahead.
        skewed_client = clients[members.index(skewed)]
        assert call(skewed_client, "SET", "skew:long", "v", "EX", "100") == b"OK"
        assert call(skewed_client, "SET", "skew:short", "v", "PX", "1500") == b"OK"
        expiries = {call(c, "PEXPIRETIME", "skew:long") for c in clients}
        assert len(expiries) == 1
        (expiry,) = expiries
        assert isinstance(expiry, int) and abs(expiry - (leader_ms + 100_000)) < 5_000
        assert {call(c, "TTL", "skew:long") for c in clients} <= {99, 100}
        # Alive by the leader's clock; the skewed node would wrongly call it expired.
        assert [call(c, "GET", "skew:short") for c in clients] == [b"v"] * 3
        time.sleep(1.6)
        assert [call(c, "GET", "skew:short") for c in clients] == [None] * 3
        assert [call(c, "TTL", "skew:short") for c in clients] == [-2] * 3
        # The leader's deletion is replicated: every node's stored data drops the key.
        wait_for(
            "every node purged the expired key",
            lambda: (
                len({call(c, "DBSIZE") for c in clients}) == 1
                and all(call(c, "KEYS", "skew:*") == [b"skew:long"] for c in clients)
            ),
            timeout=5,
        )
    finally:
        for client in clients:
            client.close()


@pytest.mark.parametrize("role", ["leader", "follower"])
def test_redis_cli_scan_returns_every_key(cluster: ClusterProcesses, role: str) -> None:
    # redis-cli parses the cursor as an unsigned 64-bit number; it used to stop after one
    # page with "ERR invalid cursor".
    if shutil.which("redis-cli") is None:
        pytest.skip("redis-cli is not installed (redis-tools)")
    tag = f"cli{next(_tags)}:"
    strings = {f"{tag}s:{i}".encode() for i in range(300)}
    hashes = {f"{tag}h:{i}".encode() for i in range(30)}
    member = role_member(cluster, role)
    with member.client() as client:
        client.mset({key: b"v" for key in strings})
        for key in hashes:
            client.hset(key, mapping={"f": "1", "g": "2"})

    def cli_scan(*options: str) -> set[bytes]:
        argv = ["redis-cli", "-p", str(member.port), "--scan", *options]
        out = subprocess.run(argv, check=True, capture_output=True, timeout=60).stdout
        return set(out.splitlines())

    assert cli_scan("--pattern", f"{tag}*") == strings | hashes
    assert cli_scan("--pattern", f"{tag}h:*") == hashes
    assert strings | hashes <= cli_scan()
