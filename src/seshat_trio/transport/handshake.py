"""Validation of a peer's Hello, shared by the dialling and the accepting side."""

from __future__ import annotations

from seshat_trio.transport.errors import HandshakeError
from seshat_trio.transport.messages import HELLO_MAGIC, PROTOCOL_VERSION, Hello, WireMessage


def check_hello(msg: WireMessage, *, expected_sender: int | None, local_id: int) -> Hello:
    """`msg` as a Hello addressed to `local_id` (from `expected_sender` when given)."""
    if not isinstance(msg, Hello):
        raise HandshakeError(f"expected Hello as the first frame, got {type(msg).__name__}")
    if msg.magic != HELLO_MAGIC:
        raise HandshakeError(f"bad Hello magic {msg.magic:#x}: not a seshat-trio peer")
    if msg.protocol_version != PROTOCOL_VERSION:
        raise HandshakeError(
            f"peer speaks protocol version {msg.protocol_version}, this node {PROTOCOL_VERSION}"
        )
    if msg.peer_id != local_id:
        raise HandshakeError(f"peer believes it reached node {msg.peer_id}, this is {local_id}")
    if msg.node_id <= 0 or msg.node_id == local_id:
        raise HandshakeError(f"invalid peer node id {msg.node_id}")
    if expected_sender is not None and msg.node_id != expected_sender:
        raise HandshakeError(f"dialled node {expected_sender} but node {msg.node_id} answered")
    return msg
