"""Authenticated peers on 127.0.0.1: shared secret, membership, rotation, forged and replayed
bytes. Each refusal must deliver nothing and be counted by reason."""

import logging

import attrs
import pytest
import trio
from tests.server.byte_streams import closed_within
from tests.transport.raw_peer import dial, heartbeat

from seshat_trio.config.model import Address
from seshat_trio.raft import Heartbeat
from seshat_trio.transport import (
    ClusterSecrets,
    ForwardRequest,
    Hello,
    TransportLimits,
    encode,
    encode_frame,
)
from seshat_trio.transport.auth import Role, Transcript
from seshat_trio.transport.codec import decode
from seshat_trio.transport.connection import FramedStream
from seshat_trio.transport.messages import FEATURES

OLD = ClusterSecrets((b"o" * 32,))
NEW = ClusterSecrets((b"n" * 32,))
ROTATING = ClusterSecrets((b"n" * 32, b"o" * 32))
NOWHERE = Address("127.0.0.1", 1)


def _connected(node: object, peer: int) -> bool:
    return node.transport.peer_states()[peer].connected  # type: ignore[attr-defined]


async def test_peers_sharing_the_secret_exchange_messages(net) -> None:
    with trio.fail_after(10):
        nodes = await net.start_cluster([1, 2, 3], secrets=NEW)
        nodes[1].transport.send(heartbeat(1, 2, context=12))
        nodes[3].transport.send(heartbeat(3, 2, context=32))
        await net.wait_until(lambda: len(nodes[2].received) == 2)
        assert sorted(m.context for m in nodes[2].received) == [12, 32]  # type: ignore[union-attr]
        assert all(not n.transport.refused for n in nodes.values())


async def test_a_node_with_another_secret_is_refused_both_ways(net) -> None:
    with trio.fail_after(10):
        one = await net.start_node(1, secrets=NEW)
        two = await net.start_node(2, secrets=OLD)
        one.transport.update_peers({2: two.address})
        two.transport.update_peers({1: one.address})
        one.transport.send(heartbeat(1, 2))
        two.transport.send(heartbeat(2, 1))
        await net.wait_until(
            lambda: (
                one.transport.refused["AuthenticationError"] >= 2
                and two.transport.refused["AuthenticationError"] >= 2
            )
        )
        assert one.received == two.received == []
        assert not _connected(one, 2) and not _connected(two, 1)


async def test_rolling_rotation_keeps_every_pair_connected(net) -> None:
    """Mid-rotation: node 1 holds (new, old), node 2 still old, node 3 already new only."""
    with trio.fail_after(10):
        one = await net.start_node(1, secrets=ROTATING)
        two = await net.start_node(2, secrets=OLD)
        three = await net.start_node(3, secrets=NEW)
        one.transport.update_peers({2: two.address, 3: three.address})
        two.transport.update_peers({1: one.address})
        three.transport.update_peers({1: one.address})
        for dst in (2, 3):
            one.transport.send(heartbeat(1, dst, context=dst))
        two.transport.send(heartbeat(2, 1, context=21))
        three.transport.send(heartbeat(3, 1, context=31))
        await net.wait_until(lambda: len(one.received) == 2 and two.received and three.received)
        assert sorted(m.context for m in one.received) == [21, 31]  # type: ignore[union-attr]
        # The two ends of the rotation do not know each other's secret.
        two.transport.update_peers({1: one.address, 3: three.address})
        three.transport.update_peers({1: one.address, 2: two.address})
        await net.wait_until(lambda: three.transport.refused["AuthenticationError"] >= 1)
        assert not _connected(two, 3) and not _connected(three, 2)


