"""The node service: what the command layer calls to route, describe and save the node.

Each data group this node replicates is a `GroupService` (node/group_service.py), reached
through the `GroupRouter` (node/groups.py): writes and reads address a group; INFO, SAVE
and the clock are the node's. The service's own task sends the forwarded requests of all
groups (merged per leader and group, see forward_batcher).
"""

from __future__ import annotations

import contextlib
import os
import platform
import sys
import time
from collections.abc import Sequence

import trio

from seshat_trio import __version__
from seshat_trio.acl.users import UserDirectory
from seshat_trio.blocking.waiters import Waiters
from seshat_trio.config import Address, Config
from seshat_trio.errors import OutcomeUnknownError, ServiceError
from seshat_trio.membership.admin import MembershipAdmin, member_fields
from seshat_trio.node.group_service import Forwarding, GroupService, read_barrier
from seshat_trio.node.groups import GroupRouter
from seshat_trio.node.remote_group import RemoteGroup
from seshat_trio.node.stats import NodeStats
from seshat_trio.protocol import RawReplies, Reply
from seshat_trio.raft import NotLeader, Role
from seshat_trio.replication.driver import GroupStatus, RaftGroupDriver
from seshat_trio.scripting.node import NodeScripting
from seshat_trio.storage import Store, WriteBatch
from seshat_trio.system.topology import ClusterTopology, NodeEndpoint, ShardView, node_name
from seshat_trio.transport import NO_DATA_GROUP, PeerState

REDIS_VERSION = "7.0.0"


