"""One data group as this node's commands see it: submit or forward writes, read barriers,
applied state.

A write is proposed to the group's driver when this node leads the group; otherwise the
command layer forwards it (`forward`) to the group's leader, which executes it exactly as if
its own client had sent it. Every request has a deadline (`limits.request_timeout_ms`).
Outcomes follow one rule: a write is reported as failed only when it certainly was not
applied; once it may have reached a log, a lost leader or a passed deadline is reported as
an unknown outcome, never as a failure.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from typing import Any

import trio

from seshat_trio.config import Address, Config
from seshat_trio.errors import (
    MOVED_WHILE_FORWARDED,
    LeaderIsLocalError,
    NotLeaderError,
    OutcomeUnknownError,
    ServiceError,
)
from seshat_trio.kv.operations import Operation, encode_operation
from seshat_trio.kv.state_machine import KvStateMachine
from seshat_trio.node.forward_batcher import ForwardBatcher
from seshat_trio.protocol import Reply, split_replies
from seshat_trio.raft import NotLeader, Role
from seshat_trio.replication.driver import RaftGroupDriver
from seshat_trio.storage import EVERY_ELEMENT, Span, StoredValue
from seshat_trio.transport import ForwardFailed, ForwardRequest, PeerUnavailable, Transport

# The reply to a forwarded command the receiver no longer led for: not applied, so the
# sender waits for the new leader and sends it again.
_MOVED = b"-" + MOVED_WHILE_FORWARDED.encode() + b"\r\n"
NO_LEADER = (
    "NOLEADER no leader was reachable within {timeout:g} s (this node may be cut off from a "
    "quorum); the write was not applied"
)


class Forwarding:
    """What every data group of a node shares to reach other nodes' leaders."""

    def __init__(
        self,
        config: Config,
        transport: Transport,
        peer_client_address: Callable[[int, bool], str | None],
    ) -> None:
        self.transport = transport
        self._peer_client_address = peer_client_address
        self._node_id = config.node.id
        plain = config.node.client_addr
        self._own = {
            False: str(plain),
            True: str(Address(plain.host, config.tls.tls_port or plain.port)),
        }
        self.request_ids = itertools.count(1)
        self.batcher = ForwardBatcher(
            transport.forward,
            self.request_ids,
            max_value_bytes=config.limits.max_value_bytes,
        )

    def client_address_of(self, node_id: int, tls: bool = False) -> str | None:
        """The client address (host:port) of `node_id`, this node included; with `tls`, the
        TLS client port when that node has one (a TLS client can reach it there), else its
        plain one. None while a peer's handshake has not told it yet."""
        if node_id == self._node_id:
            return self._own[tls]
        return self._peer_client_address(node_id, tls)

    def request(
        self, commands: Sequence[Sequence[bytes]], protocol: int, group: int
    ) -> ForwardRequest:
        return ForwardRequest(
            next(self.request_ids), protocol, tuple(tuple(c) for c in commands), group
        )

    async def send(self, leader: int, request: ForwardRequest, timeout: float) -> bytes:
        return (await self.transport.forward(leader, request, timeout)).payload

    async def settled(self, leader: int, sent: Awaitable[bytes], timeout_s: float) -> bytes | None:
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
            raise OutcomeUnknownError.deadline_passed(timeout_s) from None
        except ForwardFailed as exc:
            raise ServiceError(f"ERR the leader could not execute the request: {exc}") from None


async def read_barrier(driver: RaftGroupDriver, timeout_s: float) -> None:
    """ReadIndex through `driver`'s group, retried until `timeout_s`: a read has no side
    effects, so riding out an election is always safe. The driver fails a read still
    waiting at the deadline, so a read confirmed at the first try (nearly all of them)
    runs under no cancel scope of its own."""
    deadline = trio.current_time() + timeout_s
    while True:
        try:
            await driver.read_barrier(deadline)
        except ServiceError as exc:
            failure = exc.message
        else:
            return
        with trio.move_on_at(deadline) as waited:
            await driver.wait_changed()
        if waited.cancelled_caught:
            raise ServiceError(
                f"TIMEOUT the read could not be confirmed within {timeout_s:g} s ({failure})"
            )


