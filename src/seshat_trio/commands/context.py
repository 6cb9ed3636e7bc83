"""What a command handler may touch: its client's connection state and the backend."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Sequence
from typing import Protocol

import attrs

from seshat_trio.config import Config
from seshat_trio.kv.operations import Operation
from seshat_trio.protocol import Reply
from seshat_trio.storage import StoredValue

_client_ids = itertools.count(1)


def next_client_id() -> int:
    return next(_client_ids)


@attrs.define(slots=True)
class ClientState:
    """Per-connection state (CLIENT SETNAME, HELLO, QUIT)."""

    id: int
    addr: str
    name: bytes = b""
    protocol: int = 2
    closing: bool = False
    # Executing a request a follower forwarded: never forward it again.
    forwarded: bool = False


class Backend(Protocol):
    """The node service as commands see it (implemented in seshat_trio.node)."""

    def submit(self, op: Operation) -> Awaitable[tuple[Reply, ...]]:
        """Start replicating `op` now (so pipelined writes batch); await the replies later.

        Raises NotLeaderError when this node cannot propose (the caller forwards)."""
        ...

    async def leader_is_local(self) -> bool:
        """Wait until a leader is known; True when it is this node (NOLEADER otherwise)."""
        ...

    async def forward(self, commands: Sequence[Sequence[bytes]], protocol: int) -> bytes:
        """Have the leader execute `commands`; returns their RESP-encoded replies."""
        ...

    async def read_barrier(self) -> None:
        """Return once applied state reflects every write acknowledged before the call."""
        ...

    def get(self, key: bytes) -> StoredValue | None: ...

    def key_count(self) -> int: ...

    def now_ms(self) -> int:
        """Wall-clock milliseconds for a new operation (only ever used where writes start)."""
        ...

    def info_sections(self) -> dict[str, list[tuple[str, str]]]:
        """Node-level INFO fields by section name (server, clients, keyspace, ...)."""
        ...


@attrs.define(slots=True)
class CommandContext:
    client: ClientState
    backend: Backend
    config: Config
