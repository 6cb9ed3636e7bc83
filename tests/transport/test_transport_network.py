"""Transports on 127.0.0.1: delivery, reconnect, hostile peers, backpressure.

The `net` fixture (conftest.py) starts transports on ephemeral ports.
"""

import logging
import socket
import struct

import pytest
import trio
from tests.server.byte_streams import closed_within
from tests.transport.raw_peer import closed_reasons, dial, heartbeat

from seshat_trio.config.model import Address
from seshat_trio.raft import Append, Entry, EntryKind, Heartbeat, HeartbeatResp, VoteResp
from seshat_trio.transport import (
    ClusterSecrets,
    HeartbeatBatch,
    Hello,
    TransportLimits,
    encode,
    encode_frame,
    handshake,
)
from seshat_trio.transport.connection import FramedStream

NONCE = b"n" * 32


def _append(src: int, dst: int, index: int, size: int = 100) -> Append:
    entry = Entry(1, index, EntryKind.NORMAL, b"v" * size)
    return Append(
        group=1,
        src=src,
        dst=dst,
        term=1,
        prev_index=index - 1,
        prev_term=1,
        entries=(entry,),
        commit=0,
    )


def _connected(node: object, peer: int) -> bool:
    return node.transport.peer_states()[peer].connected  # type: ignore[attr-defined]


async def test_two_nodes_exchange_messages_in_order(net) -> None:
    with trio.fail_after(10):
        nodes = await net.start_cluster([1, 2])
        sent = [_append(1, 2, i) for i in range(1, 201)]
        for msg in sent:
            nodes[1].transport.send(msg)
        reply = VoteResp(group=1, src=2, dst=1, term=3, granted=True)
        nodes[2].transport.send(reply)
        await net.wait_until(lambda: len(nodes[2].received) == 200 and nodes[1].received)
        assert nodes[2].received == sent
        assert nodes[1].received == [reply]
        state = nodes[1].transport.peer_states()[2]
        assert state.connected and state.dropped == 0 and state.queue_frames == 0


async def test_hello_announces_each_node_client_address(net) -> None:
    with trio.fail_after(10):
        one = await net.start_node(1, client_addr="127.0.0.1:6379")
        two = await net.start_node(2, client_addr="127.0.0.1:6380", client_tls_port=6390)
        assert one.transport.client_address(2) is None  # not a peer yet
        one.transport.update_peers({2: two.address})
        two.transport.update_peers({1: one.address})
        await net.wait_until(
            lambda: (
                one.transport.client_address(2) is not None
                and two.transport.client_address(1) is not None
            )
        )
        assert one.transport.client_address(2) == "127.0.0.1:6380"
        assert two.transport.client_address(1) == "127.0.0.1:6379"
        assert one.transport.peer_states()[2].client_addr == "127.0.0.1:6380"
        # A TLS client is sent to the TLS port of a node that has one, else the plain one.
        assert one.transport.client_address(2, True) == "127.0.0.1:6390"
        assert one.transport.peer_states()[2].client_tls_port == 6390
        assert two.transport.client_address(1, True) == "127.0.0.1:6379"


async def test_three_nodes_all_to_all(net) -> None:
    with trio.fail_after(10):
        nodes = await net.start_cluster([1, 2, 3])
        for src in nodes:
            for dst in nodes:
                if src != dst:
                    nodes[src].transport.send(heartbeat(src, dst, context=src * 10 + dst))
        await net.wait_until(lambda: all(len(n.received) == 2 for n in nodes.values()))
        for dst, node in nodes.items():
            assert sorted(m.context for m in node.received) == sorted(  # type: ignore[union-attr]
                src * 10 + dst for src in nodes if src != dst
            )


