"""The Redis Cluster protocol on real processes (3 nodes, 3 groups): CLUSTER SLOTS/SHARDS/
NODES/INFO agree with the groups' leaders on every node; redis-py's RedisCluster and
`redis-cli -c` work against any node in both redirect modes; `moved` mode redirects and
refuses exactly as Redis Cluster does."""

from __future__ import annotations

import socket
import subprocess

import hiredis
import pytest
import redis
from harness import ClusterFactory, ClusterProcesses, MemberProcess, wait_for
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import RedisClusterException
from test_data_groups import spread

from seshat_trio.slots import key_slot
from seshat_trio.system.placement import preferred_leader
from seshat_trio.system.topology import node_name

pytestmark = pytest.mark.integration

# Slots 0-5460 are group 1's, 5461-10922 group 2's, the rest group 3's.
RANGES = {1: (0, 5460), 2: (5461, 10922), 3: (10923, 16383)}


def group_of(key: str) -> int:
    slot = key_slot(key.encode())
    return next(g for g, (first, last) in RANGES.items() if first <= slot <= last)


def start(make_cluster: ClusterFactory, *extra: str) -> tuple[ClusterProcesses, dict[int, int]]:
    cluster = make_cluster("--data-groups", "3", *extra)
    # The balancer hands each group to its preferred leader: wait until it has settled.
    preferred = {g: preferred_leader(g, list(cluster.nodes)) for g in RANGES}
    wait_for("each group led by its preferred leader", lambda: spread(cluster) == preferred, 30.0)
    # Every node has met every other (their client addresses arrive in the handshake).
    for member in cluster.nodes.values():
        wait_for(
            "every node knows every member",
            lambda m=member: (
                m.client()
                .execute_command("CLUSTER", "INFO")
                .count(  # type: ignore[misc]
                    b"cluster_known_nodes:3"
                )
            ),
            15.0,
        )
    return cluster, preferred


def raw(member: MemberProcess, *commands: bytes) -> list[object]:
    """Each command's reply as hiredis reads it; errors as b"-<text>"."""
    reader = hiredis.Reader()
    replies: list[object] = []
    with socket.create_connection(("127.0.0.1", member.port), timeout=10) as sock:
        sock.sendall(b"".join(commands))
        while len(replies) < len(commands):
            chunk = sock.recv(65536)
            assert chunk, replies
            reader.feed(chunk)
            while (reply := reader.gets()) is not False:
                replies.append(
                    b"-" + str(reply).encode() if isinstance(reply, hiredis.ReplyError) else reply
                )
    return replies


def resp(*args: str) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(
        b"$%d\r\n%s\r\n" % (len(a.encode()), a.encode()) for a in args
    )


def addr(member: MemberProcess) -> str:
    return f"127.0.0.1:{member.port}"


