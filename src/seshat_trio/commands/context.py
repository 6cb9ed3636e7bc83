"""What a command handler may touch: its client's connection state, the backend, the clients.

`Backend` is the node service as commands see it, `GroupBackend` one data group of it (the
dispatcher routes each command to one: commands/routing.py); `ClientRegistry` is the
listener's view of its connections (CLIENT LIST / KILL).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

import attrs

from seshat_trio.acl.users import ClientAuth, UserDirectory
from seshat_trio.config import Config
from seshat_trio.kv.operations import Operation
from seshat_trio.protocol import Reply
from seshat_trio.storage import EVERY_ELEMENT, Span, StoredValue
from seshat_trio.tunables import Tunables

if TYPE_CHECKING:
    from seshat_trio.blocking.waiters import Waiter, Waiters
    from seshat_trio.membership.admin import MembershipAdmin
    from seshat_trio.pubsub.client import ClientPubSub
    from seshat_trio.pubsub.hub import PubSubHub
    from seshat_trio.scripting.node import NodeScripting
    from seshat_trio.system.topology import ClusterTopology


class ClientIds:
    """A node's client id sequence (CLIENT ID, CLIENT LIST): one per node, shared by its RESP
    listener and its forwarded-request executor so that ids never repeat on the node."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    def take(self) -> int:
        return next(self._ids)


@attrs.define(slots=True)
class ClientState:
    """Per-connection state (CLIENT SETNAME, HELLO, QUIT, MULTI, WATCH)."""

    id: int
    addr: str
    name: bytes = b""
    protocol: int = 2
    closing: bool = False
    # Executing a request a follower forwarded: never forward it again.
    forwarded: bool = False
    # MULTI: the queued commands (None outside a transaction) and whether one was refused.
    queued: list[list[bytes]] | None = None
    queue_failed: bool = False
    # WATCH: key -> fingerprint of the value observed (see kv/multi.py).
    watched: dict[bytes, bytes] = attrs.field(factory=dict)
    # For CLIENT LIST: monotonic seconds at connect and at the last command, and its name.
    connected_at: float = attrs.field(factory=time.monotonic)
    last_active: float = attrs.field(factory=time.monotonic)
    last_command: str = "NULL"
    # Its user and what it may run; trusted (unchecked) unless the listener gives it a
    # session: a forwarded request was checked on the node its client talks to.
    auth: ClientAuth = attrs.field(factory=ClientAuth.trusted)
    # Subscriptions (pubsub/client.py); None where no connection can receive messages.
    pubsub: ClientPubSub | None = None
    # CLIENT REPLY: OFF drops every reply but pushes; SKIP drops the next command's
    # (commands/clients.py; the dispatcher applies it).
    reply_off: bool = False
    reply_skip: int = 0
    # Returns once the client is gone (closed, killed, the node stopping): a blocked command
    # stops waiting then; None where there is no connection to watch.
    wait_closed: Callable[[], Awaitable[None]] | None = None
    # READONLY (commands/cluster.py): in moved mode, read other leaders' keys here.
    readonly: bool = False
    # Connected to the TLS port: cluster replies and -MOVED name TLS ports.
    tls: bool = False
    # Its wait while in a blocking command (BLPOP, ...): the `b` flag, CLIENT UNBLOCK.
    blocked: Waiter | None = None

    def end_transaction(self) -> None:
        self.queued = None
        self.queue_failed = False
        self.watched.clear()


class GroupBackend(Protocol):
    """One data group as commands see it (implemented in seshat_trio.node.group_service)."""

    @property
    def group(self) -> int: ...

    @property
    def hosted(self) -> bool:
        """True when this node replicates the group (votes in it); otherwise every command
        of the group is forwarded to a replica (node/remote_group.py)."""
        ...

    def submit(self, op: Operation) -> Awaitable[tuple[Reply, ...]]:
        """Start replicating `op` now (so pipelined writes batch); await the replies later,
        under a deadline of the caller's (the wait itself has none).

        Raises NotLeaderError when this node cannot propose (the caller forwards)."""
        ...

    def propose_nowait(self, op: Operation) -> None:
        """Propose `op` if this node leads, without waiting for (or reporting) its outcome."""
        ...

    async def leader_is_local(self) -> bool:
        """Wait until a leader is known; True when it is this node (NOLEADER otherwise)."""
        ...

    def is_leader(self) -> bool:
        """True when this node currently leads the group (no waiting)."""
        ...

    def leader_is_remote(self) -> bool:
        """True when another node is known to lead: a write here would only be refused and
        forwarded, so the caller forwards it at once (no waiting)."""
        ...

    def leader_address(self, tls: bool = False) -> str | None:
        """The client address (host:port) of the group's leader, if known; with `tls`, the
        one a TLS client reaches (its TLS port when it has one)."""
        ...

    async def forward(
        self, commands: Sequence[Sequence[bytes]], protocol: int, *, alone: bool = False
    ) -> bytes:
        """Have the leader execute `commands`; returns their RESP-encoded replies. Runs of
        writes may travel merged with other connections' runs; `alone` keeps a read apart."""
        ...

    async def read_barrier(self) -> None:
        """Return once applied state reflects every write acknowledged before the call."""
        ...

    def get(self, key: bytes) -> StoredValue | None:
        """The stored value of `key` in applied state, expired or not."""
        ...

    def items(self, start: int = 0) -> Iterator[tuple[bytes, StoredValue]]:
        """Stored (key, value) pairs of applied state from position `start` on, in position
        order (storage.position)."""
        ...

    def element(self, key: bytes, version: int, suffix: bytes) -> bytes | None:
        """One element record of the collection (key, version) in applied state."""
        ...

    def elements(
        self, key: bytes, version: int, span: Span = EVERY_ELEMENT
    ) -> Iterator[tuple[bytes, bytes]]:
        """(suffix, element) pairs of (key, version) with start <= suffix < stop."""
        ...

    def key_count(self) -> int: ...

    def due_expiries(self, now_ms: int, limit: int) -> list[bytes]:
        """Up to `limit` applied keys whose expiry is at or before `now_ms`."""
        ...


