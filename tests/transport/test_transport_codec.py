"""Codec: round trip of every wire message type; malformed bytes only ever raise CodecError;
the plain layouts (flat.py) write and read what pycapnp does."""

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seshat_trio.raft import (
    Append,
    AppendResp,
    Entry,
    EntryKind,
    Heartbeat,
    HeartbeatResp,
    Membership,
    PreVote,
    PreVoteResp,
    ReadIndexReq,
    ReadIndexResp,
    Snapshot,
    SnapshotChunk,
    SnapshotChunkAck,
    SnapshotMeta,
    TimeoutNow,
    Vote,
    VoteResp,
)
from seshat_trio.transport import (
    MESSAGE_TYPES,
    CodecError,
    ForwardError,
    ForwardReply,
    ForwardRequest,
    HeartbeatBatch,
    Hello,
    HelloAuth,
    Publish,
    PublishCount,
    RaftBatch,
    decode,
    encode,
)
from seshat_trio.transport.blobs import (
    pack_beats,
    pack_commands,
    pack_entries,
    pack_frames,
    unpack_acks,
    unpack_beats,
    unpack_commands,
    unpack_entries,
    unpack_frames,
)
from seshat_trio.transport.codec import _BY_TYPE, decode_capnp, encode_capnp

u64 = st.integers(0, 2**64 - 1)
ids = st.integers(1, 2**64 - 1)
entries = st.lists(
    st.builds(Entry, u64, u64, st.sampled_from(EntryKind), st.binary(max_size=64)), max_size=8
).map(tuple)


@st.composite
def memberships(draw: st.DrawFn) -> Membership:
    nodes = draw(st.lists(ids, max_size=6, unique=True))
    split = draw(st.integers(0, len(nodes)))
    return Membership(frozenset(nodes[:split]), frozenset(nodes[split:]))


metas = st.builds(SnapshotMeta, u64, u64, memberships())
header = {"group": u64, "src": ids, "dst": ids, "term": u64}
commands = st.lists(st.lists(st.binary(max_size=20), max_size=4).map(tuple), max_size=4).map(tuple)

STRATEGIES = {
    Hello: st.builds(
        Hello,
        node_id=ids,
        peer_id=ids,
        protocol_version=st.integers(0, 65535),
        nonce=st.binary(max_size=40),
        proofs=st.lists(st.binary(max_size=40), max_size=3).map(tuple),
        features=u64,
    ),
    HelloAuth: st.builds(HelloAuth, st.binary(max_size=40)),
    PreVote: st.builds(PreVote, **header, last_log_index=u64, last_log_term=u64),
    PreVoteResp: st.builds(PreVoteResp, **header, granted=st.booleans()),
    Vote: st.builds(Vote, **header, last_log_index=u64, last_log_term=u64, forced=st.booleans()),
    VoteResp: st.builds(VoteResp, **header, granted=st.booleans()),
    Append: st.builds(Append, **header, prev_index=u64, prev_term=u64, entries=entries, commit=u64),
    AppendResp: st.builds(
        AppendResp, **header, success=st.booleans(), index=u64, hint_index=u64, hint_term=u64
    ),
    Heartbeat: st.builds(Heartbeat, **header, commit=u64, context=u64),
    HeartbeatResp: st.builds(HeartbeatResp, **header, context=u64),
    Snapshot: st.builds(Snapshot, **header, meta=metas),
    SnapshotChunk: st.builds(
        SnapshotChunk,
        **header,
        meta=metas,
        offset=u64,
        data=st.binary(max_size=200),
        last=st.booleans(),
    ),
    SnapshotChunkAck: st.builds(
        SnapshotChunkAck, **header, meta_index=u64, offset=u64, ok=st.booleans()
    ),
    TimeoutNow: st.builds(TimeoutNow, **header),
    ReadIndexReq: st.builds(ReadIndexReq, **header, request_ids=st.lists(u64).map(tuple)),
    ReadIndexResp: st.builds(
        ReadIndexResp, **header, request_ids=st.lists(u64).map(tuple), index=u64, ok=st.booleans()
    ),
    ForwardRequest: st.builds(ForwardRequest, u64, st.integers(0, 255), commands, u64),
    ForwardReply: st.builds(ForwardReply, u64, st.binary(max_size=200)),
    ForwardError: st.builds(ForwardError, u64, st.text(max_size=40)),
    Publish: st.builds(
        Publish, u64, st.binary(max_size=40), st.binary(max_size=200), st.booleans()
    ),
    PublishCount: st.builds(PublishCount, u64, u64),
    HeartbeatBatch: st.builds(
        HeartbeatBatch,
        ids,
        ids,
        st.lists(st.tuples(u64, u64, u64, u64), max_size=6).map(tuple),
        st.lists(st.tuples(u64, u64, u64), max_size=6).map(tuple),
    ),
    RaftBatch: st.builds(RaftBatch, ids, ids, st.binary(max_size=200)),
}


