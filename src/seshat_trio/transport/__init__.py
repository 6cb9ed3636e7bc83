"""Node-to-node transport: Cap'n Proto envelopes in length-prefixed frames over Trio TCP.

Module map: framing (length prefix and frame tags, sans-IO), blobs (inner framings of entry
and command batches), codec (message <-> Envelope bytes, table-driven), flat (the members
of plain fields read and written with struct, sans-IO), messages (Hello,
forwarding), coalesce (one heartbeat frame per peer for every group, sans-IO), auth
(cluster secrets, proofs, frame MACs, sans-IO), handshake (the authenticated exchange of
both ends), outbox (bounded per-peer queue, sans-IO), backoff (reconnect delays),
connection (framed stream + batched sender), peers (outbound link per peer),
transport (`Transport`: listener, inbound connections, public API), limits, errors.
Wire specification: docs/protocol.md; schema: schemas/raft.capnp.
"""

from seshat_trio.transport.auth import ClusterSecrets
from seshat_trio.transport.codec import MESSAGE_TYPES, decode, encode
from seshat_trio.transport.errors import (
    AuthenticationError,
    CodecError,
    ForgedFrame,
    ForwardFailed,
    FrameError,
    HandshakeError,
    NotMember,
    PeerClosed,
    PeerUnavailable,
    ProtocolViolation,
    TransportError,
)
from seshat_trio.transport.framing import FrameDecoder, encode_frame
from seshat_trio.transport.limits import TransportLimits
from seshat_trio.transport.messages import (
    FEATURE_HEARTBEAT_BATCH,
    FEATURE_PUBSUB,
    FEATURE_RAFT_BATCH,
    FEATURES,
    NO_DATA_GROUP,
    PROTOCOL_VERSION,
    ForwardError,
    ForwardReply,
    ForwardRequest,
    HeartbeatBatch,
    Hello,
    HelloAuth,
    PeerMessage,
    Publish,
    PublishCount,
    RaftBatch,
    WireMessage,
)
from seshat_trio.transport.peers import PeerState
from seshat_trio.transport.transport import PubSubHandler, Transport

__all__ = [
    "FEATURES",
    "FEATURE_HEARTBEAT_BATCH",
    "FEATURE_PUBSUB",
    "FEATURE_RAFT_BATCH",
    "MESSAGE_TYPES",
    "NO_DATA_GROUP",
    "PROTOCOL_VERSION",
    "AuthenticationError",
    "ClusterSecrets",
    "CodecError",
    "ForgedFrame",
    "ForwardError",
    "ForwardFailed",
    "ForwardReply",
    "ForwardRequest",
    "FrameDecoder",
    "FrameError",
    "HandshakeError",
    "HeartbeatBatch",
    "Hello",
    "HelloAuth",
    "NotMember",
    "PeerClosed",
    "PeerMessage",
    "PeerState",
    "PeerUnavailable",
    "ProtocolViolation",
    "PubSubHandler",
    "Publish",
    "PublishCount",
    "RaftBatch",
    "Transport",
    "TransportError",
    "TransportLimits",
    "WireMessage",
    "decode",
    "encode",
    "encode_frame",
]
