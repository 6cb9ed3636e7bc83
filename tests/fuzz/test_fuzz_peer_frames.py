"""Fuzz target: the peer frame decoder, as a node runs it on an inbound connection.

Bytes from a peer go through the length-prefixed framing, the frame MAC once the handshake
is done, and the Cap'n Proto codec. Whatever arrives, split however: a decoded message or a
TransportError (FrameError, ForgedFrame, CodecError) that closes the connection, in bounded
time; never another exception, never a hang. Inputs are genuine tagged frames of every
message type, mutated, plus raw bytes; and the acceptor's side of the handshake is fed the
same way (it must refuse with a TransportError, or accept a genuine dialler).
"""

from __future__ import annotations

import time

import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.server.byte_streams import BytesStream
from tests.transport.test_transport_codec import STRATEGIES

from seshat_trio.transport import (
    ClusterSecrets,
    FrameDecoder,
    TransportError,
    TransportLimits,
    decode,
    encode,
    encode_frame,
    handshake,
)
from seshat_trio.transport.auth import Role, Transcript, session_keys
from seshat_trio.transport.connection import FramedStream

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SECRET = b"k" * 32
TRANSCRIPT = Transcript(
    version=3,
    dialler=2,
    acceptor=1,
    dialler_nonce=b"d" * 32,
    acceptor_nonce=b"a" * 32,
    dialler_addr="",
    acceptor_addr="",
    dialler_features=1,
    acceptor_features=1,
)
messages = st.one_of(*STRATEGIES.values())


@st.composite
def peer_bytes(draw: st.DrawFn) -> bytes:
    """What an authenticated peer (or an attacker on its connection) might send."""
    sender = session_keys(SECRET, TRANSCRIPT, Role.DIALLER).send
    data = bytearray()
    for msg in draw(st.lists(messages, max_size=4)):
        try:
            frame = encode_frame(encode(msg))
        except ValueError:
            continue
        data += frame + sender.tag(frame)
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["flip", "insert", "truncate", "raw"]))
        at = draw(st.integers(0, len(data)))
        if op == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "truncate":
            del data[at:]
        else:
            data += draw(st.binary(max_size=64))
    return bytes(data)


@FUZZ
@given(peer_bytes(), st.data())
def test_decoder_yields_messages_or_a_transport_error(data: bytes, choose: st.DataObject) -> None:
    decoder = FrameDecoder(1 << 20)
    decoder.authenticate(session_keys(SECRET, TRANSCRIPT, Role.ACCEPTOR).receive, 1 << 20)
    cut = choose.draw(st.integers(0, len(data)))
    started = time.process_time()
    try:
        for part in (data[:cut], data[cut:]):
            decoder.feed(part)
            while (frame := decoder.next_frame()) is not None:
                decode(frame)
    except TransportError:
        pass
    assert time.process_time() - started < 1.0


@FUZZ
@given(st.one_of(st.binary(max_size=200), peer_bytes()))
def test_the_acceptor_refuses_anything_but_a_genuine_dialler(data: bytes) -> None:
    async def main() -> None:
        ours, theirs = trio.testing.memory_stream_pair()
        await theirs.send_all(data)
        await theirs.send_eof()
        framed = FramedStream(BytesStream(ours), 4096)
        with trio.fail_after(5):
            try:
                await handshake.accept(
                    framed,
                    local_id=1,
                    client_addr="",
                    secrets=ClusterSecrets((SECRET,)),
                    is_member=lambda node: node == 2,
                    limits=TransportLimits(handshake_timeout=1.0),
                )
            except TransportError:
                return
        raise AssertionError("random bytes completed the handshake")

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
