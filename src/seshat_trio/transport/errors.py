"""Errors raised by the node-to-node transport.

Decoding errors (`FrameError`, `CodecError`) describe bad bytes from a peer: the connection
that carried them is closed and nothing else is affected. `PeerUnavailable` and
`ForwardFailed` are what `Transport.forward` callers handle.
"""

from __future__ import annotations


class TransportError(Exception):
    """Base class of every transport error."""


class FrameError(TransportError):
    """The byte stream does not follow the length-prefixed framing (e.g. oversized frame)."""


class CodecError(TransportError):
    """A frame's payload is not a valid Envelope message."""


class HandshakeError(TransportError):
    """The peer's Hello is missing, malformed or names the wrong node/protocol version."""


class NotMember(HandshakeError):
    """The peer's node id is not a current member: its connection is refused."""


class AuthenticationError(TransportError):
    """The peer did not prove the cluster secret (wrong, missing or rotated-out secret)."""


class ForgedFrame(AuthenticationError):
    """A frame after the handshake failed its MAC: forged, altered, replayed or reordered."""


class ProtocolViolation(TransportError):
    """A well-formed message that is not allowed where it arrived (e.g. wrong `src`)."""


class PeerClosed(TransportError):
    """The peer closed the connection."""


class PeerUnavailable(TransportError):
    """A forward could not complete because the connection to `peer` is down or broke.

    `maybe_delivered` is False when the request certainly never left this node (not
    connected, queue full) and True when it was written to a connection that then broke:
    the peer may have executed it, so the outcome is unknown.
    """

    def __init__(self, peer: int, reason: str, *, maybe_delivered: bool) -> None:
        super().__init__(f"peer {peer} unavailable: {reason}")
        self.peer = peer
        self.reason = reason
        self.maybe_delivered = maybe_delivered


class ForwardFailed(TransportError):
    """The peer received the forward but could not execute it (handler error, overload)."""

    def __init__(self, peer: int, reason: str) -> None:
        super().__init__(f"peer {peer} failed the forwarded request: {reason}")
        self.peer = peer
        self.reason = reason