def check_topology(cluster: ClusterProcesses, leaders: dict[int, int]) -> None:
    """CLUSTER SLOTS, SHARDS, NODES, INFO and MYID on every node name each group's leader
    as the primary of its slots and the other voters as its replicas."""
    nodes = cluster.nodes
    for member in nodes.values():
        with member.client() as r:
            slots = r.execute_command("CLUSTER", "SLOTS")
            got = {}
            for first, last, primary, *replicas in slots:
                got[(first, last)] = (
                    primary[:3],
                    sorted(tuple(rep[:3]) for rep in replicas),
                )
                assert primary[3] == [] or primary[3] == {}
            # Each node leads one group: a primary only (no node has two roles).
            expected = {}
            for group, (first, last) in RANGES.items():
                leader = nodes[leaders[group]]
                expected[(first, last)] = (
                    [b"127.0.0.1", leader.port, node_name(leader.node_id).encode()],
                    [],
                )
            assert got == expected
            (shards,) = raw(member, resp("CLUSTER", "SHARDS"))
            assert isinstance(shards, list) and len(shards) == 3
            for shard in shards:
                fields = dict(zip(shard[::2], shard[1::2], strict=True))
                first, last = fields[b"slots"]
                group = next(g for g, bounds in RANGES.items() if bounds == (first, last))
                roles = {}
                for node in fields[b"nodes"]:
                    details = dict(zip(node[::2], node[1::2], strict=True))
                    assert details[b"health"] == b"online" and details[b"ip"] == b"127.0.0.1"
                    roles[details[b"id"]] = (details[b"port"], details[b"role"])
                leader = nodes[leaders[group]]
                assert roles == {node_name(leader.node_id).encode(): (leader.port, b"master")}
            # RESP3: maps where RESP2 has flat arrays, as Redis 7.0.
            _, slots3, shards3 = raw(
                member, resp("HELLO", "3"), resp("CLUSTER", "SLOTS"), resp("CLUSTER", "SHARDS")
            )
            assert slots3 == slots and isinstance(shards3, list)
            assert [sorted(shard) for shard in shards3] == [[b"nodes", b"slots"]] * 3
            info = r.execute_command("CLUSTER", "INFO").decode()
            assert "cluster_state:ok\r\n" in info and "cluster_size:3\r\n" in info
            assert "cluster_slots_ok:16384\r\n" in info
            assert r.execute_command("CLUSTER", "MYID") == node_name(member.node_id).encode()
            assert r.info("cluster")["cluster_enabled"] == 1
            lines = r.execute_command("CLUSTER", "NODES").decode().splitlines()
            assert len(lines) == 3
            for line in lines:
                name, address, flags, master, _, _, _, link, *slot_ranges = line.split(" ")
                node_id = int(name)
                assert address.startswith(f"127.0.0.1:{nodes[node_id].port}@")
                assert ("myself" in flags.split(",")) == (node_id == member.node_id)
                assert "master" in flags and master == "-" and link == "connected"
                (group,) = [g for g, leader in leaders.items() if leader == node_id]
                assert slot_ranges == ["{}-{}".format(*RANGES[group])]


def check_clients(cluster: ClusterProcesses) -> None:
    """RedisCluster from each node and `redis-cli -c` against each node: every key lands in
    its group (CLUSTER COUNTKEYSINSLOT / GETKEYSINSLOT agree on every node)."""
    keys = [f"rc:{i}" for i in range(60)]
    assert {group_of(k) for k in keys} == {1, 2, 3}
    for number, member in enumerate(cluster.nodes.values()):
        client = RedisCluster(
            startup_nodes=[ClusterNode("127.0.0.1", member.port)], socket_timeout=10
        )
        try:
            for key in keys:
                assert client.set(key, f"{key}={number}") is True
            assert {n.port for n in client.get_primaries()} == {
                m.port for m in cluster.nodes.values()
            }
            assert [client.get(k) for k in keys] == [f"{k}={number}".encode() for k in keys]
            assert client.mget_nonatomic(keys) == [f"{k}={number}".encode() for k in keys]
            tagged = [f"{{user:{number}}}:{field}" for field in ("a", "b", "c")]
            assert client.mset({k: "t" for k in tagged}) is True
            assert client.mget(tagged) == [b"t"] * 3
            pipe = client.pipeline()
            for key in keys[:10]:
                pipe.incr(f"{key}:n")
            assert pipe.execute() == [number + 1] * 10
        finally:
            client.close()
    for member in cluster.nodes.values():
        with member.client() as r:
            for key in keys[:5]:
                slot = key_slot(key.encode())
                assert r.execute_command("CLUSTER", "KEYSLOT", key) == slot
                in_slot = r.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100)
                assert key.encode() in in_slot
                assert r.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) == len(in_slot)
    for number, member in enumerate(cluster.nodes.values()):
        for key in keys[:6]:
            out = subprocess.run(
                ["redis-cli", "-c", "-p", str(member.port), "SET", key, f"cli{number}"],
                capture_output=True, text=True, timeout=30, check=True,
            )  # fmt: skip
            assert out.stdout.strip() == "OK", out
            out = subprocess.run(
                ["redis-cli", "-c", "-p", str(member.port), "GET", key],
                capture_output=True, text=True, timeout=30, check=True,
            )  # fmt: skip
            assert out.stdout.strip() == f"cli{number}", out


