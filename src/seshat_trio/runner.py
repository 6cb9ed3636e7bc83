"""The composition root: build one node from its configuration and run it until stopped.

The node is one Trio nursery that owns every task (the supervision tree of
docs/architecture.md): the storage group committer, the transport, the system and data
Raft groups, the system-group bootstrap, the admin HTTP listener (/metrics, /health,
/ready) and the RESP listener with one task per client.
SIGINT/SIGTERM stop it gracefully: stop accepting, hand leadership to a peer, finish
requests in progress, flush, close the store.
"""

from __future__ import annotations

import gc
import random
import signal
import time
from collections.abc import Callable, Mapping, Sequence

import trio

from seshat_trio.acl.replicated import SECTION as ACL_SECTION
from seshat_trio.acl.replicated import encode_seed
from seshat_trio.acl.rules import User
from seshat_trio.acl.seed import SeedError
from seshat_trio.acl.throttle import AuthThrottle
from seshat_trio.acl.users import UserDirectory
from seshat_trio.admin import AdminEndpoints, AdminServer, HttpLimits
from seshat_trio.commands.context import ClientIds
from seshat_trio.commands.expiry import run_active_expiry
from seshat_trio.commands.permissions import catalog
from seshat_trio.config import Address, Config, ReadMode
from seshat_trio.config.secret_file import read_secrets, read_token
from seshat_trio.kv.operations import encode_batch
from seshat_trio.kv.state_machine import KvStateMachine
from seshat_trio.logs import get_logger
from seshat_trio.membership.admin import MembershipAdmin
from seshat_trio.membership.join import join_cluster, report_join_progress
from seshat_trio.membership.peers import PeersFollower
from seshat_trio.membership.reconciler import MembershipReconciler
from seshat_trio.membership.state import retired_of, wanted_voters
from seshat_trio.node.balancer import LeaderBalancer
from seshat_trio.node.group_service import Forwarding, GroupService
from seshat_trio.node.groups import GroupRouter
from seshat_trio.node.memory import trace_memory
from seshat_trio.node.metrics import NodeCollector, node_registry
from seshat_trio.node.remote_group import RemoteGroup
from seshat_trio.node.service import NodeService
from seshat_trio.node.stats import NodeStats
from seshat_trio.node.system_bootstrap import bootstrap_system_group, propose_until_applied
from seshat_trio.node.users import UsersFollower, configured_users
from seshat_trio.pubsub.hub import PubSubHub
from seshat_trio.pubsub.keyspace import KeyspaceNotifier
from seshat_trio.pubsub.replicated import NotifyFollower
from seshat_trio.raft import Membership, RaftConfig
from seshat_trio.replication.commit_publisher import commit_publisher_for
from seshat_trio.replication.driver import DriverSettings, RaftGroupDriver
from seshat_trio.replication.machine import StateMachine
from seshat_trio.replication.ticker import Ticker
from seshat_trio.scripting.node import NodeScripting
from seshat_trio.server.forwarded import ForwardedExecutor
from seshat_trio.server.listener import RespListener
from seshat_trio.server.protected_mode import is_loopback
from seshat_trio.storage import (
    SYSTEM_GROUP,
    GroupCommitter,
    StorageError,
    Store,
    StoreOptions,
    WriteBatch,
)
from seshat_trio.storage.sweep import run_sweep
from seshat_trio.system.layout import ClusterLayout, NodeAddresses, initial_layout, layout_of
from seshat_trio.system.machine import SystemStateMachine
from seshat_trio.transport import (
    ClusterSecrets,
    ForwardReply,
    ForwardRequest,
    PeerMessage,
    Transport,
)
from seshat_trio.tunables import Tunables

log = get_logger(__name__)

# Exit code of a configuration the node cannot run with (as `seshat-trio serve` uses).
CONFIG_ERROR_EXIT = 2
# In-flight requests get this long to finish after a stop signal.
DRAIN_SECONDS = 10.0
HANDOVER_SECONDS = 2.0
# Net allocations of tracked objects between two young-generation collections (Python's
# default is 700). The requests in flight hold about that many objects, which die young:
# at 700 the collector ran every ~70 GETs at `-c 50` and took ~3% of a node's CPU per
# request (docs/performance.md, "Session 13 (lead)"); at this threshold it rarely runs.
YOUNG_COLLECTION_THRESHOLD = 10_000