async def test_heartbeats_of_many_groups_travel_as_one_frame(net) -> None:
    """On a node with several data groups, every Heartbeat and HeartbeatResp sent to a peer
    in one pass inside `coalescing()` blocks (the ticker's pass; nested blocks included) is
    one HeartbeatBatch frame; the receiving transport hands each one on as its own
    message."""
    with trio.fail_after(10):
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        port = listeners[0].socket.getsockname()[1]
        frames: list[object] = []

        async def records_frames(stream: trio.SocketStream) -> None:
            framed = FramedStream(stream, 1 << 20)
            await handshake.accept(
                framed,
                local_id=2,
                client_addr="",
                secrets=ClusterSecrets.none(),
                is_member=lambda _node: True,
                limits=TransportLimits(),
            )
            while True:
                frames.append(await framed.receive())

        await net.nursery.start(trio.serve_listeners, records_frames, listeners)
        node = await net.start_node(1, peers={2: Address("127.0.0.1", port)}, coalesce_raft=True)
        await net.wait_until(lambda: _connected(node, 2))
        beats = [
            Heartbeat(group=g, src=1, dst=2, term=g, commit=g * 10, context=g) for g in (1, 2, 3)
        ]
        acks = [HeartbeatResp(group=g, src=1, dst=2, term=g, context=0) for g in (4, 5)]
        with node.transport.coalescing():
            for msg in [beats[0], acks[0], beats[1]]:
                node.transport.send(msg)
            with node.transport.coalescing():
                for msg in [acks[1], beats[2]]:
                    node.transport.send(msg)
        await net.wait_until(lambda: frames)
        await trio.testing.wait_all_tasks_blocked()
        assert len(frames) == 1
        (batch,) = frames
        assert isinstance(batch, HeartbeatBatch)
        assert (batch.src, batch.dst) == (1, 2)
        assert batch.messages() == [*beats, *acks]

    with trio.fail_after(10):
        nodes = await net.start_cluster([3, 4], coalesce_raft=True)
        sent = [Heartbeat(group=g, src=3, dst=4, term=1, commit=0, context=g) for g in range(9)]
        with nodes[3].transport.coalescing():
            for msg in sent:
                nodes[3].transport.send(msg)
        await net.wait_until(lambda: len(nodes[4].received) == len(sent))
        assert nodes[4].received == sent


async def test_listen_address_reports_the_bound_port(net) -> None:
    with trio.fail_after(5):
        node = await net.start_node(1)
        assert node.address.host == "127.0.0.1"
        assert node.address.port > 0


async def test_reconnects_after_peer_restart(net) -> None:
    with trio.fail_after(15):
        nodes = await net.start_cluster([1, 2])
        nodes[1].transport.send(heartbeat(1, 2, context=1))
        await net.wait_until(lambda: len(nodes[2].received) == 1)
        port = nodes[2].address.port
        nodes[2].stop()
        await net.wait_until(lambda: not _connected(nodes[1], 2))
        restarted = await net.start_node(
            2, listen=Address("127.0.0.1", port), peers={1: nodes[1].address}
        )
        await net.wait_until(lambda: _connected(nodes[1], 2))
        nodes[1].transport.send(heartbeat(1, 2, context=2))
        await net.wait_until(lambda: restarted.received)
        assert [m.context for m in restarted.received] == [2]  # type: ignore[union-attr]
        assert nodes[1].transport.peer_states()[2].reconnects >= 1


async def test_messages_queued_while_disconnected_are_delivered(net) -> None:
    with trio.fail_after(10):
        late = socket.socket()
        late.bind(("127.0.0.1", 0))
        port = late.getsockname()[1]
        late.close()
        one = await net.start_node(1, peers={2: Address("127.0.0.1", port)})
        one.transport.send(heartbeat(1, 2, context=5))
        await trio.sleep(0.05)  # a few failed dials
        two = await net.start_node(2, listen=Address("127.0.0.1", port), peers={1: one.address})
        await net.wait_until(lambda: two.received)
        assert [m.context for m in two.received] == [5]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("payload", "tagged", "reason"),
    [
        (encode_frame(b"\x01" * 24), True, "CodecError"),
        (struct.pack(">I", (1 << 20) + 1), False, "FrameError"),
        (encode_frame(encode(heartbeat(9, 1))), True, "ProtocolViolation"),  # src: not sender
        (encode_frame(encode(heartbeat(3, 1))), False, "ForgedFrame"),  # no MAC tag
    ],
    ids=["garbage", "oversized", "spoofed-src", "untagged"],
)
async def test_bad_frame_closes_only_that_connection(
    net, caplog: pytest.LogCaptureFixture, payload: bytes, tagged: bool, reason: str
) -> None:
    caplog.set_level(logging.INFO, logger="seshat_trio.transport")
    limits = TransportLimits(max_frame_bytes=1 << 20, backoff_initial=0.01, backoff_max=0.2)
    with trio.fail_after(10):
        nodes = await net.start_cluster([1, 2], limits=limits)
        nowhere = Address("127.0.0.1", 1)  # 3 and 4 are members that nobody dials
        nodes[1].transport.update_peers({2: nodes[2].address, 3: nowhere, 4: nowhere})
        raw = await dial(nodes[1].address, 3, 1, ClusterSecrets.none())
        good = await dial(nodes[1].address, 4, 1, ClusterSecrets.none())
        if tagged:
            await raw.send_frames([payload])
        else:
            await raw.stream.send_all(payload + b"\0" * 16)
        assert await closed_within(raw.stream, 5)
        assert reason in closed_reasons(caplog)
        # The node still serves its other connections, old and new.
        await good.send_frames([encode_frame(encode(heartbeat(4, 1, context=44)))])
        nodes[2].transport.send(heartbeat(2, 1, context=22))
        await net.wait_until(lambda: len(nodes[1].received) == 2)
        assert sorted(m.context for m in nodes[1].received) == [22, 44]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "hello",
    [
        Hello(node_id=3, peer_id=2, nonce=NONCE),  # meant for another node
        Hello(node_id=3, peer_id=1, protocol_version=99, nonce=NONCE),
        Hello(node_id=3, peer_id=1, magic=1, nonce=NONCE),
        Hello(node_id=3, peer_id=1),  # no nonce
        heartbeat(3, 1),  # no Hello at all
    ],
    ids=["wrong-node", "version", "magic", "no-nonce", "no-hello"],
)
async def test_bad_handshake_is_refused(
    net, caplog: pytest.LogCaptureFixture, hello: object
) -> None:
    caplog.set_level(logging.INFO, logger="seshat_trio.transport")
    with trio.fail_after(10):
        node = await net.start_node(1)
        stream = await trio.open_tcp_stream(node.address.host, node.address.port)
        await stream.send_all(encode_frame(encode(hello)))  # type: ignore[arg-type]
        assert await closed_within(stream, 5)
        assert "HandshakeError" in closed_reasons(caplog)
        assert node.received == []