class GroupService:
    """The command layer's `GroupBackend` for one data group this node replicates."""

    def __init__(
        self,
        *,
        config: Config,
        driver: RaftGroupDriver,
        machine: KvStateMachine,
        forwarding: Forwarding,
    ) -> None:
        self.group = driver.group
        self.driver = driver
        self.machine = machine
        self._node_id = config.node.id
        self._forwarding = forwarding
        self._timeout_s = config.limits.request_timeout_s

    # -- writes --------------------------------------------------------------------------
    def submit(self, op: Operation) -> Awaitable[tuple[Reply, ...]]:
        """Propose `op` now; raises NotLeaderError when this node does not lead, or is
        handing leadership over (`leader_is_local` then waits for the outcome). The caller
        bounds the wait (one deadline per client read, not one cancel scope per write)."""
        if self.driver.transferee is not None:
            raise NotLeaderError(self.driver.leader_id)
        try:
            return self.driver.propose(encode_operation(op))
        except NotLeader as exc:
            raise NotLeaderError(exc.leader_id) from None

    def propose_nowait(self, op: Operation) -> None:
        """Propose `op` if this node leads; nobody waits for it (lazy expiry's deletions)."""
        # Not leading (or handing over): the next leader expires the keys itself.
        with contextlib.suppress(NotLeader, ServiceError):
            self.driver.propose(encode_operation(op))

    async def leader_is_local(self) -> bool:
        """Wait (up to the request timeout) until the group has a leader that is not handing
        leadership over (the balancer's transfers take a round trip); True when it is this
        node. Raises NOLEADER when none emerges: nothing was proposed."""
        driver = self.driver
        leader = driver.leader_id
        if leader is not None and driver.transferee is None:  # the common case: no scope
            return leader == self._node_id
        with trio.move_on_after(self._timeout_s):
            while driver.leader_id is None or driver.transferee is not None:
                await driver.wait_changed()
            return driver.leader_id == self._node_id
        raise ServiceError(NO_LEADER.format(timeout=self._timeout_s))

    def is_leader(self) -> bool:
        return self.driver.role is Role.LEADER

    def leader_is_remote(self) -> bool:
        leader = self.driver.leader_id
        return leader is not None and leader != self._node_id

    def leader_address(self, tls: bool = False) -> str | None:
        leader = self.driver.leader_id
        return None if leader is None else self._forwarding.client_address_of(leader, tls)

    async def forward(
        self, commands: Sequence[Sequence[bytes]], protocol: int, *, alone: bool = False
    ) -> bytes:
        """Have the group's leader execute `commands`; returns their RESP-encoded replies.

        A leader that lost leadership while running them answers the rest "moved while
        forwarded" (not applied): those are sent again to the next leader. Raises
        LeaderIsLocalError (with the replies of the commands that ran) when leadership
        comes here instead."""
        deadline = trio.current_time() + self._timeout_s
        done = b""
        ran = 0
        with trio.move_on_at(deadline):
            while True:
                try:
                    payload = await self._forward_once(commands[ran:], protocol, alone, deadline)
                except LeaderIsLocalError:
                    raise LeaderIsLocalError(done, ran) from None
                moved_at = moved_suffix(len(commands) - ran, payload)
                if moved_at is None:
                    return done + payload
                done += payload[: moved_at[1]]
                ran += moved_at[0]
                await self.driver.wait_changed()  # the next leader, then the rest again
        raise OutcomeUnknownError.deadline_passed(self._timeout_s)

    async def _forward_once(
        self, commands: Sequence[Sequence[bytes]], protocol: int, alone: bool, deadline: float
    ) -> bytes:
        """One delivery of `commands` to the leader (waiting for one if needed)."""
        leader = self.driver.leader_id
        if leader is not None and leader != self._node_id:
            # The common case, with no cancel scope of its own (the transport bounds the
            # wait); merged with the other connections' runs of this scheduler pass.
            if alone:
                sent = self._forwarding.send(
                    leader, self._request(commands, protocol), self._timeout_s
                )
            else:
                sent = self._forwarding.batcher.forward(
                    leader, self.group, commands, protocol, self._timeout_s
                )
            payload = await self._forwarding.settled(leader, sent, self._timeout_s)
            if payload is not None:
                return payload
            await self.driver.wait_changed()  # not sent: wait for news, then retry
        request = self._request(commands, protocol)
        while True:
            if await self.leader_is_local():
                # Leadership moved here and no leader ran the commands: the caller
                # proposes them here.
                raise LeaderIsLocalError(b"", 0)
            leader = self.driver.leader_id
            assert leader is not None
            # Never negative: news may wake this task just before the deadline fires.
            remaining = max(0.0, deadline - trio.current_time())
            payload = await self._forwarding.settled(
                leader, self._forwarding.send(leader, request, remaining), self._timeout_s
            )
            if payload is not None:
                return payload
            await self.driver.wait_changed()

    def _request(self, commands: Sequence[Sequence[bytes]], protocol: int) -> ForwardRequest:
        return self._forwarding.request(commands, protocol, self.group)

    @property
    def hosted(self) -> bool:
        """This node votes in the group (a learner catching up, or a replica placement
        moved away, is not one yet or any more: the router forwards its commands)."""
        driver = self.driver
        return self._node_id in driver.membership.voters and not driver.removed

    # -- reads ---------------------------------------------------------------------------
    def read_barrier(self) -> Coroutine[Any, Any, None]:
        # The coroutine itself, not one awaiting it: a frame less per read to start and,
        # once confirmed, to resume (every GET comes through here).
        return read_barrier(self.driver, self._timeout_s)

    def get(self, key: bytes) -> StoredValue | None:
        return self.machine.get(key)

    def items(self, start: int = 0) -> Iterator[tuple[bytes, StoredValue]]:
        return self.machine.items(start)

    def element(self, key: bytes, version: int, suffix: bytes) -> bytes | None:
        return self.machine.element(key, version, suffix)

    def elements(
        self, key: bytes, version: int, span: Span = EVERY_ELEMENT
    ) -> Iterator[tuple[bytes, bytes]]:
        return self.machine.elements(key, version, span)

    def key_count(self) -> int:
        return self.machine.key_count

    def due_expiries(self, now_ms: int, limit: int) -> list[bytes]:
        return self.machine.due_expiries(now_ms, limit)


def moved_suffix(count: int, payload: bytes) -> tuple[int, int] | None:
    """(commands, payload bytes) that ran before a suffix of `count` replies that are all
    "moved while forwarded"; None when there is no such suffix."""
    if not payload.endswith(_MOVED):
        return None
    try:
        replies = split_replies(payload, [1] * count)
    except ValueError:
        return None
    ran = count
    while ran and replies[ran - 1] == _MOVED:
        ran -= 1
    if ran == count:
        return None
    return ran, sum(len(reply) for reply in replies[:ran])