class NodeService:
    def __init__(
        self,
        *,
        config: Config,
        router: GroupRouter,
        system: RaftGroupDriver,
        forwarding: Forwarding,
        store: Store,
        stats: NodeStats,
        users: UserDirectory,
        scripting: NodeScripting,
    ) -> None:
        self._config = config
        self.users = users
        self.scripting = scripting
        self.router = router
        self._system = system
        self._forwarding = forwarding
        self._store = store
        self.stats = stats
        self._timeout_s = config.limits.request_timeout_s
        # LASTSAVE before any SAVE: the start time, as Redis reports after loading.
        self._last_save = int(time.time())
        # SESHAT.MEMBER's view of the cluster (the runner sets it).
        self.membership: MembershipAdmin | None = None
        # Clients blocked on keys; the runner makes every data group's machine wake them.
        self.waiters = Waiters()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The service's own task: it sends forwarded requests (merged, see forward_batcher)."""
        await self._forwarding.batcher.run(task_status=task_status)

    # -- routing -------------------------------------------------------------------------
    def group_for_slot(self, slot: int) -> GroupService | RemoteGroup | None:
        return self.router.for_slot(slot)

    def local_group(self, group: int) -> GroupService | RemoteGroup | None:
        return self.router.group(group)

    def data_groups(self) -> Sequence[GroupService | RemoteGroup]:
        return self.router.groups

    async def wait_for_map(self) -> None:
        await self.router.wait_for_map()

    def topology(self) -> ClusterTopology | None:
        """The shard map with each group's leader and voters as this node knows them, and
        the members' client addresses (system/topology.py)."""
        shard_map = self.router.shard_map
        if shard_map is None:
            return None
        me = self._config.node
        shards = []
        for placement in shard_map.groups:
            ranges = tuple(
                (r.first_slot, r.last_slot) for r in shard_map.ranges if r.group == placement.group
            )
            local = self.router.group(placement.group)
            if not isinstance(local, GroupService):
                # Not a voter here: the replica the router sends its commands to first.
                guess = local.targets()[:1] if isinstance(local, RemoteGroup) else []
                leader = guess[0] if guess else None
                shards.append(ShardView(placement.group, ranges, leader, placement.replicas, {}))
                continue
            status = local.driver.status()
            offsets = {peer: progress.match for peer, progress in status.peers.items()}
            offsets[me.id] = status.applied
            shards.append(
                ShardView(placement.group, ranges, status.leader_id, status.voters, offsets)
            )
        nodes = {
            me.id: NodeEndpoint(me.client_addr.host, me.client_addr.port,
                                me.internal_addr.port, True, self._config.tls.tls_port)
        }  # fmt: skip
        peers = self._forwarding.transport.peer_states()
        for node_id in sorted({v for shard in shards for v in shard.voters} - {me.id}):
            state = peers.get(node_id)
            if state is None or state.client_addr is None:
                continue
            try:
                client = Address.parse(state.client_addr)
            except ValueError:
                continue
            nodes[node_id] = NodeEndpoint(
                client.host,
                client.port,
                state.address.port,
                state.connected,
                state.client_tls_port,
            )
        return ClusterTopology(me.id, shard_map.version, tuple(shards), nodes)

    # -- the system group ----------------------------------------------------------------
    async def change_system(self, op: bytes, command: Sequence[bytes], *, forwarded: bool) -> Reply:
        """Propose `op` to group 0 here when this node leads it; otherwise have its leader
        run `command` (which proposes the same operation there) and wait until this node
        applied it too. Same outcome rules as a write: TRYAGAIN when certainly not applied,
        an unknown outcome otherwise."""
        system = self._system
        forwarding = self._forwarding
        deadline = trio.current_time() + self._timeout_s
        with trio.move_on_at(deadline):
            while True:
                leader = system.leader_id
                if leader == self._config.node.id:
                    with contextlib.suppress(NotLeader):  # lost it just now: wait for news
                        (reply,) = await system.propose(op)
                        return reply
                elif forwarded:
                    raise ServiceError(
                        "TRYAGAIN leadership of the system group moved while the request "
                        "was forwarded; it was not applied"
                    )
                elif leader is not None:
                    # Its replies (OK, a count, an error) read the same in RESP2 and RESP3.
                    request = forwarding.request([command], 2, NO_DATA_GROUP)
                    remaining = max(0.0, deadline - trio.current_time())
                    payload = await forwarding.settled(
                        leader, forwarding.send(leader, request, remaining), self._timeout_s
                    )
                    if payload is not None:
                        # Read-your-writes: the change is applied here too before the
                        # client hears of it (an AUTH or ACL SETUSER that follows on this
                        # node sees it). If this node cannot confirm that in time, the
                        # change still happened: say so rather than fail.
                        with contextlib.suppress(ServiceError):
                            await self.system_read_barrier()
                        return RawReplies(payload, 1)
                await system.wait_changed()
        raise OutcomeUnknownError.deadline_passed(self._timeout_s)

    async def system_read_barrier(self) -> None:
        await read_barrier(self._system, self._timeout_s)

    # -- node-wide -----------------------------------------------------------------------
    def save(self) -> None:
        """Make every applied write of every group durable: one synced write."""
        self._store.write(WriteBatch(), sync=True)
        self._last_save = int(time.time())

    def last_save(self) -> int:
        return self._last_save

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    # -- INFO ----------------------------------------------------------------------------
    def info_sections(self) -> dict[str, list[tuple[str, str]]]:
        node = self._config.node
        uptime = int(time.monotonic() - self.stats.started_at)
        groups = self.router.hosted()
        keys = sum(group.machine.key_count for group in groups)
        expires = sum(len(group.machine.expiries) for group in groups)
        # Raft fields for every group this node is a member of (voters and learners).
        me = self._config.node.id
        statuses = [
            g.driver.status() for g in self.router.local if me in g.driver.membership.members
        ]
        return {
            "server": [
                ("redis_version", REDIS_VERSION),
                ("seshat_version", __version__),
                ("redis_mode", "cluster"),
                ("os", f"{platform.system()} {platform.release()} {platform.machine()}"),
                ("arch_bits", "64" if sys.maxsize > 2**32 else "32"),
                ("multiplexing_api", "trio"),
                ("python_version", platform.python_version()),
                ("process_id", str(os.getpid())),
                ("run_id", node_name(node.id)),
                ("tcp_port", str(node.client_addr.port)),
                ("uptime_in_seconds", str(uptime)),
                ("uptime_in_days", str(uptime // 86400)),
                ("executable", sys.executable),
            ],
            "clients": [
                ("connected_clients", str(self.stats.connected_clients)),
                ("maxclients", str(self._config.limits.max_clients)),
                ("blocked_clients", str(len(self.waiters))),
                ("total_blocking_keys", str(self.waiters.key_count)),  # as Redis 7.2
            ],
            "persistence": [("loading", "0"), ("aof_enabled", "1")],
            "stats": [
                ("total_connections_received", str(self.stats.total_connections_received)),
                ("total_commands_processed", str(self.stats.total_commands_processed)),
                ("rejected_connections", str(self.stats.rejected_connections)),
                ("protocol_errors", str(self.stats.protocol_errors)),
                *self._acl_fields(),
                (
                    "client_output_buffer_limit_disconnections",
                    str(self.stats.output_limit_disconnections),
                ),
            ],
            "replication": [
                # A primary of some slots: it leads at least one data group.
                ("role", "master" if any(s.role is Role.LEADER for s in statuses) else "slave"),
                ("connected_slaves", "0"),
            ],
            "keyspace": ([("db0", f"keys={keys},expires={expires},avg_ttl=0")] if keys else []),
            "cluster": [("cluster_enabled", "1")],
            "raft": self._raft_fields(statuses, self._system.status()),
        }

    def _acl_fields(self) -> list[tuple[str, str]]:
        """Redis 7.0's ACL counters (this node's clients)."""
        denied = self.users.log.denied
        return [
            (f"acl_access_denied_{name}", str(denied[reason]))
            for name, reason in (("auth", "auth"), ("cmd", "command"), ("key", "key"),
                                 ("channel", "channel"))
        ]  # fmt: skip

    def _raft_fields(self, data: list[GroupStatus], system: GroupStatus) -> list[tuple[str, str]]:
        """`system_*` fields for group 0, `group<g>_*` for each data group, then the peers
        (with each data group's replication match for the groups this node leads)."""
        fields: list[tuple[str, str]] = [
            ("node_id", str(self._config.node.id)),
            ("data_groups", ",".join(str(status.group) for status in data)),
        ]
        named = [("system", system)] + [(f"group{status.group}", status) for status in data]
        for name, status in named:
            leader = status.leader_id
            fields += [
                (f"{name}_group", str(status.group)),
                (f"{name}_role", status.role.name.lower()),
                (f"{name}_term", str(status.term)),
                (f"{name}_leader_id", str(leader or 0)),
                (f"{name}_leader_addr", self._leader_address(leader)),
                (f"{name}_commit_index", str(status.commit)),
                (f"{name}_applied_index", str(status.applied)),
                (f"{name}_first_log_index", str(status.first_index)),
                (f"{name}_last_log_index", str(status.last_index)),
                (f"{name}_snapshot_index", str(status.snapshot_index)),
                (f"{name}_voters", ",".join(map(str, status.voters))),
            ]
            fields += member_fields(name, status)
        peers = self._forwarding.transport.peer_states()
        for peer_id, state in sorted(peers.items()):
            matches = [
                f"{status.group}/{status.peers[peer_id].match}"
                for status in data
                if peer_id in status.peers
            ]
            fields.append((f"peer{peer_id}", _peer_line(state, ";".join(matches) or "-")))
        return fields

    def _leader_address(self, leader: int | None) -> str:
        if leader is None:
            return ""
        return self._forwarding.client_address_of(leader) or ""


def _peer_line(state: PeerState, match: str) -> str:
    return (
        f"address={state.address},connected={int(state.connected)},match_index={match},"
        f"queue={state.queue_frames},dropped={state.dropped},reconnects={state.reconnects}"
    )