def test_every_wire_type_has_a_strategy() -> None:
    assert set(STRATEGIES) == set(MESSAGE_TYPES)


@pytest.mark.parametrize("cls", list(STRATEGIES), ids=lambda c: c.__name__)
@settings(max_examples=40)
@given(data=st.data())
def test_round_trip(cls: type, data: st.DataObject) -> None:
    msg = data.draw(STRATEGIES[cls])
    assert decode(encode(msg)) == msg


@given(entries)
def test_entries_blob_round_trip(batch: tuple[Entry, ...]) -> None:
    assert unpack_entries(pack_entries(batch)) == batch


@given(commands)
def test_commands_blob_round_trip(cmds: tuple[tuple[bytes, ...], ...]) -> None:
    assert unpack_commands(pack_commands(cmds)) == cmds


@given(entries.filter(bool), st.data())
def test_truncated_or_padded_entries_blob_is_codec_error(
    batch: tuple[Entry, ...], data: st.DataObject
) -> None:
    blob = pack_entries(batch)
    cut = data.draw(st.integers(0, len(blob) - 1))
    with pytest.raises(CodecError):
        unpack_entries(blob[:cut])
    with pytest.raises(CodecError, match="trailing"):
        unpack_entries(blob + b"\0")


def test_unknown_entry_kind_is_codec_error() -> None:
    blob = struct.pack(">IQQBI", 1, 1, 1, 9, 0)
    with pytest.raises(CodecError, match="kind 9"):
        unpack_entries(blob)


@given(st.binary(max_size=300))
def test_garbage_is_codec_error(garbage: bytes) -> None:
    """Random bytes either happen to form an Envelope or raise CodecError, nothing else."""
    try:
        decoded = decode(garbage)
    except CodecError:
        return
    assert type(decoded) in MESSAGE_TYPES


def test_empty_and_partial_word_frames_are_codec_errors() -> None:
    frame = encode(AppendResp(group=1, src=1, dst=2, term=1, success=True, index=3))
    for bad in (b"", frame[:-3], frame + b"\0"):
        with pytest.raises(CodecError):
            decode(bad)


@settings(max_examples=200)
@given(st.sampled_from(list(STRATEGIES)), st.data())
def test_corrupted_valid_frames_decode_or_codec_error(cls: type, data: st.DataObject) -> None:
    frame = bytearray(encode(data.draw(STRATEGIES[cls])))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(frame) - 1))
        frame[position] = data.draw(st.integers(0, 255))
    try:
        decoded = decode(bytes(frame))
    except CodecError:
        return
    assert type(decoded) in MESSAGE_TYPES


def test_invalid_membership_on_the_wire_is_codec_error() -> None:
    meta = SnapshotMeta(1, 1, Membership(frozenset({1}), frozenset({2})))
    frame = encode(Snapshot(group=1, src=1, dst=2, term=1, meta=meta))
    # Make the learner equal to the voter: a membership the attrs class refuses.
    learner_at = frame.rindex(struct.pack("<Q", 2))
    bad = frame[:learner_at] + struct.pack("<Q", 1) + frame[learner_at + 8 :]
    with pytest.raises(CodecError, match="both voter and learner"):
        decode(bad)


def _append_of(entry: Entry) -> Append:
    """An Append of group 1 from node 1 to node 2 carrying `entry` alone."""
    return Append(
        group=1, src=1, dst=2, term=1, prev_index=0, prev_term=0, commit=0, entries=(entry,)
    )


def test_encoding_out_of_range_values_is_value_error() -> None:
    with pytest.raises(ValueError, match="Heartbeat"):
        encode(Heartbeat(group=1, src=1, dst=2, term=-1, commit=0, context=0))
    with pytest.raises(ValueError, match="entry"):
        encode(_append_of(Entry(-1, 1, EntryKind.NORMAL, b"")))


def test_encoding_a_non_message_is_type_error() -> None:
    with pytest.raises(TypeError, match="not a wire message"):
        encode(object())  # type: ignore[arg-type]


def test_heartbeat_batch_unpacks_into_the_messages_it_carries() -> None:
    batch = HeartbeatBatch(2, 3, ((7, 4, 10, 1), (9, 5, 0, 0)), ((8, 6, 2),))
    decoded = decode(encode(batch))
    assert isinstance(decoded, HeartbeatBatch)
    assert decoded.messages() == [
        Heartbeat(group=7, src=2, dst=3, term=4, commit=10, context=1),
        Heartbeat(group=9, src=2, dst=3, term=5, commit=0, context=0),
        HeartbeatResp(group=8, src=2, dst=3, term=6, context=2),
    ]


