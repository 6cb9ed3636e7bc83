"""Peer authentication, sans-IO: cluster secrets, handshake proofs, per-frame MACs.

Rules:
- The secret never travels. Each side proves it holds a cluster secret with an HMAC-SHA256
  over the handshake transcript (protocol version, both node ids, both nonces, both client
  addresses, both Hellos' feature bits, and both TLS client ports when both Hellos carry
  them) under a label naming its role, so a proof cannot
  be reflected to its sender nor reused on another connection: both sides contribute a
  fresh 32-byte nonce.
- Up to two secrets are held at once (current first, then the previous one) so that a
  rolling rotation works: the dialler sends one proof per secret it holds, the acceptor
  takes the first of its own secrets that verifies one of them and answers with one proof
  under that secret; both sides derive the connection's keys from that shared secret.
- After the handshake every frame carries a 16-byte tag over a per-direction sequence
  number and the frame (header and payload), with keys of their own per connection and
  direction: a forged, altered, replayed, dropped or reordered frame fails verification
  and the connection is closed. The MAC is keyed BLAKE2b for frames below
  LARGE_FRAME_BYTES and HMAC-SHA256 (truncated) above, each with its own derived key:
  measured here, BLAKE2b costs 0.37 us per small frame against 1.2 us, and SHA-256 (with
  the CPU's SHA instructions) 0.55 ms per MiB against 1.0 ms.
- Without a configured secret the same exchange runs with the empty key: peers then prove
  nothing but their protocol version (the configuration refuses that on any address other
  than loopback).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import os
import struct

import attrs

from seshat_trio.transport.messages import FEATURE_CLIENT_TLS_PORT

NONCE_BYTES = 32
TAG_BYTES = 16
MAX_SECRETS = 2
_PROOF_LABEL = b"seshat-trio peer proof\x00"
_SESSION_LABEL = b"seshat-trio peer session\x00"
_SEQ = struct.Struct(">Q")
LARGE_FRAME_BYTES = 4096
_TRANSCRIPT = struct.Struct(">HQQ")
_FEATURES = struct.Struct(">QQ")
_TLS_PORTS = struct.Struct(">HH")


class Role(enum.Enum):
    """Which end of a connection: the labels keep one side's proof useless to the other."""

    DIALLER = b"dialler"
    ACCEPTOR = b"acceptor"


def new_nonce() -> bytes:
    """A fresh nonce from the OS (never a seeded RNG: an attacker must not predict it)."""
    return os.urandom(NONCE_BYTES)


@attrs.frozen(slots=True, kw_only=True)
class Transcript:
    """Everything the proofs and session keys are bound to."""

    version: int
    dialler: int
    acceptor: int
    dialler_nonce: bytes
    acceptor_nonce: bytes
    dialler_addr: str
    acceptor_addr: str
    # Each Hello's feature bits: bound to the proofs so that nobody on the path can make a
    # peer withhold (or send) optional messages by flipping them.
    dialler_features: int
    acceptor_features: int
    # Each side's TLS client port, bound when both Hellos carry one (features bit 3): a
    # peer of an older build computes its proofs without them.
    dialler_tls_port: int = 0
    acceptor_tls_port: int = 0

    def encode(self) -> bytes:
        parts = [_TRANSCRIPT.pack(self.version, self.dialler, self.acceptor)]
        for item in (
            self.dialler_nonce,
            self.acceptor_nonce,
            self.dialler_addr.encode(),
            self.acceptor_addr.encode(),
        ):
            parts.append(struct.pack(">I", len(item)))
            parts.append(item)
        parts.append(_FEATURES.pack(self.dialler_features, self.acceptor_features))
        if self.dialler_features & self.acceptor_features & FEATURE_CLIENT_TLS_PORT:
            parts.append(_TLS_PORTS.pack(self.dialler_tls_port, self.acceptor_tls_port))
        return b"".join(parts)


@attrs.frozen(slots=True)
class ClusterSecrets:
    """The secrets this node accepts, current first (at most MAX_SECRETS)."""

    secrets: tuple[bytes, ...] = attrs.field()

    @secrets.validator
    def _check(self, _attribute: object, value: tuple[bytes, ...]) -> None:
        if not 1 <= len(value) <= MAX_SECRETS:
            raise ValueError(f"between 1 and {MAX_SECRETS} cluster secrets, got {len(value)}")

    @classmethod
    def none(cls) -> ClusterSecrets:
        """No configured secret: the empty key, which authenticates nothing."""
        return cls((b"",))

    @property
    def configured(self) -> bool:
        return self.secrets != (b"",)

    def proofs(self, role: Role, transcript: Transcript) -> tuple[bytes, ...]:
        """One proof per held secret."""
        data = transcript.encode()
        return tuple(_proof(secret, role, data) for secret in self.secrets)

    def proof(self, secret: bytes, role: Role, transcript: Transcript) -> bytes:
        return _proof(secret, role, transcript.encode())

    def verify(self, role: Role, transcript: Transcript, proofs: tuple[bytes, ...]) -> bytes | None:
        """The first held secret under which one of `proofs` is `role`'s valid proof."""
        data = transcript.encode()
        for secret in self.secrets:
            expected = _proof(secret, role, data)
            # Every candidate is compared, in constant time each.
            if any([hmac.compare_digest(expected, proof) for proof in proofs[:MAX_SECRETS]]):
                return secret
        return None


def _proof(secret: bytes, role: Role, data: bytes) -> bytes:
    return hmac.digest(secret, _PROOF_LABEL + role.value + b"\x00" + data, "sha256")


class FrameMac:
    """The tags of one direction of one connection; the sequence number advances per frame."""

    __slots__ = ("_large", "_seq", "_small")

    def __init__(self, key: bytes) -> None:
        small_key = hmac.digest(key, b"blake2b", "sha256")
        large_key = hmac.digest(key, b"hmac-sha256", "sha256")
        self._small = hashlib.blake2b(key=small_key, digest_size=TAG_BYTES)
        self._large = hmac.new(large_key, digestmod="sha256")
        self._seq = 0

    def tag(self, frame: bytes | memoryview) -> bytes:
        """The tag of the next frame (its header and payload)."""
        mac = (self._large if len(frame) >= LARGE_FRAME_BYTES else self._small).copy()
        mac.update(_SEQ.pack(self._seq))
        self._seq += 1
        mac.update(frame)
        return mac.digest()[:TAG_BYTES]


@attrs.frozen(slots=True)
class SessionKeys:
    """One connection's frame MACs, as seen from one side."""

    send: FrameMac
    receive: FrameMac


def session_keys(secret: bytes, transcript: Transcript, role: Role) -> SessionKeys:
    """The per-direction frame keys both sides derive from the shared secret."""
    master = hmac.digest(secret, _SESSION_LABEL + transcript.encode(), "sha256")
    outgoing = {side: hmac.digest(master, side.value + b"->", "sha256") for side in Role}
    other = Role.ACCEPTOR if role is Role.DIALLER else Role.DIALLER
    return SessionKeys(send=FrameMac(outgoing[role]), receive=FrameMac(outgoing[other]))
