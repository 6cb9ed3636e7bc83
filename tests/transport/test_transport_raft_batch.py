"""RaftBatch: every group's Raft messages to one peer in one frame per pass (raft_batch.py),
sans-IO and over real connections, with a peer of an older build and forged batches."""

import logging

import pytest
import trio
from tests.server.byte_streams import closed_within
from tests.transport.raw_peer import closed_reasons, dial, heartbeat

from seshat_trio.config.model import Address
from seshat_trio.raft import (
    Append,
    AppendResp,
    Entry,
    EntryKind,
    Heartbeat,
    HeartbeatResp,
    Message,
    VoteResp,
)
from seshat_trio.transport import (
    FEATURE_RAFT_BATCH,
    FEATURES,
    ClusterSecrets,
    ForwardError,
    HeartbeatBatch,
    ProtocolViolation,
    RaftBatch,
    TransportLimits,
    decode,
    encode,
    encode_frame,
    handshake,
)
from seshat_trio.transport.blobs import pack_frames
from seshat_trio.transport.connection import FramedStream
from seshat_trio.transport.framing import FrameDecoder
from seshat_trio.transport.raft_batch import RaftCoalescer, unpack


def _append(group: int, src: int = 1, dst: int = 2, size: int = 10) -> Append:
    entry = Entry(1, 5, EntryKind.NORMAL, b"v" * size)
    return Append(
        group=group, src=src, dst=dst, term=1, prev_index=4, prev_term=1, entries=(entry,),
        commit=3,
    )  # fmt: skip


def _resp(group: int, src: int = 1, dst: int = 2) -> AppendResp:
    return AppendResp(group=group, src=src, dst=dst, term=1, success=True, index=5)


def _decoded(frame: bytes) -> object:
    decoder = FrameDecoder(1 << 24)
    decoder.feed(frame)
    payload = decoder.next_frame()
    assert payload is not None and decoder.next_frame() is None
    return decode(payload)


def test_one_frame_per_peer_holds_every_group_in_order() -> None:
    coalescer = RaftCoalescer(1)
    to_two = [
        _append(1),
        _resp(2),
        _append(3),
        VoteResp(group=4, src=1, dst=2, term=2, granted=True),
    ]
    to_three = [_resp(5, dst=3), _append(6, dst=3)]
    for msg in [to_two[0], to_three[0], to_two[1], to_two[2], to_three[1], to_two[3]]:
        coalescer.add(msg)
    assert len(coalescer) == 6
    frames = coalescer.drain()
    assert len(coalescer) == 0 and coalescer.drain() == []
    assert [dst for dst, _ in frames] == [2, 3]
    batches = [_decoded(frame) for _, frame in frames]
    assert all(isinstance(b, RaftBatch) for b in batches)
    assert [(b.src, b.dst) for b in batches] == [(1, 2), (1, 3)]  # type: ignore[union-attr]
    assert unpack(batches[0]) == to_two  # type: ignore[arg-type]
    assert unpack(batches[1]) == to_three  # type: ignore[arg-type]


def test_a_lone_or_oversized_message_goes_as_its_own_frame() -> None:
    coalescer = RaftCoalescer(1, max_bytes=300)
    coalescer.add(_append(1, dst=3))
    big, small = _append(2, size=400), [_resp(3), _resp(4)]
    for msg in [small[0], big, *small[1:], _resp(5)]:
        coalescer.add(msg)
    decoded = [(dst, _decoded(frame)) for dst, frame in coalescer.drain()]
    assert decoded[0] == (3, _append(1, dst=3))  # alone: a plain frame
    assert decoded[1:4] == [(2, small[0]), (2, big), (2, _batch_of(small[1], _resp(5)))]


def _batch_of(*messages: Message) -> RaftBatch:
    return RaftBatch(1, 2, pack_frames([encode(m) for m in messages]))