def test_cluster_protocol_in_forward_mode(make_cluster: ClusterFactory) -> None:
    cluster, leaders = start(make_cluster)
    check_topology(cluster, leaders)
    check_clients(cluster)
    check_families(cluster, cluster_client=False)
    # Forward mode: any node answers any key and splits MGET/DEL/EXISTS over the groups;
    # other multi-key commands need one group (any slots in it).
    keys = [f"fw:{i}" for i in range(12)]
    same_group = [k for k in keys if group_of(k) == group_of(keys[0])]
    far = next(k for k in keys if group_of(k) != group_of(keys[0]))
    for member in cluster.nodes.values():
        with member.client() as r:
            for key in keys:
                assert r.set(key, "v") is True
            assert r.mget(keys) == [b"v"] * len(keys)
            assert r.exists(*keys) == len(keys)
            assert r.mset({k: "w" for k in same_group}) is True
            with pytest.raises(
                redis.ResponseError, match=r"^Keys in request don't hash to the same slot$"
            ):
                r.mset({keys[0]: "1", far: "2"})
            with pytest.raises(redis.ResponseError, match=r"^Keys in request"):
                r.rename(keys[0], far)
            assert r.dbsize() == len(r.keys("*"))
    assert raw(cluster.nodes[1], resp("CLUSTER", "COUNTKEYSINSLOT", "16384"),
               resp("CLUSTER", "COUNTKEYSINSLOT", "abc"),
               resp("CLUSTER", "GETKEYSINSLOT", "1", "-1"),
               resp("CLUSTER", "KEYSLOT"), resp("CLUSTER", "FOO"),
               resp("READONLY", "x"), resp("ASKING")) == [
        b"-ERR Invalid slot",
        b"-ERR value is not an integer or out of range",
        b"-ERR Invalid slot or number of keys",
        b"-ERR wrong number of arguments for 'cluster|keyslot' command",
        b"-ERR unknown subcommand 'FOO'. Try CLUSTER HELP.",
        b"-ERR wrong number of arguments for 'readonly' command",
        b"OK",
    ]  # fmt: skip


def test_cluster_protocol_in_moved_mode(make_cluster: ClusterFactory) -> None:
    cluster, leaders = start(make_cluster, "--redirect", "moved")
    check_topology(cluster, leaders)
    check_clients(cluster)
    check_families(cluster, cluster_client=True)
    nodes = cluster.nodes
    names = [f"mv:{i}" for i in range(300)]
    key = next(k for k in names if group_of(k) == 2)
    slot = key_slot(key.encode())
    leader = nodes[leaders[2]]
    other = next(m for m in nodes.values() if m is not leader)
    moved = f"-MOVED {slot} {addr(leader)}".encode()
    assert raw(leader, resp("SET", key, "1")) == [b"OK"]
    # Writes and reads elsewhere are redirected; after READONLY, reads are served here.
    assert raw(other, resp("SET", key, "2"), resp("GET", key), resp("READONLY"),
               resp("GET", key), resp("SET", key, "3"), resp("READWRITE"),
               resp("GET", key)) == [
        moved, moved, b"OK", b"1", moved, b"OK", moved,
    ]  # fmt: skip
    # Sharded pub/sub is served by any replica of the channel's group.
    assert raw(other, resp("SPUBLISH", key, "m")) == [0]
    # Inside MULTI the redirected command flags the transaction; WATCH is redirected (even
    # inside MULTI, as Redis judges the keys first).
    assert raw(other, resp("MULTI"), resp("INCR", key), resp("EXEC"),
               resp("MULTI"), resp("PING"), resp("WATCH", key)) == [
        b"OK", moved, b"-EXECABORT Transaction discarded because of previous errors.",
        b"OK", b"QUEUED", moved,
    ]  # fmt: skip
    # Keys must share a slot (not only a group), and nothing is split over groups.
    same_group = [k for k in names if group_of(k) == 2]
    a = same_group[0]
    b = next(k for k in same_group if key_slot(k.encode()) != key_slot(a.encode()))
    far = next(k for k in names if group_of(k) == 1)
    crossslot = b"-CROSSSLOT Keys in request don't hash to the same slot"
    tagged = (f"{{{key}}}1", f"{{{key}}}2")
    assert raw(leader, resp("MSET", a, "1", b, "2"), resp("MGET", key, far),
               resp("DEL", key, far), resp("MULTI"), resp("SET", a, "1"),
               resp("SET", b, "1"), resp("EXEC"), resp("MSET", tagged[0], "x", tagged[1], "y")) == [
        crossslot, crossslot, crossslot, b"OK", b"QUEUED", b"QUEUED", crossslot, b"OK",
    ]  # fmt: skip
    # Keyspace-wide commands answer for the groups the node leads, so redis-py's fan-out
    # to every primary counts each key once.
    with leader.client() as r:
        assert r.dbsize() == len(r.keys("*")) > 0
        assert {group_of(k.decode()) for k in r.keys("*")} == {2}
    with RedisCluster(host="127.0.0.1", port=other.port, socket_timeout=10) as client:
        total = client.dbsize(target_nodes=RedisCluster.PRIMARIES)
        assert total == sum(len(m.client().keys("*")) for m in nodes.values())
        flushed = client.flushall(target_nodes=RedisCluster.PRIMARIES)
        assert list(flushed.values()) == [True] * 3
        assert client.dbsize(target_nodes=RedisCluster.PRIMARIES) == 0


