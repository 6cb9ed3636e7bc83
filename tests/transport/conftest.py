"""Fixture `net`: transports on 127.0.0.1 ephemeral ports, polling waits, message builders.

Helpers are reached through the fixture (tests import only from seshat_trio).
"""

import random
from collections.abc import Awaitable, Callable, Mapping

import attrs
import pytest
import trio

from seshat_trio.config.model import Address
from seshat_trio.transport import (
    ClusterSecrets,
    ForwardReply,
    ForwardRequest,
    PeerMessage,
    Transport,
    TransportLimits,
)

LOCAL = Address("127.0.0.1", 0)
FAST = TransportLimits(backoff_initial=0.01, backoff_max=0.2, handshake_timeout=1.0)


async def echo_forward(sender: int, request: ForwardRequest) -> ForwardReply:
    return ForwardReply(request.request_id, b"from %d" % sender)


@attrs.define
class Node:
    transport: Transport
    scope: trio.CancelScope
    received: list[PeerMessage] = attrs.Factory(list)

    @property
    def address(self) -> Address:
        return self.transport.listen_address

    def stop(self) -> None:
        self.scope.cancel()


@attrs.define
class Net:
    nursery: trio.Nursery

    async def start_node(
        self,
        node_id: int,
        *,
        listen: Address = LOCAL,
        peers: Mapping[int, Address] | None = None,
        on_forward: Callable[[int, ForwardRequest], Awaitable[ForwardReply]] = echo_forward,
        limits: TransportLimits = FAST,
        client_addr: str = "",
        client_tls_port: int = 0,
        secrets: ClusterSecrets = ClusterSecrets.none(),  # noqa: B008 (frozen)
        coalesce_raft: bool = False,
    ) -> Node:
        received: list[PeerMessage] = []
        transport = Transport(
            node_id,
            listen,
            peers or {},
            received.append,
            on_forward,
            limits=limits,
            rng=random.Random(node_id),
            client_addr=client_addr,
            client_tls_port=client_tls_port,
            secrets=secrets,
            coalesce_raft=coalesce_raft,
        )
        scope = trio.CancelScope()

        async def run(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            with scope:
                await transport.run(task_status=task_status)

        await self.nursery.start(run)
        return Node(transport, scope, received)

    async def start_cluster(self, ids: list[int], **kwargs: object) -> dict[int, Node]:
        """Nodes on ephemeral ports, then every node told every other's bound address."""
        nodes = {i: await self.start_node(i, **kwargs) for i in ids}  # type: ignore[arg-type]
        for i, node in nodes.items():
            node.transport.update_peers({j: n.address for j, n in nodes.items() if j != i})
        return nodes

    @staticmethod
    async def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        with trio.fail_after(timeout):
            while not predicate():
                await trio.sleep(0.005)


@pytest.fixture
def net(nursery: trio.Nursery) -> Net:
    return Net(nursery)
