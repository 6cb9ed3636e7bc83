"""The Redis Cluster protocol for cluster-aware clients: CLUSTER, READONLY, READWRITE, ASKING.

Each data group is a shard whose primary is the group's leader (system/topology.py says how
a snapshot of the cluster is taken); replies follow Redis 7.0's formats in RESP2 and RESP3:

- CLUSTER SLOTS: `[first, last, [ip, port, id, {}], replicas...]` per slot range;
  CLUSTER SHARDS: per group, `slots` (flat first/last pairs) and `nodes` (id, port, ip,
  endpoint, role, replication-offset, health); CLUSTER NODES: one line per member, a node
  that leads no group listed as a replica of its first group's leader. A node has one
  role in all three: a leader of any group is a primary only (system/topology.py).
- TLS, as Redis Cluster with `tls-cluster yes`: SLOTS, NODES (and -MOVED, in redirect.py)
  give a client on the TLS port each node's TLS port (a node without one: its plain port)
  and a plain client the plain ports; SHARDS gives both, `port` and `tls-port`.
- CLUSTER INFO: `cluster_state:ok` once the shard map is known and every group has a
  leader; the cluster-bus message counters Redis adds are not reported (there is no bus).
- CLUSTER KEYSLOT, COUNTKEYSINSLOT, GETKEYSINSLOT: the slot's keys come from the local
  replica of its group after a read barrier, so they are current on any node; stored keys
  count as Redis counts them (an expired key not yet deleted is still there).
- READONLY lets this connection read keys of groups led elsewhere from the local replica
  in `redirect = moved` mode (reads are linearizable on every replica, so it only saves
  the redirection); READWRITE undoes it. ASKING answers OK: no slot is ever migrating or
  importing, so it changes nothing.
"""

from __future__ import annotations

import contextlib

from seshat_trio.commands.context import CommandContext
from seshat_trio.commands.table import CommandSpec, register, subcommand, unknown_subcommand
from seshat_trio.errors import ServiceError
from seshat_trio.protocol import ErrorReply, Reply, SimpleString, Verbatim
from seshat_trio.protocol.numbers import parse_ll
from seshat_trio.slots import SLOT_COUNT, key_slot
from seshat_trio.system.topology import ClusterTopology, NodeEndpoint, ShardView, node_name

OK = SimpleString("OK")
NOT_INTEGER = ErrorReply("ERR value is not an integer or out of range")
INVALID_SLOT = ErrorReply("ERR Invalid slot")
INVALID_SLOT_OR_COUNT = ErrorReply("ERR Invalid slot or number of keys")
HELP = [
    "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "COUNTKEYSINSLOT <slot>",
    "    Return the number of keys in <slot>.",
    "GETKEYSINSLOT <slot> <count>",
    "    Return key names stored by current node in a slot.",
    "INFO",
    "    Return information about the cluster.",
    "KEYSLOT <key>",
    "    Return the hash slot for <key>.",
    "MYID",
    "    Return the node id.",
    "NODES",
    "    Return cluster configuration seen by node. Output format:",
    "    <id> <ip:port@bus-port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
    "SHARDS",
    "    Return information about slot range mappings and the nodes that own them.",
    "SLOTS",
    "    Return information about slots range mappings. Each range is made of:",
    "    start, end, master and replicas IP addresses, ports and ids",
    "HELP",
    "    Print this help.",
]


def _node_entry(topology: ClusterTopology, node_id: int, tls: bool) -> list[Reply]:
    node = topology.nodes[node_id]
    metadata: dict[str, Reply] = {}  # Redis 7.0's extra networking metadata: none
    return [node.host, node.client_port(tls), node_name(node_id), metadata]


def cluster_slots(topology: ClusterTopology, tls: bool = False) -> list[Reply]:
    rows: list[tuple[int, list[Reply]]] = []
    for shard in topology.shards:
        primary = topology.primary(shard)
        if primary is None:
            continue  # no voter reachable: the slots are not served (CLUSTER INFO says so)
        # As Redis 7.0: replicas this node sees as failed are left out.
        replicas = [r for r in topology.replicas(shard) if topology.nodes[r].connected]
        nodes = [_node_entry(topology, n, tls) for n in [primary, *replicas]]
        for first, last in shard.ranges:
            rows.append((first, [first, last, *nodes]))
    return [row for _, row in sorted(rows, key=lambda r: r[0])]