def run_node(config: Config) -> int:
    """Run a node in the foreground; returns the process exit code."""
    failures: list[BaseException] = []
    # Modules, classes and configuration live as long as the process. Out of the cyclic
    # collector's view, they no longer lengthen every full collection (by ~20 ms here: a
    # latency spike each node otherwise pays every few seconds under load).
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD)  # the older generations keep theirs
    try:
        configured_users(config)  # an aclfile with errors stops the node here, clearly
    except SeedError as exc:
        problems = exc.problems
    else:
        problems = []
    for problem in problems:
        log.error("aclfile_error", error=problem)
    if problems:
        return CONFIG_ERROR_EXIT
    try:
        trio.run(serve_node, config)
    except* StorageError as group:
        failures = _leaves(group)
    for failure in failures:
        # The store refused to open or to write: the message says why (disk full, a store
        # written by a newer version, ...); a traceback would only bury it.
        log.error("storage_error", error=str(failure))
    return 1 if failures else 0


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


def member_addresses(config: Config, layout: ClusterLayout | None) -> dict[int, Address]:
    """Where each member's Raft endpoint is, as this node should dial it.

    Configured initial members win (operators and test harnesses may route each node's
    links differently, e.g. through fault-injecting relays); without them a restarted node
    uses the layout its system group recorded, and a brand-new node stands alone.
    """
    configured = {m.id: m.address for m in config.cluster.initial_members}
    if configured:
        return configured
    if layout is not None:
        return {m.node_id: Address.parse(m.raft_addr) for m in layout.members}
    return {config.node.id: config.node.internal_addr}


def cluster_secrets(config: Config) -> ClusterSecrets:
    """The secrets peers must prove (validated with the configuration)."""
    path = config.cluster.secret_file
    if path is None:
        log.warning(
            "peers_unauthenticated",
            detail="no cluster.secret_file: any process that reaches the internal address "
            "can act as a member (allowed on loopback only)",
        )
        return ClusterSecrets.none()
    return ClusterSecrets(read_secrets(path))


def metrics_token(config: Config) -> bytes | None:
    path = config.node.metrics_token_file
    return None if path is None else read_token(path)


def raft_config(config: Config, group: int) -> RaftConfig:
    raft = config.raft
    return RaftConfig(
        group=group,
        node_id=config.node.id,
        heartbeat_ticks=1,
        election_ticks_min=raft.election_timeout_min_ms // raft.heartbeat_ms,
        election_ticks_max=raft.election_timeout_max_ms // raft.heartbeat_ms,
        max_msg_bytes=raft.max_append_bytes,
        max_inflight_msgs=raft.max_inflight,
        # Lease reads skip the heartbeat round; they rely on check-quorum (on by default)
        # and on clocks drifting less than one heartbeat per election timeout.
        lease_reads=config.cluster.read_mode is ReadMode.LEASE,
    )


def driver_settings(config: Config, *, groups: int = 1) -> DriverSettings:
    """The drivers' settings on a node hosting `groups` data groups."""
    raft = config.raft
    return DriverSettings(
        tick_seconds=raft.heartbeat_ms / 1000,
        snapshot_entries=raft.snapshot_entries,
        snapshot_bytes=raft.snapshot_bytes,
        snapshot_chunk_bytes=raft.snapshot_chunk_bytes,
        one_round_in_flight=groups > 1,
        hold_after_round=1.0 if groups > 1 else 0.0,
    )


