"""Replication factor below the member count, on real processes: 5 nodes, factor 3.

Each data group lives on 3 of the 5 nodes; every node still serves every key (a node
without a replica of the key's group forwards the command to one), and keyspace-wide
commands cover every group. The factor then goes 3 -> 5 -> 3 under a steady writer: the
nodes start and leave group replicas as placement moves them, and every acknowledged write
is there at the end, read through every node.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest
from harness import ClusterProcesses, log_tail, wait_for
from redis.cluster import RedisCluster
from test_membership import Writer, check_everything_acked, listing, member_cli

from seshat_trio.slots import key_slot
from seshat_trio.system.shard_map import even_ranges

pytestmark = pytest.mark.integration

GROUPS = 4
NODES = (1, 2, 3, 4, 5)


def group_of(key: bytes) -> int:
    slot = key_slot(key)
    return next(r.group for r in even_ranges(range(1, GROUPS + 1)) if slot <= r.last_slot)


def placement(cluster: ClusterProcesses) -> dict[int, set[int]]:
    """group -> its voters, as each group's leader reports them."""
    found: dict[int, set[int]] = {}
    for node_id, node in cluster.nodes.items():
        for line in listing(node).splitlines():
            words = line.split()
            if words[0] == "group" and words[2] == f"leader={node_id}" and words[1] != "0":
                fields = dict(w.split("=", 1) for w in words[2:])
                found[int(words[1])] = {int(v) for v in fields["voters"].split(",") if v}
    return found


def wait_factor(
    cluster: ClusterProcesses, factor: int, timeout: float = 90.0
) -> dict[int, set[int]]:
    def settled() -> dict[int, set[int]] | None:
        groups = placement(cluster)
        if len(groups) != GROUPS or any(len(v) != factor for v in groups.values()):
            return None
        return groups

    return wait_for(f"every group on {factor} voters", settled, timeout, every=0.3)


def more_writes(writer: Writer, count: int = 30) -> None:
    """Let the writer get `count` more writes acknowledged."""
    target = len(writer.acked) + count
    wait_for(f"{count} more acknowledged writes", lambda: len(writer.acked) >= target, 30.0)


def test_five_nodes_factor_three_serve_every_key_and_survive_factor_changes(
    tmp_path: Path,
) -> None:
    cluster = ClusterProcesses(tmp_path, size=5, extra=["--data-groups", str(GROUPS)])
    try:
        cluster.start()
        groups = wait_factor(cluster, 3)
        loads = sorted(sum(n in v for v in groups.values()) for n in NODES)
        assert loads == [2, 2, 2, 3, 3]  # 12 replicas over 5 nodes, evenly
        keys = [b"key:%d" % i for i in range(200)]
        assert {group_of(k) for k in keys} == set(range(1, GROUPS + 1))
        # Every key is written through some node and read through every node, including
        # the nodes that hold no replica of its group.
        for i, key in enumerate(keys):
            with cluster.nodes[NODES[i % 5]].client() as r:
                assert r.set(key, key + b"!") is True
        for node_id, node in cluster.nodes.items():
            assert any(node_id not in voters for voters in groups.values())
            # Judged on the groups it is a member of only.
            health = f"http://127.0.0.1:{node.http_port}/health"
            with urllib.request.urlopen(health, timeout=5) as answer:
                assert answer.status == 200
            with node.client() as r:
                assert r.mget(keys) == [k + b"!" for k in keys]
                assert r.get(keys[3]) == keys[3] + b"!"
                assert r.dbsize() == len(keys)
                assert sorted(r.keys("key:*")) == sorted(keys)
                assert sorted(r.scan_iter("key:*", count=30)) == sorted(keys)
                pipe = r.pipeline(transaction=False)
                for key in keys[:20]:
                    pipe.incr(b"n:" + key).get(key)
                assert pipe.execute() == [x for k in keys[:20] for x in (1, k + b"!")]
                assert r.delete(*(b"n:" + k for k in keys[:20])) == 20
        # A cluster-aware client learns the slots' primaries (CLUSTER SLOTS) from a node
        # that does not replicate every group, and goes to them directly.
        outsider = next(n for n in NODES if any(n not in v for v in groups.values()))
        rc = RedisCluster(host="127.0.0.1", port=cluster.nodes[outsider].port)
        try:
            assert [rc.get(k) for k in keys[:40]] == [k + b"!" for k in keys[:40]]
            assert rc.set(b"rc:x", b"1") is True and rc.get(b"rc:x") == b"1"
            assert rc.delete(b"rc:x") == 1
        finally:
            rc.close()
        with cluster.nodes[2].client() as r:
            tx = r.pipeline(transaction=True)
            tx.set("{t}:a", "1").incr("{t}:n").get("{t}:a")
            assert tx.execute() == [True, 1, b"1"]
            assert r.delete("{t}:a", "{t}:n") == 2

        # `seshat-trio member list` through one node shows every group (a node lists only
        # the groups it is a member of; the others come from the other members).
        listed = member_cli("list", "--via", f"127.0.0.1:{cluster.nodes[outsider].port}")
        assert listed.returncode == 0, listed.stderr
        assert all(f"group {g} leader=" in listed.stdout for g in range(1, GROUPS + 1))
        writer = Writer(list(cluster.nodes.values()))
        writer.start()
        more_writes(writer)
        with cluster.nodes[1].client() as r:
            assert r.execute_command("SESHAT.MEMBER", "FACTOR", "5") == 1
        assert all(v == set(NODES) for v in wait_factor(cluster, 5).values())
        more_writes(writer)
        with cluster.nodes[4].client() as r:
            assert r.execute_command("SESHAT.MEMBER", "FACTOR", "3") == 1
        wait_factor(cluster, 3)
        more_writes(writer)
        writer.stop()
        check_everything_acked(writer, list(cluster.nodes.values()))
        for node in cluster.nodes.values():
            with node.client() as r:
                assert r.mget(keys) == [k + b"!" for k in keys]
    except BaseException:
        for node in cluster.nodes.values():
            print(*log_tail(f"node {node.node_id}", node.log_path), sep="\n")
        raise
    finally:
        cluster.stop()