@pytest.mark.parametrize(
    ("sender", "secrets", "reason"),
    [
        (99, NEW, "NotMember"),
        (2, OLD, "AuthenticationError"),
        (2, ClusterSecrets.none(), "AuthenticationError"),
    ],
    ids=["non-member-with-secret", "member-wrong-secret", "member-no-secret"],
)
async def test_forged_peer_is_refused_before_any_message(
    net, caplog: pytest.LogCaptureFixture, sender: int, secrets: ClusterSecrets, reason: str
) -> None:
    """The issue's attack: a process claiming to be node 99, or member 2, that then sends
    a forwarded FLUSHALL and a HeartbeatResp with a high term."""
    caplog.set_level(logging.WARNING, logger="seshat_trio.transport")
    forwarded: list[ForwardRequest] = []

    async def on_forward(src: int, request: ForwardRequest) -> object:
        forwarded.append(request)
        raise AssertionError("a forged peer's request reached the handler")

    with trio.fail_after(10):
        node = await net.start_node(1, secrets=NEW, peers={2: NOWHERE}, on_forward=on_forward)
        stream = await trio.open_tcp_stream(node.address.host, node.address.port)
        framed = FramedStream(stream, 1 << 20)
        opening = await framed.receive()
        assert isinstance(opening, Hello) and opening.node_id == 1
        # The attacker answers as the dialler would, with whatever proof it can make, and
        # sends its payload right behind it without waiting.
        nonce = b"z" * 32
        transcript = Transcript(
            version=opening.protocol_version,
            dialler=sender,
            acceptor=1,
            dialler_nonce=nonce,
            acceptor_nonce=opening.nonce,
            dialler_addr="",
            acceptor_addr=opening.client_addr,
            dialler_features=FEATURES,
            acceptor_features=opening.features,
        )
        hello = Hello(
            node_id=sender,
            peer_id=1,
            nonce=nonce,
            proofs=secrets.proofs(Role.DIALLER, transcript),
        )
        flush = ForwardRequest(1, 2, ((b"FLUSHALL",),), 1)
        resp = Heartbeat(group=1, src=sender, dst=1, term=10**6, commit=0, context=0)
        await stream.send_all(
            b"".join(encode_frame(encode(m)) for m in (hello, flush, resp))  # type: ignore[arg-type]
        )
        assert await closed_within(stream, 5)
        assert node.received == [] and forwarded == []
        assert node.transport.refused[reason] == 1
        assert any(r.getMessage() == "peer_refused" for r in caplog.records)


async def test_replayed_connection_bytes_are_refused(net) -> None:
    """Everything a genuine member sent on one connection, recorded by a relay and played
    back on a new connection, is refused: the new acceptor nonce voids the old proof."""
    recorded = bytearray()
    with trio.fail_after(15):
        two = await net.start_node(2, secrets=NEW)
        relay_listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        relay = Address("127.0.0.1", relay_listeners[0].socket.getsockname()[1])

        async def pipe(src: trio.abc.Stream, dst: trio.abc.Stream, record: bool) -> None:
            while data := await src.receive_some(1 << 16):
                if record:
                    recorded.extend(data)
                await dst.send_all(data)

        async def relay_one(client: trio.SocketStream) -> None:
            server = await trio.open_tcp_stream(two.address.host, two.address.port)
            async with trio.open_nursery() as pipes:
                pipes.start_soon(pipe, client, server, True)
                pipes.start_soon(pipe, server, client, False)

        await net.nursery.start(trio.serve_listeners, relay_one, relay_listeners)
        one = await net.start_node(1, secrets=NEW, peers={2: relay})
        two.transport.update_peers({1: one.address})
        one.transport.send(heartbeat(1, 2, context=7))
        await net.wait_until(lambda: len(two.received) == 1)
        await trio.sleep(0.1)
        replay = await trio.open_tcp_stream(two.address.host, two.address.port)
        await replay.send_all(bytes(recorded))
        assert await closed_within(replay, 5)
        assert two.transport.refused["AuthenticationError"] == 1
        assert [m.context for m in two.received] == [7]  # type: ignore[union-attr]


async def _relay_frame(src: trio.abc.Stream, dst: trio.abc.Stream, change: bool) -> None:
    """Pass one handshake frame on, its Hello's features cleared when `change`."""
    data = b""
    while len(data) < 4 or len(data) < 4 + int.from_bytes(data[:4], "big"):
        data += await src.receive_some(1 << 16)
    size = 4 + int.from_bytes(data[:4], "big")
    frame, rest = data[:size], data[size:]
    if change:
        hello = decode(frame[4:])
        assert isinstance(hello, Hello) and hello.features == FEATURES
        frame = encode_frame(encode(attrs.evolve(hello, features=0)))
    await dst.send_all(frame + rest)