async def serve_node(
    config: Config,
    *,
    seeds: Mapping[bytes, User] | None = None,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run until SIGINT/SIGTERM (or cancellation); reports the client port when serving.
    `seeds`: the users a new cluster starts with (by default, from the configuration)."""
    seeds = configured_users(config) if seeds is None else seeds
    config.node.data_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random()
    options = StoreOptions(
        block_cache_bytes=config.storage.block_cache_bytes,
        value_cache_bytes=config.storage.value_cache_bytes,
        write_buffer_bytes=config.storage.write_buffer_bytes,
    )
    with Store.open(config.node.data_dir / "db", options) as store:
        stats = NodeStats(started_at=time.monotonic())
        system_machine = SystemStateMachine(store)
        throttle = AuthThrottle(
            config.auth.max_auth_failures,
            config.auth.auth_failure_window_ms / 1000,
            on_refused=lambda: stats.hit("auth_failures"),
            exempt=is_loopback,
        )
        users = UserDirectory(catalog(), seeds, throttle)
        system_machine.subscribe(UsersFollower(users, seeds))
        stored = layout_of(system_machine.state)
        # Until it holds the cluster's layout, a node started with --join (re)joins: it
        # learns its groups' memberships from their leaders (empty founders).
        joining = config.cluster.join if stored is None else None
        joined = None if joining is None else await join_cluster(config, joining)
        members = joined.members if joined is not None else member_addresses(config, stored)
        # A node with stored state uses its layout; a brand-new one founds the cluster with
        # this one (the first leader of group 0 proposes it) and the same drivers.
        layout = stored or initial_layout(
            (NodeAddresses(i, str(a)) for i, a in sorted(members.items())),
            config.cluster.data_groups,
        )
        drivers: dict[int, RaftGroupDriver] = {}

        def on_message(msg: PeerMessage) -> None:
            driver = drivers.get(msg.group)
            if driver is not None:
                driver.deliver(msg)

        async def on_forward(src: int, request: ForwardRequest) -> ForwardReply:
            # Bound late: the executor needs the service, which needs the transport.
            return await executor(src, request)

        peers = {node_id: addr for node_id, addr in members.items() if node_id != config.node.id}
        data_groups = joined.every_group if joined else layout.shards.group_ids
        # Several groups' Readys woken in one pass share a synced round (group_commit.py).
        committer = GroupCommitter(
            store, on_round=stats.observe_commit_round, gather=len(data_groups) > 1
        )
        transport = Transport(
            config.node.id,
            config.node.internal_addr,
            peers,
            on_message,
            on_forward,
            rng=rng,
            client_addr=str(config.node.client_addr),
            client_tls_port=config.tls.tls_port,
            secrets=cluster_secrets(config),
            # Several groups' rounds end together (one fsync round): their messages to a
            # peer share a frame (transport/raft_batch.py).
            coalesce_raft=len(data_groups) > 1,
        )

        def driver_for(group: int, machine: StateMachine, founders: frozenset[int]) -> None:
            drivers[group] = RaftGroupDriver(
                raft_config=raft_config(config, group),
                store=store,
                committer=committer,
                machine=machine,
                transport=transport,
                initial_membership=Membership(voters=frozenset() if joined else founders),
                settings=driver_settings(config, groups=len(data_groups)),
                rng=rng,
                # Writes of many clients share one data entry; the system group's rare
                # proposals each keep their own.
                merge=None if group == SYSTEM_GROUP else encode_batch,
            )

        driver_for(SYSTEM_GROUP, system_machine, frozenset(members))
        forwarding = Forwarding(config, transport, transport.client_address)
        groups: dict[int, GroupService] = {}
        # A driver for every data group: placement may move any of them here later (the
        # group's leader then adds this node as a learner). Only the founders of a brand-new
        # cluster start as voters; any other group is joined empty, as a joining node does.
        for group in data_groups:
            machine = KvStateMachine(store, group)
            # A joining node learns each group's members from its leader: its own
            # --data-groups (read at bootstrap only) need not match the cluster's.
            new = stored is None and not joined
            founders = frozenset(layout.shards.replicas(group)) if new else frozenset()
            driver_for(group, machine, founders if config.node.id in founders else frozenset())
            groups[group] = GroupService(
                config=config, driver=drivers[group], machine=machine, forwarding=forwarding
            )
        timeout_s = config.limits.request_timeout_s

        def remote(group: int, replicas: Callable[[], Sequence[int]]) -> RemoteGroup:
            return RemoteGroup(
                group,
                node_id=config.node.id,
                replicas=replicas,
                forwarding=forwarding,
                timeout_s=timeout_s,
            )

        router = GroupRouter(groups, timeout_s, remote)
        balancer = LeaderBalancer(config.node.id, router.local, transport.is_connected)
        tunables = Tunables.from_config(config.redis)
        scripting = NodeScripting(lambda: tunables.busy_reply_threshold_ms)
        system_machine.subscribe(scripting.functions)
        system_machine.subscribe(router.on_system_state)
        system = drivers[SYSTEM_GROUP]
        service = NodeService(
            config=config,
            router=router,
            system=system,
            forwarding=forwarding,
            store=store,
            stats=stats,
            users=users,
            scripting=scripting,
        )
        client_ids = ClientIds()
        pubsub = PubSubHub(wait_s=config.pubsub.publish_wait_ms / 1000, peers=transport)
        for service_of_group in groups.values():
            # Each event is published once for the cluster, by its group's leader.
            service_of_group.machine.notifier = KeyspaceNotifier(
                tunables, pubsub, service_of_group.is_leader
            )
            service_of_group.machine.listener = service.waiters
        system_machine.subscribe(NotifyFollower(tunables))
        transport.pubsub = pubsub
        executor = ForwardedExecutor(
            config,
            service,
            client_ids,
            transport.limits.max_forward_payload_bytes,
            pubsub=pubsub,
            tunables=tunables,
        )
        listener = RespListener(
            config, service, stats, client_ids, pubsub=pubsub, tunables=tunables
        )
        collector = NodeCollector(
            node_id=config.node.id,
            stats=stats,
            groups=list(drivers.values()),
            peers=transport,
            committer=committer,
            value_cache=store.value_cache,
            leveldb_memory=store.leveldb_memory_bytes,
            acl_denials=users.log.denied,
        )
        admin = AdminServer(
            AdminEndpoints(
                groups=[group.driver for group in groups.values()],
                peers=transport,
                registry=node_registry(collector),
                metrics_token=metrics_token(config),
            ),
            HttpLimits(
                header_timeout=config.node.http_header_timeout_ms / 1000,
                max_connections=config.node.http_max_connections,
            ),
            on_limit=stats.hit,
        )
        peers_follower = PeersFollower(config, transport, lambda: drivers)
        system_machine.subscribe(peers_follower)
        service.membership = MembershipAdmin(
            node_id=config.node.id,
            client_addr=str(config.node.client_addr),
            machine=system_machine,
            groups=lambda: drivers,
            transport=transport,
            tick_ms=config.raft.heartbeat_ms,
        )
        reconciler = MembershipReconciler(
            groups=lambda: drivers,
            wanted=lambda group: wanted_voters(system_machine.state, group),
            retired=lambda: retired_of(system_machine.state),
            live_ticks=config.raft.election_timeout_min_ms // config.raft.heartbeat_ms,
            interval_s=config.raft.heartbeat_ms / 1000,
            after_pass=peers_follower.refresh,
        )
        system_machine.subscribe(reconciler.on_system_state)
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(committer.run)
                nursery.start_soon(run_sweep, store)
                if config.node.memory_trace_s:
                    nursery.start_soon(trace_memory, config.node.memory_trace_s)
                await nursery.start(transport.run)
                for driver in drivers.values():
                    await nursery.start(driver.run)
                # One task ticks every group; one balances the leaders of the data groups.
                nursery.start_soon(
                    Ticker(
                        config.raft.heartbeat_ms / 1000, drivers.values(), transport.coalescing
                    ).run
                )
                nursery.start_soon(commit_publisher_for(drivers.values()).run)
                nursery.start_soon(balancer.run)
                # Up before the RESP listener: /health answers (503) while the node starts.
                http_port = await nursery.start(admin.run, config.node.http_addr)
                if joining is None:
                    nursery.start_soon(bootstrap_system_group, system, system_machine, layout)
                else:
                    nursery.start_soon(
                        report_join_progress, config, joining, joined.groups if joined else ()
                    )
                nursery.start_soon(reconciler.run)
                nursery.start_soon(
                    propose_until_applied,
                    system,
                    system_machine,
                    lambda state: state.section(ACL_SECTION) is not None,
                    encode_seed(seeds),
                    "acl_seed",
                )
                await nursery.start(service.run)
                nursery.start_soon(run_active_expiry, service)
                port = await nursery.start(listener.run)
                log.info("serving", client_port=port, http_port=http_port, voters=sorted(members))
                task_status.started(port)
                async for signum in signals:
                    log.info("stopping", signal=signal.Signals(signum).name)
                    break
                listener.stop()
                # Every group this node leads hands over at once (in one bounded wait).
                async with trio.open_nursery() as handover:
                    for driver in drivers.values():
                        handover.start_soon(driver.hand_over_leadership, HANDOVER_SECONDS)
                with trio.move_on_after(DRAIN_SECONDS):
                    await listener.drained()
                nursery.cancel_scope.cancel()
        # Make every applied write durable before the store closes.
        store.write(WriteBatch(), sync=True)
    log.info("stopped")
