"""Three nodes, three data groups: every node routes every key, keyspace-wide commands see
every group, and the leaders spread over the nodes, also after a node dies and comes back."""

from __future__ import annotations

import signal

import pytest
from harness import ClusterProcesses, MemberProcess, wait_for

from seshat_trio.slots import key_slot
from seshat_trio.system.placement import preferred_leader

pytestmark = pytest.mark.integration

GROUPS = (1, 2, 3)


def group_of(key: str) -> int:
    return key_slot(key.encode()) * 3 // 16384 + 1


def leaders(member: MemberProcess) -> dict[int, int]:
    """Group -> the leader `member` reports (0: none known)."""
    info = member.raft_info()
    return {g: int(info[f"group{g}_leader_id"]) for g in GROUPS}  # type: ignore[call-overload]


def spread(cluster: ClusterProcesses) -> dict[int, int] | None:
    """Group -> leader when every live node agrees and each leads exactly one group."""
    views = [leaders(m) for m in cluster.live()]
    if any(view != views[0] for view in views) or 0 in views[0].values():
        return None
    return views[0] if sorted(views[0].values()) == sorted(cluster.nodes) else None


def test_three_groups_route_keys_and_keep_leaders_spread(make_cluster: object) -> None:
    cluster: ClusterProcesses = make_cluster("--data-groups", "3")  # type: ignore[operator]
    # Elections may spread the leaders by chance before the balancer settles them on the
    # preferred ones (groups rotate over the voters in id order).
    preferred = {g: preferred_leader(g, sorted(cluster.nodes)) for g in GROUPS}
    first = wait_for(
        "the balancer's spread, one group each",
        lambda: spread(cluster) if spread(cluster) == preferred else None,
        30.0,
    )
    keys = [f"key:{i}" for i in range(300)]
    # Slots 0-5460 are group 1's, 5461-10922 group 2's, the rest group 3's.
    assert {group_of(k) for k in keys} == set(GROUPS)
    node1, node2, node3 = (cluster.nodes[i] for i in (1, 2, 3))
    with node1.client() as r:
        for key in keys:
            assert r.set(key, key.upper()) is True
        assert r.mget(keys[:50]) == [k.upper().encode() for k in keys[:50]]
        assert r.exists(*keys[:40]) == 40
    for member in (node2, node3):
        with member.client() as r:
            assert r.get(keys[7]) == b"KEY:7"
            assert r.dbsize() == 300
            assert sorted(r.keys("key:*")) == sorted(k.encode() for k in keys)
            assert sorted(r.scan_iter("key:*", count=25)) == sorted(k.encode() for k in keys)
            assert r.randomkey() in {k.encode() for k in keys}
    with node2.client() as r:
        assert r.delete(*keys[:100]) == 100
        assert r.dbsize() == 200
        pipe = r.pipeline(transaction=True)
        pipe.set("{user:1}:name", "ann").set("{user:1}:mail", "ann@example")
        assert pipe.execute() == [True, True]
        source = keys[100]
        target = next(k for k in keys if group_of(k) != group_of(source))
        with pytest.raises(Exception, match="hash to the same slot"):
            r.rename(source, target)
        assert r.flushall() is True
        assert r.dbsize() == 0

    # Kill a node: its group elects elsewhere and keeps serving; after it restarts and has
    # caught up, the balancer gives its group back.
    victim = cluster.nodes[first[2]]
    victim.signal(signal.SIGKILL)
    victim.wait()
    survivor = next(m for m in cluster.live())
    wait_for(
        "group 2 elects another leader",
        lambda: leaders(survivor)[2] not in (0, victim.node_id),
        15.0,
    )
    with survivor.client() as r:
        for key in keys[:30]:
            assert r.set(key, "again") is True
    victim.start()
    again = wait_for("the leaders spread again after the restart", lambda: spread(cluster), 30.0)
    assert again == first
    with victim.client() as r:
        assert r.mget(keys[:30]) == [b"again"] * 30