def _shard_node(topology: ClusterTopology, shard: ShardView, node_id: int, role: str) -> Reply:
    node = topology.nodes[node_id]
    details: dict[str, Reply] = {"id": node_name(node_id), "port": node.port}
    if node.tls_port:
        details["tls-port"] = node.tls_port
    details |= {
        "ip": node.host,
        "endpoint": node.host,
        "role": role,
        "replication-offset": shard.offsets.get(node_id, 0),
        "health": "online" if node.connected else "failed",
    }
    return details


def cluster_shards(topology: ClusterTopology) -> list[Reply]:
    shards: list[Reply] = []
    for shard in topology.shards:
        primary = topology.primary(shard)
        nodes = [] if primary is None else [_shard_node(topology, shard, primary, "master")]
        nodes += [_shard_node(topology, shard, r, "replica") for r in topology.replicas(shard)]
        slots: list[Reply] = [bound for pair in shard.ranges for bound in pair]
        entry: dict[str, Reply] = {"slots": slots, "nodes": nodes}
        shards.append(entry)
    return shards


def _slot_text(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}-{last}"


def _node_line(topology: ClusterTopology, node_id: int, node: NodeEndpoint, tls: bool) -> str:
    led = topology.led_slots(node_id)
    master = "-"
    role = "master"
    if not led:
        # Redis's model has one role per node: a node leading no group shows as a replica
        # of the first group (by id) it replicates.
        shard = next((s for s in topology.shards if node_id in s.voters), None)
        primary = None if shard is None else topology.primary(shard)
        if primary is not None and primary != node_id:
            role, master = "slave", node_name(primary)
    flags = ",".join(
        [*(["myself"] if node_id == topology.my_id else []), role]
        + ([] if node.connected else ["fail?"])
    )
    link = "connected" if node.connected else "disconnected"
    slots = "".join(f" {_slot_text(first, last)}" for first, last in led)
    return (
        f"{node_name(node_id)} {node.host}:{node.client_port(tls)}@{node.bus_port} {flags} "
        f"{master} "
        f"0 0 {topology.epoch} {link}{slots}\n"
    )


def cluster_nodes(topology: ClusterTopology, tls: bool = False) -> str:
    return "".join(
        _node_line(topology, node_id, node, tls) for node_id, node in sorted(topology.nodes.items())
    )


def cluster_info(topology: ClusterTopology | None) -> str:
    if topology is None:  # the shard map is not known yet: nothing is assigned
        fields = [("cluster_state", "fail"), ("cluster_slots_assigned", 0),
                  ("cluster_slots_ok", 0), ("cluster_slots_pfail", 0),
                  ("cluster_slots_fail", 0), ("cluster_known_nodes", 1), ("cluster_size", 0),
                  ("cluster_current_epoch", 0), ("cluster_my_epoch", 0)]  # fmt: skip
    else:
        ok = topology.slots_ok()
        leaders = {s.leader for s in topology.shards if s.leader is not None}
        fields = [
            ("cluster_state", "ok" if ok == SLOT_COUNT else "fail"),
            ("cluster_slots_assigned", SLOT_COUNT),
            ("cluster_slots_ok", ok),
            ("cluster_slots_pfail", 0),
            ("cluster_slots_fail", SLOT_COUNT - ok),
            ("cluster_known_nodes", len(topology.nodes)),
            ("cluster_size", len(leaders)),
            ("cluster_current_epoch", topology.epoch),
            ("cluster_my_epoch", topology.epoch),
        ]
    return "".join(f"{name}:{value}\r\n" for name, value in fields)


async def _topology(ctx: CommandContext) -> ClusterTopology | ErrorReply:
    try:
        await ctx.backend.wait_for_map()
    except ServiceError as exc:
        return ErrorReply(exc.message)
    topology = ctx.backend.topology()
    assert topology is not None  # the map is known
    return topology


def _slot(arg: bytes) -> int | ErrorReply:
    slot = parse_ll(arg)
    if slot is None:
        return NOT_INTEGER
    return slot


