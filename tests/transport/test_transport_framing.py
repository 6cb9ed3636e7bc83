"""Length-prefixed framing: any split of the input, oversize and empty frames, garbage."""

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seshat_trio.transport import FrameDecoder, FrameError, encode_frame

payloads = st.lists(st.binary(min_size=1, max_size=300), max_size=12)


def _drain(decoder: FrameDecoder) -> list[bytes]:
    out = []
    while (frame := decoder.next_frame()) is not None:
        out.append(frame)
    return out


@given(payloads, st.data())
def test_frames_survive_any_split(frames: list[bytes], data: st.DataObject) -> None:
    wire = b"".join(encode_frame(f) for f in frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=20)))
    decoder = FrameDecoder(1024)
    got: list[bytes] = []
    start = 0
    for cut in [*cuts, len(wire)]:
        decoder.feed(wire[start:cut])
        got.extend(_drain(decoder))
        start = cut
    assert got == frames
    assert decoder.buffered == 0


@given(payloads)
def test_byte_by_byte(frames: list[bytes]) -> None:
    decoder = FrameDecoder(1024)
    got = []
    for byte in b"".join(encode_frame(f) for f in frames):
        decoder.feed(bytes([byte]))
        got.extend(_drain(decoder))
    assert got == frames


@given(st.integers(101, 2**32 - 1), st.binary(max_size=50))
def test_oversized_header_fails_before_body_arrives(length: int, tail: bytes) -> None:
    decoder = FrameDecoder(100)
    decoder.feed(encode_frame(b"ok") + struct.pack(">I", length) + tail)
    assert decoder.next_frame() == b"ok"
    with pytest.raises(FrameError, match=r"outside 1\.\.100"):
        decoder.next_frame()
    # Failed for good: the stream position is meaningless after a framing error.
    with pytest.raises(FrameError):
        decoder.feed(b"more")
    with pytest.raises(FrameError):
        decoder.next_frame()


def test_frame_of_exactly_max_is_accepted() -> None:
    decoder = FrameDecoder(100)
    decoder.feed(encode_frame(b"x" * 100))
    assert decoder.next_frame() == b"x" * 100


def test_zero_length_frame_is_an_error() -> None:
    decoder = FrameDecoder(100)
    decoder.feed(b"\0\0\0\0")
    with pytest.raises(FrameError):
        decoder.next_frame()


@given(st.binary(max_size=200))
def test_garbage_yields_frames_or_frame_error_only(garbage: bytes) -> None:
    decoder = FrameDecoder(64)
    decoder.feed(garbage)
    try:
        frames = _drain(decoder)
    except FrameError:
        return
    assert sum(len(f) + 4 for f in frames) + decoder.buffered == len(garbage)


def test_encode_frame_refuses_empty_payload() -> None:
    with pytest.raises(ValueError, match=r"1\.\."):
        encode_frame(b"")


def test_long_stream_does_not_keep_consumed_bytes() -> None:
    decoder = FrameDecoder(1 << 16)
    chunk = encode_frame(b"y" * 1000)
    for _ in range(500):
        decoder.feed(chunk[:700])
        assert decoder.next_frame() is None
        decoder.feed(chunk[700:] + chunk[:10])
        assert decoder.next_frame() == b"y" * 1000
        decoder.feed(chunk[10:])
        assert decoder.next_frame() == b"y" * 1000
    assert decoder.buffered == 0
