"""Tunable bounds of the transport (sizes, queue depths, timeouts), validated at construction."""

from __future__ import annotations

import attrs

_positive_int = attrs.validators.gt(0)
_positive_float = attrs.validators.gt(0.0)

# Room for the Envelope around a forwarded reply's payload (capnp framing, request id):
# 64 bytes measured; the rest is headroom.
FORWARD_ENVELOPE_BYTES = 1024


@attrs.frozen(slots=True, kw_only=True)
class TransportLimits:
    """Every number is per connection or per peer.

    - max_frame_bytes: largest accepted (and sent) Envelope; bigger frames close the
      connection. Must cover max Append size (raft max_msg_bytes), snapshot chunks and
      forwarded pipelines.
    - max_queue_frames / max_queue_bytes: outbound queue bound per peer; beyond it Raft
      messages are dropped (heartbeats first).
    - max_batch_bytes: frames coalesced into one send_all.
    - max_inflight_forwards: forwards served concurrently per inbound connection; more are
      answered with ForwardError at once.
    - backoff_initial / backoff_max: reconnect delay doubles from initial up to max (seconds,
      each jittered to [d/2, d)).
    - connect_timeout / handshake_timeout: bound one dial and the whole handshake.
    - handshake_frame_bytes: largest frame accepted before the peer is authenticated.
    - max_pending_handshakes: inbound connections still in their handshake at once; more
      are closed at accept (an unauthenticated crowd cannot hold much of the node).
    - tcp_user_timeout: unacknowledged data older than this breaks the connection (Linux
      TCP_USER_TIMEOUT), so a dead peer is noticed even while we only send.
    """

    max_frame_bytes: int = attrs.field(default=16 << 20, validator=_positive_int)
    max_queue_frames: int = attrs.field(default=4096, validator=_positive_int)
    max_queue_bytes: int = attrs.field(default=64 << 20, validator=_positive_int)
    max_batch_bytes: int = attrs.field(default=1 << 20, validator=_positive_int)
    max_inflight_forwards: int = attrs.field(default=1024, validator=_positive_int)
    backoff_initial: float = attrs.field(default=0.05, validator=_positive_float)
    backoff_max: float = attrs.field(default=1.0, validator=_positive_float)
    connect_timeout: float = attrs.field(default=2.0, validator=_positive_float)
    handshake_timeout: float = attrs.field(default=2.0, validator=_positive_float)
    tcp_user_timeout: float = attrs.field(default=5.0, validator=_positive_float)
    handshake_frame_bytes: int = attrs.field(default=4096, validator=_positive_int)
    max_pending_handshakes: int = attrs.field(default=64, validator=_positive_int)

    @property
    def max_forward_payload_bytes(self) -> int:
        """The largest forwarded reply payload whose frame the requester accepts."""
        return self.max_frame_bytes - FORWARD_ENVELOPE_BYTES

    def __attrs_post_init__(self) -> None:
        if self.max_frame_bytes <= FORWARD_ENVELOPE_BYTES:
            raise ValueError(f"TransportLimits.max_frame_bytes must be > {FORWARD_ENVELOPE_BYTES}")
        if self.max_frame_bytes > self.max_queue_bytes:
            raise ValueError("TransportLimits.max_frame_bytes must be <= max_queue_bytes")
        if self.backoff_initial > self.backoff_max:
            raise ValueError("TransportLimits.backoff_initial must be <= backoff_max")