@pytest.mark.parametrize("tampered", ["dialler", "acceptor"])
async def test_a_tampered_features_field_is_refused(net, tampered: str) -> None:
    """An on-path attacker that clears a Hello's feature bits (so that a peer would stop
    sending it pub/sub messages) breaks the proof: the handshake covers the features."""
    with trio.fail_after(15):
        two = await net.start_node(2, secrets=NEW)
        relay_listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        relay = Address("127.0.0.1", relay_listeners[0].socket.getsockname()[1])

        async def pipe(src: trio.abc.Stream, dst: trio.abc.Stream) -> None:
            while data := await src.receive_some(1 << 16):
                await dst.send_all(data)

        async def relay_one(client: trio.SocketStream) -> None:
            server = await trio.open_tcp_stream(two.address.host, two.address.port)
            # The acceptor's Hello comes first, then the dialler's; the rest passes as is.
            await _relay_frame(server, client, tampered == "acceptor")
            await _relay_frame(client, server, tampered == "dialler")
            async with trio.open_nursery() as pipes:
                pipes.start_soon(pipe, client, server)
                pipes.start_soon(pipe, server, client)

        await net.nursery.start(trio.serve_listeners, relay_one, relay_listeners)
        one = await net.start_node(1, secrets=NEW, peers={2: relay})
        two.transport.update_peers({1: one.address})
        one.transport.send(heartbeat(1, 2, context=7))
        await net.wait_until(lambda: two.transport.refused["AuthenticationError"] >= 2)
        assert two.received == []
        assert not _connected(one, 2)


async def test_an_authenticated_peer_cannot_replay_its_own_frames(net) -> None:
    with trio.fail_after(10):
        node = await net.start_node(1, secrets=NEW, peers={2: NOWHERE})
        framed = await dial(node.address, 2, 1, NEW)
        frame = encode_frame(encode(heartbeat(2, 1, context=1)))
        await framed.send_frames([frame])
        sealed_twice = frame + framed._keys.receive.tag(frame)  # type: ignore[union-attr]
        await framed.stream.send_all(sealed_twice)  # wrong key and sequence number
        assert await closed_within(framed.stream, 5)
        assert [m.context for m in node.received] == [1]  # type: ignore[union-attr]
        assert node.transport.refused["ForgedFrame"] == 1


async def test_removing_a_peer_closes_its_connection_and_refuses_it(net) -> None:
    with trio.fail_after(10):
        nodes = await net.start_cluster([1, 2], secrets=NEW)
        nodes[2].transport.send(heartbeat(2, 1, context=1))
        await net.wait_until(lambda: len(nodes[1].received) == 1)
        nodes[1].transport.update_peers({})
        await net.wait_until(lambda: nodes[1].transport.refused["NotMember"] >= 1)
        nodes[2].transport.send(heartbeat(2, 1, context=2))
        await trio.sleep(0.1)
        assert [m.context for m in nodes[1].received] == [1]  # type: ignore[union-attr]


async def test_unauthenticated_connections_are_bounded(net) -> None:
    limits = TransportLimits(max_pending_handshakes=2, handshake_timeout=5.0)
    with trio.fail_after(10):
        node = await net.start_node(1, limits=limits)
        address = node.address
        silent = [await trio.open_tcp_stream(address.host, address.port) for _ in range(2)]
        await trio.sleep(0.05)
        extra = await trio.open_tcp_stream(node.address.host, node.address.port)
        assert await closed_within(extra, 5)
        assert node.transport.refused["TooManyHandshakes"] == 1
        for stream in silent:
            await stream.aclose()


async def test_a_big_frame_before_the_handshake_is_refused_unread(net) -> None:
    with trio.fail_after(10):
        node = await net.start_node(1, secrets=NEW)
        stream = await trio.open_tcp_stream(node.address.host, node.address.port)
        await stream.send_all(b"\x00\x10\x00\x00")  # a 1 MiB frame, before any proof
        assert await closed_within(stream, 5)
