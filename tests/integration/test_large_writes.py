"""A write too large for one log entry is refused where it arrives, and the cluster goes on.

Before the limit, a ~20 MB MSET was appended to the leader's log, could not be replicated
(it exceeds the 16 MiB node-to-node frame) and could not even be read back from the log
(8 MiB decode bound): the leader stopped and every later write stalled. Now such a request
is refused by its size before its data is read (limits.max_request_bytes), and one whose
arguments fit a request but whose log entry would not is refused as a write.
"""

from __future__ import annotations

import pytest
import redis
from harness import ClusterFactory

pytestmark = pytest.mark.integration


def test_a_huge_mset_is_refused_on_every_node_and_nothing_stalls(
    make_cluster: ClusterFactory,
) -> None:
    cluster = make_cluster()
    leader = cluster.leader()
    members = [leader, *cluster.followers(leader)]
    mapping = {f"big-{i}": b"x" * 65_000 for i in range(300)}  # ~19.5 MB
    many = {f"k{i:05}": b"z" * 135 for i in range(30_000)}  # 4.23 MB of arguments
    for member in members:
        # The node answers at the header and closes: the client may still be writing.
        with pytest.raises((redis.ResponseError, redis.ConnectionError)) as refused:
            member.client().mset(mapping)
        if isinstance(refused.value, redis.ResponseError):
            assert "request too large" in str(refused.value)
        with pytest.raises(redis.ResponseError, match=r"write too large \(\d+ bytes; max"):
            member.client().mset(many)
    for i, member in enumerate(members):
        assert member.client().set(f"after-{i}", "ok") is True
    for member in members:
        client = member.client()
        assert client.exists("big-0") == 0
        assert [client.get(f"after-{i}") for i in range(3)] == [b"ok"] * 3
    # The largest write that is allowed still goes through, from a follower too.
    fits = {f"fits-{i}": b"y" * 65_000 for i in range(60)}  # ~3.9 MB
    assert members[1].client().mset(fits) is True
    assert members[2].client().strlen("fits-59") == 65_000
