"""A data group this node does not replicate, as commands see it: everything is forwarded.

With a replication factor below the member count (system/placement.py) a node serves keys
of groups it holds no replica of. Such a group's commands, reads and writes alike, travel
as one forwarded request to one of the group's replicas (the shard map's placement), which
executes them as if its own client had sent them: a leader runs everything, a follower
answers reads after its read barrier and refuses writes with "moved while forwarded" (not
applied). This node never sees the group's Raft traffic, so it does not know its leader:
it starts with the group's preferred leader (where the balancer keeps leadership), tries
the next replica after a refusal or an unreachable one, and remembers the replica that ran
everything. Same outcome rules as `GroupService.forward`: an error only when nothing was
applied, an unknown outcome once the request may have run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence

import trio

from seshat_trio.errors import NotLeaderError, OutcomeUnknownError, ServiceError
from seshat_trio.kv.operations import Operation
from seshat_trio.node.group_service import Forwarding, moved_suffix
from seshat_trio.protocol import Reply
from seshat_trio.storage import EVERY_ELEMENT, Span, StoredValue
from seshat_trio.system.placement import preferred_leader

# After every replica refused (an election in progress), wait this long before the next round.
RETRY_S = 0.05
NOT_HOSTED = "ERR data group {group} has no replica on this node (the command was forwarded)"


class RemoteGroup:
    """The command layer's `GroupBackend` for a data group with no replica on this node."""

    hosted = False

    def __init__(
        self,
        group: int,
        *,
        node_id: int,
        replicas: Callable[[], Sequence[int]],
        forwarding: Forwarding,
        timeout_s: float,
    ) -> None:
        self.group = group
        self._node_id = node_id
        self._replicas = replicas
        self._forwarding = forwarding
        self._timeout_s = timeout_s
        self._hint: int | None = None  # the replica that last ran a whole request

    def targets(self) -> list[int]:
        """The replicas to try, in order: the last one that answered, the preferred leader,
        then the others in id order."""
        replicas = sorted(n for n in self._replicas() if n != self._node_id)
        first = [self._hint, preferred_leader(self.group, replicas)]
        ordered = [n for n in first if n is not None and n in replicas]
        return list(dict.fromkeys([*ordered, *replicas]))

    def leader_address(self, tls: bool = False) -> str | None:
        """The client address of the replica most likely to lead (`redirect = moved`)."""
        targets = self.targets()
        return self._forwarding.client_address_of(targets[0], tls) if targets else None

    # -- writes: never proposed here -----------------------------------------------------
    def submit(self, op: Operation) -> Awaitable[tuple[Reply, ...]]:
        raise NotLeaderError(None)

    def propose_nowait(self, op: Operation) -> None:
        """Nothing to do: the group's leader expires its keys itself."""

    async def leader_is_local(self) -> bool:
        return False

    def is_leader(self) -> bool:
        return False

    def leader_is_remote(self) -> bool:
        return True

    async def forward(
        self, commands: Sequence[Sequence[bytes]], protocol: int, *, alone: bool = False
    ) -> bytes:
        """Have a replica of the group execute `commands`; their RESP-encoded replies."""
        deadline = trio.current_time() + self._timeout_s
        done, ran = b"", 0
        with trio.move_on_at(deadline):
            while True:
                for target in self.targets():
                    request = self._forwarding.request(commands[ran:], protocol, self.group)
                    remaining = max(0.0, deadline - trio.current_time())
                    sent = self._forwarding.send(target, request, remaining)
                    payload = await self._forwarding.settled(target, sent, self._timeout_s)
                    if payload is None:
                        continue  # not delivered: the next replica
                    moved = moved_suffix(len(commands) - ran, payload)
                    if moved is None:
                        self._hint = target
                        return done + payload
                    done += payload[: moved[1]]
                    ran += moved[0]
                await trio.sleep(RETRY_S)
        raise OutcomeUnknownError.deadline_passed(self._timeout_s)

    # -- reads: the dispatcher forwards them, so none of these is ever called ------------
    async def read_barrier(self) -> None:
        raise ServiceError(NOT_HOSTED.format(group=self.group))

    def get(self, key: bytes) -> StoredValue | None:
        raise ServiceError(NOT_HOSTED.format(group=self.group))

    def items(self, start: int = 0) -> Iterator[tuple[bytes, StoredValue]]:
        raise ServiceError(NOT_HOSTED.format(group=self.group))

    def element(self, key: bytes, version: int, suffix: bytes) -> bytes | None:
        raise ServiceError(NOT_HOSTED.format(group=self.group))

    def elements(
        self, key: bytes, version: int, span: Span = EVERY_ELEMENT
    ) -> Iterator[tuple[bytes, bytes]]:
        raise ServiceError(NOT_HOSTED.format(group=self.group))

    def key_count(self) -> int:
        return 0

    def due_expiries(self, now_ms: int, limit: int) -> list[bytes]:
        return []
