"""Pipelines that mix reads and writes, on a real 3-node cluster: every reply is the one
the commands would get run one at a time, in order, on the leader and through a follower
(reads behind writes join them: commands/behind_writes.py, docs/raft.md)."""

from __future__ import annotations

import pytest
from harness import ClusterFactory, MemberProcess

pytestmark = pytest.mark.integration

PAIRS = 2_000


def _mixed(member: MemberProcess, prefix: str) -> None:
    with member.client() as client:
        pipe = client.pipeline(transaction=False)
        expected: list[object] = []
        for i in range(PAIRS):
            key = f"{prefix}:{i % 50}"  # keys rewritten many times in one pipeline
            pipe.set(key, f"v{i}")
            pipe.get(key)
            pipe.ping()
            expected += [True, f"v{i}".encode(), True]
        # A counter read between its increments, and a value read between overwrites.
        pipe.incr(f"{prefix}:n")
        pipe.get(f"{prefix}:n")
        pipe.incr(f"{prefix}:n")
        pipe.mget(f"{prefix}:n", f"{prefix}:0", f"{prefix}:missing")
        pipe.exists(f"{prefix}:n", f"{prefix}:missing")
        pipe.delete(f"{prefix}:n")
        pipe.get(f"{prefix}:n")
        expected += [1, b"1", 2, [b"2", f"v{PAIRS - 50}".encode(), None], 1, 1, None]
        assert pipe.execute() == expected


def test_mixed_pipeline_replies_in_order_on_the_leader_and_through_a_follower(
    make_cluster: ClusterFactory,
) -> None:
    cluster = make_cluster()
    leader = cluster.leader()
    follower = cluster.followers(leader)[0]
    _mixed(leader, "lead")
    _mixed(follower, "fol")
    # Every node applied the same data: a read on each sees the last values.
    for member in cluster.nodes.values():
        assert member.client().get(f"lead:{(PAIRS - 1) % 50}") == f"v{PAIRS - 1}".encode()
