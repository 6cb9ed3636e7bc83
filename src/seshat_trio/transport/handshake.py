"""The authenticated handshake of a peer connection, both ends (docs/protocol.md section 3).

    acceptor -> dialler   Hello(node_id=B, peer_id=0, nonce=Nb)
    dialler  -> acceptor  Hello(node_id=A, peer_id=B, nonce=Na, proofs=[one per secret])
    acceptor -> dialler   HelloAuth(proof under the secret the two share)

Rules: the acceptor refuses a dialler whose id is not a current member (`is_member`, the
transport's own peer set, which membership changes update live) before it looks at any
proof, and a dialler that proves no secret it holds; the dialler refuses an acceptor that
is not the node it dialled or does not prove the shared secret. Nothing but these frames
is accepted before the end of the exchange, and frames before it are held to
`handshake_frame_bytes`. Afterwards both sides tag every frame (`FramedStream.authenticate`).
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
import trio

from seshat_trio.transport.auth import (
    NONCE_BYTES,
    ClusterSecrets,
    Role,
    Transcript,
    new_nonce,
    session_keys,
)
from seshat_trio.transport.connection import FramedStream
from seshat_trio.transport.errors import AuthenticationError, HandshakeError, NotMember
from seshat_trio.transport.limits import TransportLimits
from seshat_trio.transport.messages import (
    FEATURES,
    HELLO_MAGIC,
    PROTOCOL_VERSION,
    Hello,
    HelloAuth,
    WireMessage,
)


@attrs.frozen(slots=True)
class Peer:
    """The authenticated other end of a connection."""

    node_id: int
    client_addr: str
    features: int = 0  # the optional messages it understands (Hello.features)
    client_tls_port: int = 0  # its TLS client port (0: none, or an older build)


def check_hello(msg: WireMessage, *, local_id: int, expected_sender: int | None) -> Hello:
    """`msg` as a Hello from a valid peer: from a dialler (`expected_sender` None) it must
    name this node; from an acceptor it must come from the node that was dialled."""
    if not isinstance(msg, Hello):
        raise HandshakeError(f"expected Hello, got {type(msg).__name__}")
    if msg.magic != HELLO_MAGIC:
        raise HandshakeError(f"bad Hello magic {msg.magic:#x}: not a seshat-trio peer")
    if msg.protocol_version != PROTOCOL_VERSION:
        raise HandshakeError(
            f"peer speaks protocol version {msg.protocol_version}, this node {PROTOCOL_VERSION}"
        )
    if expected_sender is None and msg.peer_id != local_id:
        raise HandshakeError(f"peer believes it reached node {msg.peer_id}, this is {local_id}")
    if msg.node_id <= 0 or msg.node_id == local_id:
        raise HandshakeError(f"invalid peer node id {msg.node_id}")
    if len(msg.nonce) != NONCE_BYTES:
        raise HandshakeError(f"Hello nonce of {len(msg.nonce)} bytes, expected {NONCE_BYTES}")
    if expected_sender is not None and msg.node_id != expected_sender:
        raise HandshakeError(f"dialled node {expected_sender} but node {msg.node_id} answered")
    return msg


async def accept(
    framed: FramedStream,
    *,
    local_id: int,
    client_addr: str,
    secrets: ClusterSecrets,
    is_member: Callable[[int], bool],
    limits: TransportLimits,
    features: int = FEATURES,
    client_tls_port: int = 0,
) -> Peer:
    """Run the acceptor's side; the authenticated dialler, or a TransportError. `features`:
    what this side announces (tests play an older build with fewer bits)."""
    nonce = new_nonce()
    try:
        with trio.fail_after(limits.handshake_timeout):
            opening = Hello(
                node_id=local_id,
                peer_id=0,
                client_addr=client_addr,
                nonce=nonce,
                features=features,
                client_tls_port=client_tls_port,
            )
            await framed.send(opening)
            hello = check_hello(await framed.receive(), local_id=local_id, expected_sender=None)
            if not is_member(hello.node_id):
                raise NotMember(f"node {hello.node_id} is not a member of this cluster")
            transcript = Transcript(
                version=PROTOCOL_VERSION,
                dialler=hello.node_id,
                acceptor=local_id,
                dialler_nonce=hello.nonce,
                acceptor_nonce=nonce,
                dialler_addr=hello.client_addr,
                acceptor_addr=client_addr,
                dialler_features=hello.features,
                acceptor_features=opening.features,
                dialler_tls_port=hello.client_tls_port,
                acceptor_tls_port=client_tls_port,
            )
            secret = secrets.verify(Role.DIALLER, transcript, hello.proofs)
            if secret is None:
                raise AuthenticationError(
                    f"node {hello.node_id} did not prove the cluster secret "
                    "(a different or missing cluster.secret_file)"
                )
            await framed.send(HelloAuth(secrets.proof(secret, Role.ACCEPTOR, transcript)))
    except trio.TooSlowError:
        raise HandshakeError("handshake not completed in time") from None
    framed.authenticate(session_keys(secret, transcript, Role.ACCEPTOR), limits.max_frame_bytes)
    return Peer(hello.node_id, hello.client_addr, hello.features, hello.client_tls_port)


async def dial(
    framed: FramedStream,
    *,
    local_id: int,
    peer_id: int,
    client_addr: str,
    secrets: ClusterSecrets,
    limits: TransportLimits,
    client_tls_port: int = 0,
) -> Peer:
    """Run the dialler's side; the authenticated acceptor, or a TransportError."""
    nonce = new_nonce()
    try:
        with trio.fail_after(limits.handshake_timeout):
            hello = check_hello(await framed.receive(), local_id=local_id, expected_sender=peer_id)
            own = Hello(
                node_id=local_id,
                peer_id=peer_id,
                client_addr=client_addr,
                nonce=nonce,
                client_tls_port=client_tls_port,
            )
            transcript = Transcript(
                version=PROTOCOL_VERSION,
                dialler=local_id,
                acceptor=peer_id,
                dialler_nonce=nonce,
                acceptor_nonce=hello.nonce,
                dialler_addr=client_addr,
                acceptor_addr=hello.client_addr,
                dialler_features=own.features,
                acceptor_features=hello.features,
                dialler_tls_port=client_tls_port,
                acceptor_tls_port=hello.client_tls_port,
            )
            await framed.send(attrs.evolve(own, proofs=secrets.proofs(Role.DIALLER, transcript)))
            answer = await framed.receive()
    except trio.TooSlowError:
        raise HandshakeError("handshake not completed in time") from None
    if not isinstance(answer, HelloAuth):
        raise HandshakeError(f"expected HelloAuth, got {type(answer).__name__}")
    secret = secrets.verify(Role.ACCEPTOR, transcript, (answer.proof,))
    if secret is None:
        raise AuthenticationError(
            f"node {peer_id} did not prove the cluster secret "
            "(a different or missing cluster.secret_file)"
        )
    framed.authenticate(session_keys(secret, transcript, Role.DIALLER), limits.max_frame_bytes)
    return Peer(peer_id, hello.client_addr, hello.features, hello.client_tls_port)