async def _slot_keys(ctx: CommandContext, slot: int, limit: int) -> list[bytes] | ErrorReply:
    """Up to `limit` stored keys of `slot`, from the local replica of its group."""
    backend = ctx.backend
    try:
        group = backend.group_for_slot(slot)
        if group is None:
            await backend.wait_for_map()
            group = backend.group_for_slot(slot)
            assert group is not None
        ctx.group = group
        await ctx.read_barrier()
    except ServiceError as exc:
        return ErrorReply(exc.message)
    keys: list[bytes] = []
    if limit == 0:
        return keys
    # Stored keys sort by (slot, crc32, key): the slot's keys are one run from its start.
    for key, _ in group.items(slot << 32):
        if key_slot(key) != slot:
            break
        keys.append(key)
        if len(keys) == limit:
            break
    return keys


async def cluster(ctx: CommandContext, argv: list[bytes]) -> Reply:
    sub = argv[1].lower()
    if sub == b"keyslot":
        return key_slot(argv[2])
    if sub == b"myid":
        return node_name(ctx.config.node.id)
    if sub == b"help":
        return [SimpleString(line) for line in HELP]
    if sub == b"countkeysinslot":
        slot = _slot(argv[2])
        if isinstance(slot, ErrorReply):
            return slot
        if not 0 <= slot < SLOT_COUNT:
            return INVALID_SLOT
        keys = await _slot_keys(ctx, slot, -1)
        return keys if isinstance(keys, ErrorReply) else len(keys)
    if sub == b"getkeysinslot":
        slot, count = _slot(argv[2]), _slot(argv[3])
        if isinstance(slot, ErrorReply):
            return slot
        if isinstance(count, ErrorReply):
            return count
        if count < 0 or not 0 <= slot < SLOT_COUNT:
            return INVALID_SLOT_OR_COUNT
        return await _slot_keys(ctx, slot, count)
    if sub == b"info":
        with contextlib.suppress(ServiceError):  # not known in time: reported as it is
            await ctx.backend.wait_for_map()
        return Verbatim("txt", cluster_info(ctx.backend.topology()))
    topology = await _topology(ctx)
    if isinstance(topology, ErrorReply):
        return topology
    if sub == b"slots":
        return cluster_slots(topology, ctx.client.tls)
    if sub == b"shards":
        return cluster_shards(topology)
    if sub == b"nodes":
        return Verbatim("txt", cluster_nodes(topology, ctx.client.tls))
    return unknown_subcommand(CLUSTER, argv)  # dispatch checked name and arity


async def readonly(ctx: CommandContext, argv: list[bytes]) -> Reply:
    ctx.client.readonly = True
    return OK


async def readwrite(ctx: CommandContext, argv: list[bytes]) -> Reply:
    ctx.client.readonly = False
    return OK


async def asking(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return OK


_SUB = "stale"
CLUSTER = CommandSpec(
    "cluster",
    -2,
    frozenset(),
    0,
    0,
    0,
    "cluster",
    "A container for Redis Cluster commands.",
    "3.0.0",
    "Depends on subcommand.",
    run=cluster,
    subcommands=(
        subcommand("slots", 2, _SUB),
        subcommand("shards", 2, _SUB),
        subcommand("nodes", 2, _SUB),
        subcommand("info", 2, _SUB),
        subcommand("myid", 2, _SUB),
        subcommand("keyslot", 3, _SUB),
        subcommand("countkeysinslot", 3, _SUB),
        subcommand("getkeysinslot", 4, _SUB),
        subcommand("help", 2, "loading stale"),
    ),
)
_FAST = frozenset({"fast", "loading", "stale"})
_CONNECTION = frozenset({"connection"})  # as Redis lists them
register(
    CLUSTER,
    CommandSpec("readonly", 1, _FAST, 0, 0, 0, "cluster",
                "Enables read-only queries for a connection to a Redis Cluster replica node.",
                "3.0.0", "O(1)", run=readonly, acl_categories=_CONNECTION),
    CommandSpec("readwrite", 1, _FAST, 0, 0, 0, "cluster",
                "Enables read-write queries for a connection to a Redis Cluster replica node.",
                "3.0.0", "O(1)", run=readwrite, acl_categories=_CONNECTION),
    CommandSpec("asking", 1, frozenset({"fast"}), 0, 0, 0, "cluster",
                "Signals that a cluster client is following an -ASK redirect.",
                "3.0.0", "O(1)", run=asking, acl_categories=_CONNECTION),
)  # fmt: skip
