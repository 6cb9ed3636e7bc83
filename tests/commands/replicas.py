"""A two-node, in-process stand-in for the cluster, for command-layer tests and experiments.

`Replicas` holds a leader and a follower, each with its own real `KvStateMachine` over its
own LevelDB store. A write proposed on the leader is applied on both at the next index (as
a committed entry would be); the follower refuses writes and forwards, as the node service
does, to the leader's `ForwardedExecutor`. Each node has its own clock, so a test can skew
one. The system group is one shared state: a change proposed on the leader (the follower
forwards it there) is applied and every node's users follow it, as subscribers do (or, with
`users_lag`, the follower's only at its next system read barrier).
`Client.call` runs one command through `execute` and decodes the RESP bytes with hiredis,
so forwarded replies and local ones are compared alike (errors come back as ErrorReply).
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterator, Sequence
from typing import Self

import hiredis

from seshat_trio.acl.replicated import encode_seed, users_of
from seshat_trio.acl.rules import DEFAULT_USER, User
from seshat_trio.acl.users import UserDirectory
from seshat_trio.blocking.waiters import Waiters
from seshat_trio.commands.context import ClientIds, ClientState, CommandContext
from seshat_trio.commands.dispatch import execute
from seshat_trio.commands.permissions import catalog
from seshat_trio.config import Config
from seshat_trio.errors import NotLeaderError
from seshat_trio.kv.operations import Operation, encode_operation
from seshat_trio.kv.state_machine import KvStateMachine
from seshat_trio.protocol import ErrorReply, RawReplies, Reply, encode_replies
from seshat_trio.scripting.node import NodeScripting
from seshat_trio.server.forwarded import ForwardedExecutor
from seshat_trio.storage import EVERY_ELEMENT, Span, Store, StoredValue
from seshat_trio.system.registry import (
    OperationRefused,
    SystemState,
    apply_operation,
    decode_operation,
)
from seshat_trio.transport import ForwardRequest
from seshat_trio.transport.limits import TransportLimits

GROUP = 1
CLIENT_IDS = ClientIds()
T0 = 1_700_000_000_000


class OneDataGroup:
    """A test backend that is its node's one data group too (GroupBackend and Backend at
    once)."""

    group = 1
    hosted = True

    def group_for_slot(self, slot: int) -> Self:
        return self

    def local_group(self, group: int) -> Self | None:
        return self if group == self.group else None

    def data_groups(self) -> list[Self]:
        return [self]

    async def wait_for_map(self) -> None:
        pass


class NodeBackend(OneDataGroup):
    """One node: a real state machine; the leader replicates to every node in `replicas`."""

    def __init__(self, replicas: Replicas, machine: KvStateMachine, leading: bool) -> None:
        self.replicas = replicas
        self.machine = machine
        self.leading = leading
        self.clock_ms = T0
        self.saves = 0
        self.nowait: list[Operation] = []
        self.forwarded: list[list[list[bytes]]] = []
        self.forwarded_alone: list[bool] = []  # per forward: kept out of merged requests
        self.users = UserDirectory(catalog(), {DEFAULT_USER.name: DEFAULT_USER})
        self.unapplied_users: dict[bytes, User] | None = None  # see Replicas.users_lag
        self.scripting = NodeScripting()
        self.waiters = Waiters()
        machine.listener = self.waiters

    async def _done(self, replies: tuple[Reply, ...]) -> tuple[Reply, ...]:
        return replies

    def submit(self, op: Operation) -> Awaitable[tuple[Reply, ...]]:
        if not self.leading:
            raise NotLeaderError(1)
        return self._done(self.replicas.replicate(op))

    def propose_nowait(self, op: Operation) -> None:
        if self.leading:
            self.nowait.append(op)
            self.replicas.replicate(op)

    async def leader_is_local(self) -> bool:
        return self.leading

    def is_leader(self) -> bool:
        return self.leading

    def leader_is_remote(self) -> bool:
        return not self.leading

    async def forward(
        self, commands: Sequence[Sequence[bytes]], protocol: int, *, alone: bool = False
    ) -> bytes:
        self.forwarded.append([list(c) for c in commands])
        self.forwarded_alone.append(alone)
        replicas = self.replicas
        executor = ForwardedExecutor(
            replicas.config, replicas.leader, CLIENT_IDS, replicas.max_forward_payload_bytes
        )
        request = ForwardRequest(0, protocol, tuple(tuple(c) for c in commands), GROUP)
        return (await executor(2, request)).payload

    async def read_barrier(self) -> None:
        pass

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

    def now_ms(self) -> int:
        return self.clock_ms

    def save(self) -> None:
        self.saves += 1

    def last_save(self) -> int:
        return T0 // 1000 + self.saves

    def info_sections(self) -> dict[str, list[tuple[str, str]]]:
        return {"server": [("redis_version", "7.0.0")]}

    async def change_system(self, op: bytes, command: Sequence[bytes], *, forwarded: bool) -> Reply:
        if self.leading:
            return self.replicas.apply_system(op)
        return RawReplies(await self.forward([command], 2), 1)

    async def system_read_barrier(self) -> None:
        if self.unapplied_users is not None:
            self.users.replace(self.unapplied_users)
            self.unapplied_users = None


class Replicas:
    def __init__(self, stores: list[Store], config: Config) -> None:
        self.config = config
        self.index = 0
        self.max_forward_payload_bytes = TransportLimits().max_forward_payload_bytes
        machines = [KvStateMachine(store, GROUP) for store in stores]
        self.nodes = [NodeBackend(self, m, leading=i == 0) for i, m in enumerate(machines)]
        self.leader, self.follower = self.nodes
        self.system = SystemState()
        # When set, the follower applies user changes only at its next system read barrier
        # (as a node that has not applied group 0's latest commit yet).
        self.users_lag = False
        self.apply_system(encode_seed({DEFAULT_USER.name: DEFAULT_USER}))

    def apply_system(self, op: bytes) -> Reply:
        try:
            self.system, changed, reply = apply_operation(self.system, decode_operation(op))
        except OperationRefused as exc:
            return ErrorReply(str(exc))
        users = users_of(self.system)
        assert users is not None
        for node in self.nodes:
            if self.users_lag and node is not self.leader:
                node.unapplied_users = users
            else:
                node.users.replace(users)
            node.scripting.functions(self.system, frozenset(changed))
        return reply

    def replicate(self, op: Operation) -> tuple[Reply, ...]:
        self.index += 1
        data = encode_operation(op)
        results = [node.machine.apply([(self.index, data)]) for node in self.nodes]
        # Determinism: every node answers alike and ends in the same state.
        assert all(result[0].replies == results[0][0].replies for result in results)
        assert len({tuple(node.machine.items()) for node in self.nodes}) == 1
        return results[0][0].replies

    def advance(self, ms: int) -> None:
        for node in self.nodes:
            node.clock_ms += ms


class Client:
    def __init__(self, backend: NodeBackend, config: Config) -> None:
        self.backend = backend
        client = ClientState(id=CLIENT_IDS.take(), addr="127.0.0.1:1", auth=backend.users.session())
        self.ctx = CommandContext(client, backend, config)
        self._reader = hiredis.Reader()

    async def call(self, *args: str | bytes | int) -> object:
        (reply,) = await self.pipeline([args])
        return reply

    async def pipeline(self, commands: Sequence[Sequence[str | bytes | int]]) -> list[object]:
        argvs = [[a if isinstance(a, bytes) else str(a).encode() for a in c] for c in commands]
        replies = await execute(self.ctx, argvs)
        self._reader.feed(encode_replies(replies, self.ctx.client.protocol))
        decoded: list[object] = []
        while (value := self._reader.gets()) is not False:
            decoded.append(_plain(value))
        return decoded


def _plain(value: object) -> object:
    """hiredis's reply with every error (nested ones too) as an ErrorReply."""
    if isinstance(value, hiredis.ReplyError):
        return ErrorReply(str(value))
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def clients(replicas: Replicas, blocked_on: str) -> tuple[Client, Client]:
    """A client of the node `blocked_on` names and one of the other node."""
    here, there = replicas.leader, replicas.follower
    if blocked_on == "follower":
        here, there = there, here
    return Client(here, replicas.config), Client(there, replicas.config)
