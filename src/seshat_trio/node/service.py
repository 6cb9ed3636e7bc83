"""The node service: what the command layer calls to write, read and describe the node.

Writes are proposed to the data group when this node leads it; otherwise the command layer
forwards them (`forward`) to the leader, which executes them exactly as if its own client
had sent them. Every request has a deadline (`limits.request_timeout_ms`). Outcomes follow
one rule: a write is reported as failed only when it certainly was not applied; once it
may have reached a log, a lost leader or a passed deadline is reported as an unknown
outcome, never as a failure.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import platform
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence

import trio

from seshat_trio import __version__
from seshat_trio.acl.users import UserDirectory
from seshat_trio.config import Config, Redirect
from seshat_trio.errors import NotLeaderError, OutcomeUnknownError, ServiceError
from seshat_trio.kv.operations import Operation, encode_operation
from seshat_trio.kv.state_machine import KvStateMachine
from seshat_trio.node.forward_batcher import ForwardBatcher
from seshat_trio.node.stats import NodeStats
from seshat_trio.protocol import RawReplies, Reply
from seshat_trio.raft import NotLeader, Role
from seshat_trio.replication.driver import GroupStatus, RaftGroupDriver
from seshat_trio.storage import EVERY_ELEMENT, Span, StoredValue
from seshat_trio.transport import (
    ForwardFailed,
    ForwardRequest,
    PeerState,
    PeerUnavailable,
    Transport,
)

REDIS_VERSION = "7.0.0"
NO_LEADER = (
    "NOLEADER no leader was reachable within {timeout:g} s (this node may be cut off from a "
    "quorum); the write was not applied"
)


class NodeService:
    def __init__(
        self,
        *,
        config: Config,
        data: RaftGroupDriver,
        machine: KvStateMachine,
        system: RaftGroupDriver,
        transport: Transport,
        stats: NodeStats,
        client_address_of: Callable[[int], str | None],
        users: UserDirectory,
    ) -> None:
        self._config = config
        self.users = users
        self._data = data
        self._machine = machine
        self._system = system
        self._transport = transport
        self.stats = stats
        self._client_address_of = client_address_of
        self._timeout_s = config.limits.request_timeout_s
        self._request_ids = itertools.count(1)
        self._batcher = ForwardBatcher(
            transport.forward,
            self._request_ids,
            max_batch_commands=config.limits.max_forward_commands,
        )
        # LASTSAVE before any SAVE: the start time, as Redis reports after loading.
        self._last_save = int(time.time())

    # -- writes --------------------------------------------------------------------------
    def submit(self, op: Operation) -> Awaitable[tuple[Reply, ...]]:
        """Propose `op` now; raises NotLeaderError when this node does not lead. The caller
        bounds the wait (one deadline per client read, not one cancel scope per write)."""
        try:
            return self._data.propose(encode_operation(op))
        except NotLeader as exc:
            raise NotLeaderError(exc.leader_id) from None

    def propose_nowait(self, op: Operation) -> None:
        """Propose `op` if this node leads; nobody waits for it (lazy expiry's deletions)."""
        # Not leading (or handing over): the next leader expires the keys itself.
        with contextlib.suppress(NotLeader, ServiceError):
            self._data.propose(encode_operation(op))

    async def leader_is_local(self) -> bool:
        """Wait (up to the request timeout) until the data group has a leader; True when it
        is this node. Raises NOLEADER when none emerges: nothing was proposed."""
        leader = self._data.leader_id
        if leader is not None:  # the common case, on every forwarded write: no cancel scope
            return leader == self._config.node.id
        with trio.move_on_after(self._timeout_s):
            while self._data.leader_id is None:
                await self._data.wait_changed()
            return self._data.leader_id == self._config.node.id
        raise ServiceError(NO_LEADER.format(timeout=self._timeout_s))

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The service's own task: it sends forwarded requests (merged, see forward_batcher)."""
        await self._batcher.run(task_status=task_status)

    def is_leader(self) -> bool:
        return self._data.role is Role.LEADER

    def leader_is_remote(self) -> bool:
        leader = self._data.leader_id
        return leader is not None and leader != self._config.node.id

    async def forward(
        self, commands: Sequence[Sequence[bytes]], protocol: int, *, alone: bool = False
    ) -> bytes:
        """Have the leader execute `commands`; returns their RESP-encoded replies."""
        deadline = trio.current_time() + self._timeout_s
        leader = self._data.leader_id
        not_sent = False
        if (
            leader is not None
            and leader != self._config.node.id
            and self._config.cluster.redirect is Redirect.FORWARD
        ):
            # The common case, with no cancel scope of its own (the transport bounds the
            # wait); merged with the other connections' runs of this scheduler pass.
            if alone:
                sent = self._forward_payload(
                    leader, self._request(commands, protocol), self._timeout_s
                )
            else:
                sent = self._batcher.forward(leader, commands, protocol, self._timeout_s)
            payload = await self._settled(leader, sent)
            if payload is not None:
                return payload
            not_sent = True
        request = self._request(commands, protocol)
        with trio.move_on_at(deadline):
            while True:
                if not_sent:
                    await self._data.wait_changed()  # wait for news, then retry
                    not_sent = False
                if await self.leader_is_local():
                    # Leadership moved here after the writes were refused locally; none of
                    # them was proposed, so a plain retry is safe.
                    raise ServiceError(
                        "TRYAGAIN leadership moved to this node during the request; "
                        "it was not applied"
                    )
                leader = self._data.leader_id
                assert leader is not None
                if self._config.cluster.redirect is Redirect.MOVED:
                    address = self._client_address_of(leader)
                    if address is not None:
                        raise ServiceError(f"MOVED 0 {address}")
                # Never negative: news may wake this task just before the deadline fires.
                remaining = max(0.0, deadline - trio.current_time())
                payload = await self._settled(
                    leader, self._forward_payload(leader, request, remaining)
                )
                if payload is not None:
                    return payload
                not_sent = True
        raise OutcomeUnknownError.deadline_passed(self._timeout_s)

    def _request(self, commands: Sequence[Sequence[bytes]], protocol: int) -> ForwardRequest:
        return ForwardRequest(next(self._request_ids), protocol, tuple(tuple(c) for c in commands))

    async def _forward_payload(self, leader: int, request: ForwardRequest, timeout: float) -> bytes:
        return (await self._transport.forward(leader, request, timeout)).payload

    async def _settled(self, leader: int, sent: Awaitable[bytes]) -> bytes | None:
        """The leader's encoded replies; None when the request was certainly not sent."""
        try:
            return await sent
        except PeerUnavailable as exc:
            if exc.maybe_delivered:
                raise OutcomeUnknownError(
                    f"TIMEOUT the connection to the leader (node {leader}) broke after "
                    "the request was sent; a write in it may or may not have been applied"
                ) from None
            return None
        except trio.TooSlowError:
            raise OutcomeUnknownError.deadline_passed(self._timeout_s) from None
        except ForwardFailed as exc:
            raise ServiceError(f"ERR the leader could not execute the request: {exc}") from None

    # -- the system group ----------------------------------------------------------------
    async def change_system(self, op: bytes, command: Sequence[bytes], *, forwarded: bool) -> Reply:
        """Propose `op` to group 0 here when this node leads it; otherwise have its leader
        run `command` (which proposes the same operation there). Same outcome rules as a
        write: TRYAGAIN when certainly not applied, an unknown outcome otherwise."""
        system = self._system
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
                    request = self._request([command], 2)
                    remaining = max(0.0, deadline - trio.current_time())
                    payload = await self._settled(
                        leader, self._forward_payload(leader, request, remaining)
                    )
                    if payload is not None:
                        return RawReplies(payload, 1)
                await system.wait_changed()
        raise OutcomeUnknownError.deadline_passed(self._timeout_s)

    async def system_read_barrier(self) -> None:
        await self._barrier(self._system)

    # -- reads ---------------------------------------------------------------------------
    async def read_barrier(self) -> None:
        """ReadIndex through the data group, retried until the request deadline: a read
        has no side effects, so riding out an election is always safe."""
        await self._barrier(self._data)

    async def _barrier(self, group: RaftGroupDriver) -> None:
        failure = "no leader was elected"
        with trio.move_on_after(self._timeout_s):
            while True:
                try:
                    await group.read_barrier()
                except ServiceError as exc:
                    failure = exc.message
                    await group.wait_changed()
                else:
                    return
        raise ServiceError(
            f"TIMEOUT the read could not be confirmed within {self._timeout_s:g} s ({failure})"
        )

    def get(self, key: bytes) -> StoredValue | None:
        return self._machine.get(key)

    def items(self, start: int = 0) -> Iterator[tuple[bytes, StoredValue]]:
        return self._machine.items(start)

    def element(self, key: bytes, version: int, suffix: bytes) -> bytes | None:
        return self._machine.element(key, version, suffix)

    def elements(
        self, key: bytes, version: int, span: Span = EVERY_ELEMENT
    ) -> Iterator[tuple[bytes, bytes]]:
        return self._machine.elements(key, version, span)

    def key_count(self) -> int:
        return self._machine.key_count

    def due_expiries(self, now_ms: int, limit: int) -> list[bytes]:
        return self._machine.due_expiries(now_ms, limit)

    def save(self) -> None:
        self._machine.make_durable()
        self._last_save = int(time.time())

    def last_save(self) -> int:
        return self._last_save

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    # -- INFO ----------------------------------------------------------------------------
    def info_sections(self) -> dict[str, list[tuple[str, str]]]:
        node = self._config.node
        uptime = int(time.monotonic() - self.stats.started_at)
        keys = self._machine.key_count
        data = self._data.status()
        return {
            "server": [
                ("redis_version", REDIS_VERSION),
                ("seshat_version", __version__),
                ("redis_mode", "standalone"),
                ("os", f"{platform.system()} {platform.release()} {platform.machine()}"),
                ("arch_bits", "64" if sys.maxsize > 2**32 else "32"),
                ("multiplexing_api", "trio"),
                ("python_version", platform.python_version()),
                ("process_id", str(os.getpid())),
                ("run_id", f"{node.id:040d}"),
                ("tcp_port", str(node.client_addr.port)),
                ("uptime_in_seconds", str(uptime)),
                ("uptime_in_days", str(uptime // 86400)),
                ("executable", sys.executable),
            ],
            "clients": [
                ("connected_clients", str(self.stats.connected_clients)),
                ("maxclients", str(self._config.limits.max_clients)),
                ("blocked_clients", "0"),
            ],
            "persistence": [("loading", "0"), ("aof_enabled", "1")],
            "stats": [
                ("total_connections_received", str(self.stats.total_connections_received)),
                ("total_commands_processed", str(self.stats.total_commands_processed)),
                ("rejected_connections", str(self.stats.rejected_connections)),
                ("protocol_errors", str(self.stats.protocol_errors)),
                (
                    "client_output_buffer_limit_disconnections",
                    str(self.stats.output_limit_disconnections),
                ),
            ],
            "replication": [
                ("role", "master" if data.leader_id == node.id else "slave"),
                ("connected_slaves", "0"),
            ],
            "keyspace": (
                [("db0", f"keys={keys},expires={len(self._machine.expiries)},avg_ttl=0")]
                if keys
                else []
            ),
            "cluster": [("cluster_enabled", "0")],
            "raft": self._raft_fields(data, self._system.status()),
        }

    def _raft_fields(self, data: GroupStatus, system: GroupStatus) -> list[tuple[str, str]]:
        fields: list[tuple[str, str]] = [("node_id", str(self._config.node.id))]
        peers = self._transport.peer_states()
        for name, status in (("data", data), ("system", system)):
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
        for peer_id, state in sorted(peers.items()):
            progress = data.peers.get(peer_id)
            match = str(progress.match) if progress is not None else "-"
            fields.append((f"peer{peer_id}", _peer_line(state, match)))
        return fields

    def _leader_address(self, leader: int | None) -> str:
        if leader is None:
            return ""
        if leader == self._config.node.id:
            return str(self._config.node.client_addr)
        return self._client_address_of(leader) or ""


def _peer_line(state: PeerState, match: str) -> str:
    return (
        f"address={state.address},connected={int(state.connected)},match_index={match},"
        f"queue={state.queue_frames},dropped={state.dropped},reconnects={state.reconnects}"
    )