@pytest.mark.parametrize(
    ("batch", "detail"),
    [
        (_batch_of(_resp(1), _resp(2, src=9)), "src=9"),
        (_batch_of(_resp(1, dst=7)), "dst=7"),
        (RaftBatch(1, 2, pack_frames([encode(ForwardError(1, "x"))])), "ForwardError inside"),
        (RaftBatch(1, 2, pack_frames([encode(_batch_of(_resp(1)))])), "RaftBatch inside"),
    ],
    ids=["other-src", "other-dst", "not-raft", "nested"],
)
def test_unpack_refuses_what_a_batch_may_not_carry(batch: RaftBatch, detail: str) -> None:
    with pytest.raises(ProtocolViolation, match=detail):
        unpack(batch)


async def _recording_peer(net: object, node_id: int, features: int) -> tuple[Address, list[object]]:
    """A listener that completes the handshake as `node_id` announcing `features`, then
    records every message it receives."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    frames: list[object] = []

    async def record(stream: trio.SocketStream) -> None:
        framed = FramedStream(stream, 1 << 20)
        await handshake.accept(
            framed, local_id=node_id, client_addr="", secrets=ClusterSecrets.none(),
            is_member=lambda _node: True, limits=TransportLimits(), features=features,
        )  # fmt: skip
        while True:
            frames.append(await framed.receive())

    await net.nursery.start(trio.serve_listeners, record, listeners)  # type: ignore[attr-defined]
    return Address("127.0.0.1", listeners[0].socket.getsockname()[1]), frames


@pytest.mark.parametrize(
    ("features", "frames_expected"),
    [(FEATURES, 1), (FEATURES & ~FEATURE_RAFT_BATCH, 3)],
    ids=["batch", "older-peer"],
)
async def test_raft_messages_of_one_pass_travel_as_one_frame(
    net, features: int, frames_expected: int
) -> None:
    with trio.fail_after(10):
        address, frames = await _recording_peer(net, 2, features)
        node = await net.start_node(1, peers={2: address}, coalesce_raft=True)
        await net.wait_until(lambda: node.transport.peer_states()[2].connected)
        sent = [_append(1), _resp(2), _append(3)]
        for msg in sent:
            node.transport.send(msg)
        await net.wait_until(lambda: frames)
        await trio.testing.wait_all_tasks_blocked()
        assert len(frames) == frames_expected
        got = unpack(frames[0]) if frames_expected == 1 else frames  # type: ignore[arg-type]
        assert got == sent


async def test_a_batch_is_delivered_as_the_messages_it_carries(net) -> None:
    with trio.fail_after(10):
        nodes = await net.start_cluster([1, 2], coalesce_raft=True)
        sent = [m for g in range(1, 6) for m in (_append(g), _resp(g + 10))]
        for msg in sent:
            nodes[1].transport.send(msg)
        await net.wait_until(lambda: len(nodes[2].received) == len(sent))
        assert nodes[2].received == sent


async def test_a_node_without_coalescing_sends_single_frames(net) -> None:
    """One data group: every message leaves in its own frame, in the order sent, heartbeats
    and their answers too (not a HeartbeatBatch: a read round's heartbeat waits for no
    flush task)."""
    with trio.fail_after(10):
        address, frames = await _recording_peer(net, 2, FEATURES)
        node = await net.start_node(1, peers={2: address})
        await net.wait_until(lambda: node.transport.peer_states()[2].connected)
        beat = heartbeat(1, 2, context=7)
        answer = HeartbeatResp(group=2, src=1, dst=2, term=1, context=8)
        for msg in [_append(1), beat, _resp(2), answer]:
            node.transport.send(msg)
        await net.wait_until(lambda: len(frames) == 4)
        assert frames == [_append(1), beat, _resp(2), answer]


@pytest.mark.parametrize(
    ("batch", "reason"),
    [
        (RaftBatch(3, 1, pack_frames([encode(heartbeat(9, 1))])), "ProtocolViolation"),
        (RaftBatch(3, 1, pack_frames([encode(heartbeat(3, 1))]) + b"\x00\x00"), "CodecError"),
        (RaftBatch(9, 1, pack_frames([encode(heartbeat(9, 1))])), "ProtocolViolation"),
    ],
    ids=["inner-spoofed-src", "truncated", "outer-spoofed-src"],
)
async def test_a_forged_batch_closes_only_that_connection(
    net, caplog: pytest.LogCaptureFixture, batch: RaftBatch, reason: str
) -> None:
    caplog.set_level(logging.INFO, logger="seshat_trio.transport")
    with trio.fail_after(10):
        node = await net.start_node(1)
        nowhere = Address("127.0.0.1", 1)  # 3 and 4 are members that nobody dials
        node.transport.update_peers({3: nowhere, 4: nowhere})
        forger = await dial(node.address, 3, 1, ClusterSecrets.none())
        good = await dial(node.address, 4, 1, ClusterSecrets.none())
        await forger.send_frames([encode_frame(encode(batch))])
        assert await closed_within(forger.stream, 5)
        assert reason in closed_reasons(caplog)
        assert node.received == []
        honest = RaftBatch(4, 1, pack_frames([encode(heartbeat(4, 1, context=c)) for c in (7, 8)]))
        await good.send_frames([encode_frame(encode(honest))])
        await net.wait_until(lambda: len(node.received) == 2)
        assert [m.context for m in node.received] == [7, 8]  # type: ignore[union-attr]


async def test_outside_a_coalescing_block_heartbeats_leave_at_once(net) -> None:
    """Several data groups, outside a `coalescing()` block: a heartbeat and an answer (a
    read round's) leave at once, each in its own frame; the other Raft messages wait for
    the flush task, which sends them as one frame after."""
    with trio.fail_after(10):
        address, frames = await _recording_peer(net, 2, FEATURES)
        node = await net.start_node(1, peers={2: address}, coalesce_raft=True)
        await net.wait_until(lambda: node.transport.peer_states()[2].connected)
        beat = heartbeat(1, 2, context=7)
        answer = HeartbeatResp(group=2, src=1, dst=2, term=1, context=8)
        for msg in [_append(1), beat, _resp(2), answer]:
            node.transport.send(msg)
        await net.wait_until(lambda: len(frames) == 3)
        await trio.testing.wait_all_tasks_blocked()
        assert frames[:2] == [beat, answer]
        assert len(frames) == 3 and unpack(frames[2]) == [_append(1), _resp(2)]  # type: ignore[arg-type]


async def test_the_answers_to_a_received_heartbeat_batch_share_a_frame(net) -> None:
    """The answers the groups send while a received HeartbeatBatch is stepped into them
    (inside a `coalescing()` block) leave as one HeartbeatBatch, not one frame each."""
    with trio.fail_after(10):
        address, frames = await _recording_peer(net, 1, FEATURES)
        node = await net.start_node(2, peers={1: address}, coalesce_raft=True)

        def answer(msg: object) -> None:
            assert isinstance(msg, Heartbeat)
            node.transport.send(
                HeartbeatResp(group=msg.group, src=2, dst=1, term=msg.term, context=msg.context)
            )

        node.transport._on_message = answer
        await net.wait_until(lambda: node.transport.peer_states()[1].connected)
        peer = await dial(node.address, 1, 2, ClusterSecrets.none())
        beats = tuple((g, 1, 0, g * 10) for g in (1, 2, 3))
        await peer.send_frames([encode_frame(encode(HeartbeatBatch(1, 2, beats, ())))])
        await net.wait_until(lambda: frames)
        await trio.testing.wait_all_tasks_blocked()
        assert frames == [HeartbeatBatch(2, 1, (), tuple((g, 1, g * 10) for g in (1, 2, 3)))]