async def test_dialling_the_wrong_node_is_detected(net) -> None:
    with trio.fail_after(10):
        nodes = await net.start_cluster([1, 2, 3])
        # Node 1 is told node 2 lives at node 3's address.
        nodes[1].transport.update_peers({2: nodes[3].address, 3: nodes[3].address})
        nodes[1].transport.send(heartbeat(1, 2))
        nodes[1].transport.send(heartbeat(1, 3, context=13))
        await net.wait_until(lambda: nodes[3].received)
        await trio.sleep(0.1)
        assert [m.context for m in nodes[3].received] == [13]  # type: ignore[union-attr]
        assert nodes[2].received == []
        assert not nodes[1].transport.peer_states()[2].connected


async def test_backpressure_drops_heartbeats_and_counts(net) -> None:
    """A peer that completes the handshake and then never reads."""
    limits = TransportLimits(
        max_queue_frames=16,
        max_frame_bytes=1 << 20,
        max_queue_bytes=1 << 30,
        backoff_initial=0.01,
        backoff_max=0.2,
    )
    with trio.fail_after(20):
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        port = listeners[0].socket.getsockname()[1]
        stalled = trio.Event()

        async def never_reads(stream: trio.SocketStream) -> None:
            framed = FramedStream(stream, 1 << 20)
            await handshake.accept(
                framed,
                local_id=2,
                client_addr="",
                secrets=ClusterSecrets.none(),
                is_member=lambda _node: True,
                limits=TransportLimits(),
            )
            stalled.set()
            await trio.sleep_forever()

        await net.nursery.start(trio.serve_listeners, never_reads, listeners)
        node = await net.start_node(1, peers={2: Address("127.0.0.1", port)}, limits=limits)
        await stalled.wait()
        await net.wait_until(lambda: _connected(node, 2))
        # Fill the socket buffers until frames stay queued.
        index = 0
        while node.transport.peer_states()[2].queue_frames < 16:
            index += 1
            node.transport.send(_append(1, 2, index, size=256 << 10))
            await trio.sleep(0.001)
        before = node.transport.peer_states()[2]
        for n in range(10):
            node.transport.send(heartbeat(1, 2, context=n))
            node.transport.send(_append(1, 2, index + n + 1))
        await trio.testing.wait_all_tasks_blocked()
        after = node.transport.peer_states()[2]
        assert after.queue_frames == 16
        # Each heartbeat finds the queue full of Appends and is dropped; each Append
        # evicts the oldest one.
        assert after.dropped_heartbeats - before.dropped_heartbeats == 10
        assert after.dropped - before.dropped == 20


async def test_send_to_unknown_node_is_counted_not_raised(net) -> None:
    with trio.fail_after(5):
        node = await net.start_node(1)
        node.transport.send(Heartbeat(group=1, src=1, dst=7, term=1, commit=0, context=0))
        assert node.transport.undeliverable == 1


async def test_removed_peer_is_no_longer_dialled(net) -> None:
    with trio.fail_after(10):
        nodes = await net.start_cluster([1, 2])
        await net.wait_until(lambda: _connected(nodes[1], 2))
        nodes[1].transport.update_peers({})
        assert nodes[1].transport.peer_states() == {}
        nodes[1].transport.send(heartbeat(1, 2))
        assert nodes[1].transport.undeliverable == 1


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="max_queue_frames"):
        TransportLimits(max_queue_frames=0)
    with pytest.raises(ValueError, match="max_frame_bytes must be <= max_queue_bytes"):
        TransportLimits(max_frame_bytes=2_000, max_queue_bytes=1_500)
    with pytest.raises(ValueError, match="max_frame_bytes must be > 1024"):
        TransportLimits(max_frame_bytes=1_024)  # no room for a forwarded reply's envelope