class Backend(Protocol):
    """The node service as commands see it (implemented in seshat_trio.node)."""

    def group_for_slot(self, slot: int) -> GroupBackend | None:
        """The group serving `slot` (`hosted` or not); None while the shard map is not
        known yet (see `wait_for_map`)."""
        ...

    def local_group(self, group: int) -> GroupBackend | None:
        """Data group `group` (its backend is not `hosted` when this node has no replica)."""
        ...

    def data_groups(self) -> Sequence[GroupBackend]:
        """Every data group of the cluster, by group id (`hosted` or not)."""
        ...

    async def wait_for_map(self) -> None:
        """Return once the shard map is known (ServiceError after the request timeout)."""
        ...

    def topology(self) -> ClusterTopology | None:
        """The cluster as CLUSTER SLOTS describes it; None while the map is not known."""
        ...

    def now_ms(self) -> int:
        """Wall-clock milliseconds for a new operation (only ever used where writes start)."""
        ...

    def save(self) -> None:
        """Make every applied write durable (a synced write); records the save time."""
        ...

    def last_save(self) -> int:
        """Unix time in seconds of the last save (the start time before any)."""
        ...

    def info_sections(self) -> dict[str, list[tuple[str, str]]]:
        """Node-level INFO fields by section name (server, clients, keyspace, ...)."""
        ...

    @property
    def users(self) -> UserDirectory:
        """This node's view of the cluster's ACL users (and its ACL LOG)."""
        ...

    async def change_system(self, op: bytes, command: Sequence[bytes], *, forwarded: bool) -> Reply:
        """Apply `op` through the system group and return its reply: proposed here when
        this node leads group 0, else `command` (which proposes the same operation) runs on
        its leader. A `forwarded` command is never sent on again (TRYAGAIN)."""
        ...

    async def system_read_barrier(self) -> None:
        """Return once this node applied everything group 0 committed before the call."""
        ...

    @property
    def scripting(self) -> NodeScripting:
        """This node's function libraries and running script."""
        ...

    @property
    def waiters(self) -> Waiters:
        """This node's clients blocked on keys (seshat_trio.blocking)."""
        ...

    @property
    def membership(self) -> MembershipAdmin | None:
        """The membership admin view (SESHAT.MEMBER); None where there is none."""
        ...


class ClientRegistry(Protocol):
    """The connected clients of this node (the RESP listener implements it)."""

    def clients(self) -> list[ClientState]: ...

    def kill(self, client_id: int) -> bool:
        """Close the connection of `client_id` after its current request; False if unknown."""
        ...


@attrs.define(slots=True)
class CommandContext:
    client: ClientState
    backend: Backend
    config: Config
    # None: a context with no listener behind it (a forwarded request): only `client`.
    registry: ClientRegistry | None = None
    # The node's pub/sub (None in contexts without one) and its CONFIG SET-able settings.
    pubsub: PubSubHub | None = None
    tunables: Tunables = attrs.field(factory=Tunables)
    # A forwarded request: the data group its sender routed it to.
    routed_group: int | None = None
    # The data group the running command addresses (set by the dispatcher before it runs;
    # None for a command that addresses none).
    group: GroupBackend | None = None
    # The groups whose read barrier already covers the reads still to run in this read.
    fresh_barriers: set[int] = attrs.field(factory=set)

    def data_group(self) -> GroupBackend:
        """The group of a data command (the dispatcher routed it: never None there)."""
        assert self.group is not None, "a data command ran without a routed group"
        return self.group

    async def read_barrier(self) -> None:
        """Make reads linearizable, sharing one barrier per group across a pipeline's reads.

        Every command of one client read was invoked before the first barrier started, so
        that barrier covers them all; the dispatcher clears `fresh_barriers` at each new
        client read and after each write (a follower may not have applied it yet)."""
        group = self.group
        assert group is not None, "a data command ran without a routed group"
        if group.group not in self.fresh_barriers:
            await group.read_barrier()
            self.fresh_barriers.add(group.group)