def exercise_families(r: redis.Redis | RedisCluster, tag: str, other: str) -> None:
    """One round of every command family on keys of `tag`'s slot (`other`: a tag whose
    slot lives in another group)."""
    k, k2, k3 = (f"{{{tag}}}:{name}" for name in ("a", "b", "c"))
    far = f"{{{other}}}:a"
    # strings
    assert r.set(k, "1") is True and r.incr(k) == 2 and r.append(k, "0") == 2
    assert r.get(k) == b"20" and r.strlen(k) == 2 and r.getrange(k, 0, 0) == b"2"
    assert r.mset({k: "x", k2: "y"}) is True and r.mget(k, k2) == [b"x", b"y"]
    # keys
    assert r.exists(k, k2, k3) == 2 and r.type(k) == b"string" and r.touch(k, k2) == 2
    assert r.rename(k2, k3) is True and r.copy(k3, k2) is True and r.get(k2) == b"y"
    # expiry
    assert r.expire(k, 100) is True and 0 < r.ttl(k) <= 100 and r.persist(k) is True
    assert r.ttl(k) == -1 and r.pexpire(k3, 100_000) is True and r.pttl(k3) > 0
    # transactions: one slot, atomic
    pipe = r.pipeline(transaction=True)
    pipe.incr(f"{{{tag}}}:n").incr(f"{{{tag}}}:n")
    assert pipe.execute() == [1, 2]
    # scripting: keys of one slot run; keys of two groups never do
    script = "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('GET', KEYS[2])"
    assert r.eval(script, 2, k, k2, "e") == b"y" and r.get(k) == b"e"
    with pytest.raises((redis.ResponseError, RedisClusterException), match="slot"):
        r.eval("return 1", 2, k, far)
    # hashes and sets; SMOVE (like every multi-key command) only within a group
    h, s1, s2 = f"{{{tag}}}:h", f"{{{tag}}}:s1", f"{{{tag}}}:s2"
    assert r.hset(h, mapping={"f": "1", "g": "2"}) == 2 and r.hincrby(h, "f", 2) == 3
    assert r.hgetall(h) == {b"f": b"3", b"g": b"2"}
    assert r.sadd(s1, "a", "b") == 2 and r.smove(s1, s2, "a") is True
    assert r.sunionstore(k3, [s1, s2]) == 2 and r.smembers(s2) == {b"a"}
    with pytest.raises((redis.ResponseError, RedisClusterException), match="slot"):
        r.smove(s1, f"{{{other}}}:s", "b")
    # sharded pub/sub routes by channel
    assert r.spublish(k, "message") == 0
    assert r.delete(k, k2, k3, f"{{{tag}}}:n", h, s1, s2) == 7


def tag_in(group: int) -> str:
    """A hash tag whose slot is in `group`."""
    return next(f"t{i}" for i in range(1000) if group_of(f"t{i}") == group)


def check_families(cluster: ClusterProcesses, cluster_client: bool) -> None:
    """Every command family on keys of every group, through every node (a RedisCluster
    client starting there, or a plain client of that node)."""
    for member in cluster.nodes.values():
        client: redis.Redis | RedisCluster = (
            RedisCluster(host="127.0.0.1", port=member.port, socket_timeout=10)
            if cluster_client
            else member.client()
        )
        with client as r:
            for group in RANGES:
                exercise_families(r, tag_in(group), tag_in(group % 3 + 1))
