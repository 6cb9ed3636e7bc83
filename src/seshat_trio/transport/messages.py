"""Transport-level wire messages (attrs frozen, slotted) and the unions the codec speaks.

Raft messages come from `seshat_trio.raft.messages`; this module adds the connection
handshake (`Hello`, `HelloAuth`; docs/protocol.md section 3) and client forwarding
(`ForwardRequest` / `ForwardReply` / `ForwardError`). `WireMessage` is everything an
`Envelope` frame can hold.
"""

from __future__ import annotations

import attrs

from seshat_trio.raft.messages import (
    Heartbeat,
    HeartbeatResp,
    Message,
    SnapshotChunk,
    SnapshotChunkAck,
)

PROTOCOL_VERSION = 3
"""Cluster-protocol version sent in Hello; peers must agree exactly (2: authenticated;
3: the proofs also cover both Hellos' features)."""

HELLO_MAGIC = 0x53455348
"""b"SESH" as a big-endian u32: tells a seshat-trio peer from anything else on the port."""

FEATURE_PUBSUB = 1 << 0
"""Hello.features: the sender understands Publish and PublishCount."""
FEATURE_HEARTBEAT_BATCH = 1 << 1
"""Hello.features: the sender understands HeartbeatBatch."""
FEATURE_RAFT_BATCH = 1 << 2
"""Hello.features: the sender understands RaftBatch."""
FEATURE_CLIENT_TLS_PORT = 1 << 3
"""Hello.features: the sender's Hello carries its TLS client port, inside the proofs."""
FEATURES = FEATURE_PUBSUB | FEATURE_HEARTBEAT_BATCH | FEATURE_RAFT_BATCH | FEATURE_CLIENT_TLS_PORT
"""What this build understands beyond protocol version 1 (an older peer announces 0)."""


@attrs.frozen(slots=True, kw_only=True)
class Hello:
    """First frame in each direction of every connection (the acceptor speaks first).

    `node_id` is the sender; `peer_id` is the node the dialler believes it is talking to,
    so a misconfigured address is detected by the node that was reached by mistake (0 from
    the acceptor, which does not know yet who called). `nonce` is the sender's fresh
    contribution to the handshake; `proofs` (dialler only) prove the cluster secret.
    """

    node_id: int
    peer_id: int
    # The sender's client (RESP) address: followers name the leader's in -MOVED replies.
    client_addr: str = ""
    protocol_version: int = PROTOCOL_VERSION
    magic: int = HELLO_MAGIC
    nonce: bytes = b""
    proofs: tuple[bytes, ...] = ()
    # Optional messages the sender understands (FEATURE_* bits); peers send only those.
    features: int = FEATURES
    # The sender's TLS client port (0: none): cluster-aware TLS clients are sent there.
    client_tls_port: int = 0


@attrs.frozen(slots=True)
class HelloAuth:
    """The acceptor's proof of the cluster secret, the handshake's last frame."""

    proof: bytes


NO_DATA_GROUP = 0
"""A ForwardRequest's group when its commands address no data group (0 is the system group)."""


@attrs.frozen(slots=True)
class ForwardRequest:
    """A follower's client pipeline (or whole MULTI..EXEC) to be executed by the leader of
    data group `group`.

    `commands` holds one argv per command; `protocol` is the client's RESP version. The
    receiver runs keyless commands in `group` and refuses keyed ones its own shard map
    routes elsewhere; `NO_DATA_GROUP` for commands that address none (PUBSUB gathering).
    """

    request_id: int
    protocol: int
    commands: tuple[tuple[bytes, ...], ...]
    group: int


@attrs.frozen(slots=True)
class ForwardReply:
    """The RESP-encoded replies to a ForwardRequest, one per command, concatenated."""

    request_id: int
    payload: bytes


@attrs.frozen(slots=True)
class ForwardError:
    """The receiver of ForwardRequest `request_id` could not execute it."""

    request_id: int
    reason: str


@attrs.frozen(slots=True)
class Publish:
    """A pub/sub message for the receiver's subscribers; fire-and-forget unless
    `request_id` is non-zero, which asks for a PublishCount with the receivers."""

    request_id: int
    channel: bytes
    message: bytes
    shard: bool = False


@attrs.frozen(slots=True)
class PublishCount:
    """How many of its subscribers the receiver of Publish `request_id` delivered it to."""

    request_id: int
    receivers: int


Beat = tuple[int, int, int, int]
"""A coalesced Heartbeat: (group, term, commit, context)."""
Ack = tuple[int, int, int]
"""A coalesced HeartbeatResp: (group, term, context)."""


@attrs.frozen(slots=True)
class HeartbeatBatch:
    """Every Heartbeat and HeartbeatResp node `src` had for node `dst` when the transport
    flushed, of any number of groups, as one frame (docs/raft.md, "Coalesced heartbeats").

    Only a packing: the receiver steps each one into its group exactly as if it had come
    alone, so Raft sees the same messages (lost, delayed or reordered together)."""

    src: int
    dst: int
    beats: tuple[Beat, ...]
    acks: tuple[Ack, ...]

    def messages(self) -> list[Heartbeat | HeartbeatResp]:
        src, dst = self.src, self.dst
        out: list[Heartbeat | HeartbeatResp] = [
            Heartbeat(group=g, src=src, dst=dst, term=t, commit=c, context=x)
            for g, t, c, x in self.beats
        ]
        out.extend(
            HeartbeatResp(group=g, src=src, dst=dst, term=t, context=x) for g, t, x in self.acks
        )
        return out


@attrs.frozen(slots=True)
class RaftBatch:
    """Raft messages (other than heartbeats and snapshot chunks) of any number of groups that
    node `src` had for node `dst` in one scheduler pass, as one frame: `frames` holds each
    one's Envelope ("frames v1", blobs.py). Only a packing, like HeartbeatBatch: the
    receiver checks and steps each one as if it had come alone (transport/raft_batch.py)."""

    src: int
    dst: int
    frames: bytes


PeerMessage = Message | SnapshotChunk | SnapshotChunkAck
"""What `Transport.send` carries and `on_message` receives."""

WireMessage = (
    PeerMessage
    | Hello
    | HelloAuth
    | ForwardRequest
    | ForwardReply
    | ForwardError
    | Publish
    | PublishCount
    | HeartbeatBatch
    | RaftBatch
)
"""Everything one Envelope frame can hold."""