def test_beats_and_acks_blobs_of_partial_rows_are_codec_errors() -> None:
    blob = pack_beats([(1, 2, 3, 4)])
    with pytest.raises(CodecError):
        unpack_beats(blob[:-1])
    with pytest.raises(CodecError):
        unpack_acks(blob + b"\0")
    with pytest.raises(ValueError, match="beats"):
        pack_beats([(2**64, 0, 0, 0)])


@given(st.lists(st.binary(max_size=50), max_size=8))
def test_frames_blob_round_trip(frames: list[bytes]) -> None:
    assert unpack_frames(pack_frames(frames)) == tuple(frames)


@pytest.mark.parametrize("cut", [1, 3, 5])
def test_truncated_frames_blob_is_codec_error(cut: int) -> None:
    blob = pack_frames([b"abcd", b"ef"])
    with pytest.raises(CodecError, match="truncated"):
        unpack_frames(blob[:-cut])


PLAIN = [cls for cls in STRATEGIES if _BY_TYPE[cls].layout is not None]


def test_a_write_rounds_messages_have_plain_layouts() -> None:
    assert {Append, AppendResp, Heartbeat, HeartbeatResp, RaftBatch, HeartbeatBatch} <= set(PLAIN)
    assert Snapshot not in PLAIN and ForwardRequest not in PLAIN  # a struct, a UInt8 field


@pytest.mark.parametrize("cls", PLAIN, ids=lambda c: c.__name__)
@settings(max_examples=40)
@given(data=st.data())
def test_plain_layouts_write_what_pycapnp_writes(cls: type, data: st.DataObject) -> None:
    msg = data.draw(STRATEGIES[cls])
    frame = encode(msg)
    assert frame == encode_capnp(msg)
    assert decode(frame) == decode_capnp(frame) == msg


def _outcome(read: object, frame: bytes) -> object:
    try:
        return read(frame)  # type: ignore[operator]
    except CodecError:
        return CodecError


@settings(max_examples=300)
@given(st.sampled_from(PLAIN), st.data())
def test_plain_layouts_read_corrupted_frames_as_pycapnp_does(
    cls: type, data: st.DataObject
) -> None:
    frame = bytearray(encode(data.draw(STRATEGIES[cls])))
    for _ in range(data.draw(st.integers(1, 3))):
        # Mostly the head and the pointers, where the shape is decided.
        position = data.draw(st.integers(0, min(len(frame), 96) - 1))
        frame[position] = data.draw(st.integers(0, 255))
    assert _outcome(decode, bytes(frame)) == _outcome(decode_capnp, bytes(frame))


def test_other_shapes_are_read_by_pycapnp() -> None:
    big = _append_of(Entry(1, 1, EntryKind.NORMAL, b"x" * 20_000))
    several_segments = encode_capnp(big)
    assert struct.unpack_from("<I", several_segments)[0] > 0
    assert decode(several_segments) == big
    assert encode(big) != several_segments and decode(encode(big)) == big  # one segment
    # An AppendResp struct one data word longer (a later schema's): the layout declines it.
    msg = AppendResp(group=1, src=1, dst=2, term=1, success=True, index=3)
    frame = encode(msg)
    words = struct.unpack_from("<I", frame, 4)[0]
    longer = bytearray(struct.pack("<II", 0, words + 1) + frame[8:] + bytes(8))
    longer[28:30] = struct.pack("<H", 9)  # the member pointer's data section size
    layout = _BY_TYPE[AppendResp].layout
    assert layout is not None and layout.decode(bytes(longer), 9 << 32) is None
    assert decode(bytes(longer)) == decode_capnp(bytes(longer)) == msg


@settings(max_examples=300)
@given(
    st.sampled_from([cls for cls in PLAIN if _BY_TYPE[cls].layout.pointers]),  # type: ignore[union-attr]
    st.data(),
)
def test_plain_layouts_read_any_data_pointer_as_pycapnp_does(
    cls: type, data: st.DataObject
) -> None:
    layout = _BY_TYPE[cls].layout
    assert layout is not None
    frame = bytearray(encode(data.draw(STRATEGIES[cls])))
    at = 32 + 8 * layout.data_words + 8 * data.draw(st.integers(0, layout.pointers - 1))
    offset = data.draw(st.integers(-12, 12))
    # Byte lists ending near the segment's end, before or past it, and other pointer kinds.
    count = max(0, len(frame) - (at + 8 + 8 * offset) + data.draw(st.integers(-9, 9)))
    low = (offset & ((1 << 30) - 1)) << 2 | data.draw(st.sampled_from([1, 1, 1, 0, 2, 3]))
    high = count << 3 | data.draw(st.sampled_from([2, 2, 2, 0, 1, 3, 7]))
    frame[at : at + 8] = struct.pack("<II", low, high)
    assert _outcome(decode, bytes(frame)) == _outcome(decode_capnp, bytes(frame))
