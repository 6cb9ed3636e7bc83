"""A hand-driven peer for the transport tests: it dials a node and completes the handshake
itself, so a test can send the node frames of its choosing, and read back why the node
closed its connections."""

from __future__ import annotations

import pytest
import trio

from seshat_trio.config.model import Address
from seshat_trio.raft import Heartbeat
from seshat_trio.transport import ClusterSecrets, TransportLimits, handshake
from seshat_trio.transport.connection import FramedStream


def heartbeat(src: int, dst: int, context: int = 0) -> Heartbeat:
    return Heartbeat(group=1, src=src, dst=dst, term=1, commit=0, context=context)


async def dial(
    address: Address, sender: int, receiver: int, secrets: ClusterSecrets
) -> FramedStream:
    """Peer `sender`, connected to node `receiver` at `address` through a handshake it
    completed with `secrets` (its frames must carry the session's tags)."""
    stream = await trio.open_tcp_stream(address.host, address.port)
    framed = FramedStream(stream, 1 << 20)
    await handshake.dial(
        framed,
        local_id=sender,
        peer_id=receiver,
        client_addr="",
        secrets=secrets,
        limits=TransportLimits(),
    )
    return framed


def closed_reasons(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The reasons the node logged for closing peer connections, in order."""
    return [
        r.seshat_fields["reason"]  # type: ignore[attr-defined]
        for r in caplog.records
        if r.getMessage() == "peer_connection_closed"
    ]
