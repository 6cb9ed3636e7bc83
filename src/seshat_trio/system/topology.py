"""The cluster as a cluster-aware client sees it: each data group is a Redis Cluster shard.

A snapshot taken by the node (node/service.py) from the shard map, its replicas' Raft
status and the transport's peer links; the CLUSTER commands (commands/cluster.py) format it.
Rules, so that every reply agrees with every other:
- A group's primary is its leader. While no leader is known (an election), its lowest
  reachable voter stands in, so every slot still names a node (forwarding serves it
  anyway) and CLUSTER INFO reports the group's slots as failed.
- Redis Cluster gives each node one role, and clients (redis-py) type a node by the first
  role they read. So a node that is the primary of any group is listed as a primary only;
  a group's replicas are its other voters that lead no group. A node whose client address
  is not known yet (no transport handshake so far) is left out.
- Node names are 40 characters, as Redis Cluster's: the node id, zero-padded decimal.
- The config epoch is the shard map's version (it only grows).
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs


def node_name(node_id: int) -> str:
    """The 40-character Redis Cluster node name of `node_id` (also INFO's run_id)."""
    return f"{node_id:040d}"


@attrs.frozen(slots=True)
class NodeEndpoint:
    """A member's client address (host, port), its cluster-bus (internal) port, whether
    this node's link to it is up, and its TLS client port (0: it serves no TLS)."""

    host: str
    port: int
    bus_port: int
    connected: bool
    tls_port: int = 0

    def client_port(self, tls: bool) -> int:
        """The port a client reaches it on: a TLS client its TLS port (when it has one), as
        Redis Cluster with tls-cluster answers a TLS client, a plain client its plain one."""
        return self.tls_port if tls and self.tls_port else self.port


@attrs.frozen(slots=True)
class ShardView:
    """One data group: its slot ranges, leader (None: unknown) and voters; `offsets` is
    the replication offset (applied or matched log index) of each voter this node knows."""

    group: int
    ranges: tuple[tuple[int, int], ...]
    leader: int | None
    voters: tuple[int, ...]
    offsets: Mapping[int, int]


@attrs.frozen(slots=True)
class ClusterTopology:
    my_id: int
    epoch: int
    shards: tuple[ShardView, ...]
    nodes: Mapping[int, NodeEndpoint]  # every member with a known client address

    def primary(self, shard: ShardView) -> int | None:
        """The node clients send `shard`'s keys to (see the module rules)."""
        if shard.leader is not None and shard.leader in self.nodes:
            return shard.leader
        reachable = [v for v in shard.voters if v in self.nodes and self.nodes[v].connected]
        return min(reachable, default=None)

    def replicas(self, shard: ShardView) -> list[int]:
        primaries = {self.primary(s) for s in self.shards}
        return [v for v in shard.voters if v not in primaries and v in self.nodes]

    def led_slots(self, node_id: int) -> list[tuple[int, int]]:
        """The slot ranges `node_id` is the primary of, in slot order."""
        return sorted(r for s in self.shards if self.primary(s) == node_id for r in s.ranges)

    def slots_ok(self) -> int:
        """Slots whose group has a known leader."""
        return sum(
            last - first + 1
            for shard in self.shards
            if shard.leader is not None
            for first, last in shard.ranges
        )
