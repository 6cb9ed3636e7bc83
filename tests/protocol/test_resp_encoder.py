"""Reply encoder: exact bytes per type, and round trips through two independent decoders."""

from __future__ import annotations

import math
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import TypeAlias

import attrs
import hiredis
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seshat_trio.protocol import (
    NULL_ARRAY,
    BigNumber,
    ErrorReply,
    NullArray,
    Push,
    RawReplies,
    Reply,
    SimpleString,
    Verbatim,
    encode_replies,
    encode_reply,
)

# ----------------------------------------------------------------------------- exact bytes


@pytest.mark.parametrize(
    ("value", "resp2", "resp3"),
    [
        (SimpleString("OK"), b"+OK\r\n", b"+OK\r\n"),
        (SimpleString("a\r\nb"), b"+a  b\r\n", b"+a  b\r\n"),
        (ErrorReply("ERR unknown command 'x'"), b"-ERR unknown command 'x'\r\n", None),
        (ErrorReply("WRONGTYPE bad\r\nnews\n"), b"-WRONGTYPE bad  news \r\n", None),
        (0, b":0\r\n", None),
        (1023, b":1023\r\n", None),
        (1024, b":1024\r\n", None),
        (-1, b":-1\r\n", None),
        (2**63 - 1, b":9223372036854775807\r\n", None),
        (-(2**63), b":-9223372036854775808\r\n", None),
        (2**63, b"$19\r\n9223372036854775808\r\n", b"(9223372036854775808\r\n"),
        (b"", b"$0\r\n\r\n", None),
        (b"a\r\nb", b"$4\r\na\r\nb\r\n", None),
        ("é", b"$2\r\n\xc3\xa9\r\n", None),
        (bytearray(b"ab"), b"$2\r\nab\r\n", None),
        (None, b"$-1\r\n", b"_\r\n"),
        (NULL_ARRAY, b"*-1\r\n", b"_\r\n"),
        (True, b":1\r\n", b"#t\r\n"),
        (False, b":0\r\n", b"#f\r\n"),
        (1.5, b"$3\r\n1.5\r\n", b",1.5\r\n"),
        (0.1, b"$19\r\n0.10000000000000001\r\n", b",0.10000000000000001\r\n"),
        (1e20, b"$5\r\n1e+20\r\n", b",1e+20\r\n"),
        (-0.0, b"$2\r\n-0\r\n", b",-0\r\n"),
        (math.inf, b"$3\r\ninf\r\n", b",inf\r\n"),
        (-math.inf, b"$4\r\n-inf\r\n", b",-inf\r\n"),
        (math.nan, b"$3\r\nnan\r\n", b",nan\r\n"),
        ([], b"*0\r\n", None),
        ([b"a", 1, None], b"*3\r\n$1\r\na\r\n:1\r\n$-1\r\n", b"*3\r\n$1\r\na\r\n:1\r\n_\r\n"),
        ((b"a",), b"*1\r\n$1\r\na\r\n", None),
        ({"a": 1}, b"*2\r\n$1\r\na\r\n:1\r\n", b"%1\r\n$1\r\na\r\n:1\r\n"),
        (
            {b"k": [b"v"]},
            b"*2\r\n$1\r\nk\r\n*1\r\n$1\r\nv\r\n",
            b"%1\r\n$1\r\nk\r\n*1\r\n$1\r\nv\r\n",
        ),
        ({SimpleString("x")}, b"*1\r\n+x\r\n", b"~1\r\n+x\r\n"),
        (frozenset(), b"*0\r\n", b"~0\r\n"),
        (
            Push([b"message", b"ch", b"hi"]),
            b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
            b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
        ),
        (Verbatim("txt", "a\r\nb"), b"$4\r\na\r\nb\r\n", b"=8\r\ntxt:a\r\nb\r\n"),
        (Verbatim("mkd", b"#"), b"$1\r\n#\r\n", b"=5\r\nmkd:#\r\n"),
        (
            BigNumber(-(10**30)),
            b"$32\r\n-1000000000000000000000000000000\r\n",
            b"(-1000000000000000000000000000000\r\n",
        ),
    ],
)
def test_exact_encoding(value: Reply, resp2: bytes, resp3: bytes | None) -> None:
    assert encode_reply(value) == resp2
    assert encode_reply(value, 2) == resp2
    assert encode_reply(value, 3) == (resp2 if resp3 is None else resp3)


def test_raw_replies_are_spliced_in_unchanged() -> None:
    raw = RawReplies(b"+OK\r\n:1\r\n", 2)
    assert encode_replies([1, raw, None], 3) == b":1\r\n+OK\r\n:1\r\n_\r\n"
    assert encode_reply(raw) == b"+OK\r\n:1\r\n"


def test_raw_replies_repeat_an_error_on_one_line() -> None:
    raw = RawReplies.repeat(ErrorReply("ERR a\r\nb"), 3)
    assert raw == RawReplies(b"-ERR a  b\r\n" * 3, 3)


def test_large_bulk_is_not_corrupted() -> None:
    value = bytes(range(256)) * 1000
    assert encode_reply(value) == b"$256000\r\n" + value + b"\r\n"


def test_large_array_header() -> None:
    assert encode_reply([0] * 2000).startswith(b"*2000\r\n:0\r\n")


def test_encode_replies_concatenates() -> None:
    replies: list[Reply] = [SimpleString("OK"), 3, None, [b"x"]]
    assert encode_replies(replies) == b"".join(encode_reply(r) for r in replies)
    assert encode_replies(replies, 3) == b"".join(encode_reply(r, 3) for r in replies)
    assert encode_replies([]) == b""


def test_subclasses_and_other_collections() -> None:
    class Flag(int):
        pass

    assert encode_reply(Flag(7)) == b":7\r\n"
    assert encode_reply(range(2)) == b"*2\r\n:0\r\n:1\r\n"
    assert encode_reply(memoryview(b"ab")) == b"$2\r\nab\r\n"


def test_insertion_ordered_set_via_dict_keys() -> None:
    # Sets iterate in hash order; dict keys are a Set that keeps the order they were added.
    flags = dict.fromkeys([SimpleString("write"), SimpleString("denyoom")]).keys()
    assert encode_reply(flags, 3) == b"~2\r\n+write\r\n+denyoom\r\n"
    assert encode_reply(flags, 2) == b"*2\r\n+write\r\n+denyoom\r\n"


def test_unknown_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="object"):
        encode_reply(object())  # type: ignore[arg-type]


def test_verbatim_format_must_have_three_characters() -> None:
    with pytest.raises(ValueError, match="format"):
        Verbatim("text", "x")


def test_reply_values_are_hashable_and_frozen() -> None:
    assert {SimpleString("a"), SimpleString("a")} == {SimpleString("a")}
    assert Push([b"a"]).items == (b"a",)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        SimpleString("a").text = "b"  # type: ignore[misc]


# ------------------------------------------------------------- a type-keeping test decoder

Decoded: TypeAlias = object


class _Decoder:
    """Decodes exactly one RESP2/RESP3 reply, keeping every type distinction."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def line(self) -> bytes:
        end = self.data.index(b"\r\n", self.pos)
        line = self.data[self.pos : end]
        self.pos = end + 2
        return line

    def blob(self, size: int) -> bytes:
        body = self.data[self.pos : self.pos + size]
        assert self.data[self.pos + size : self.pos + size + 2] == b"\r\n"
        self.pos += size + 2
        return body

    def items(self, count: int) -> list[Decoded]:
        return [self.reply() for _ in range(count)]

    def reply(self) -> Decoded:
        kind = self.data[self.pos : self.pos + 1]
        self.pos += 1
        line = self.line()
        text = line.decode("utf-8", "surrogateescape")
        if kind == b"+":
            return SimpleString(text)
        if kind == b"-":
            return ErrorReply(text)
        if kind == b":":
            return int(line)
        if kind == b"$":
            return None if line == b"-1" else self.blob(int(line))
        if kind == b"*":
            return NULL_ARRAY if line == b"-1" else self.items(int(line))
        if kind == b"_":
            assert line == b""
            return None
        if kind == b"#":
            assert line in (b"t", b"f")
            return line == b"t"
        if kind == b",":
            return ("double", repr(float(line)))
        if kind == b"(":
            return BigNumber(int(line))
        if kind == b"=":
            body = self.blob(int(line))
            return Verbatim(body[:3].decode(), body[4:])
        if kind == b"%":
            return ("map", [tuple(self.items(2)) for _ in range(int(line))])
        if kind == b"~":
            return ("set", self.items(int(line)))
        if kind == b">":
            return ("push", self.items(int(line)))
        raise AssertionError(f"unknown type byte {kind!r}")


def decode(data: bytes) -> Decoded:
    decoder = _Decoder(data)
    value = decoder.reply()
    assert decoder.pos == len(data), "trailing bytes after the reply"
    return value


def _clean(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ")


def expected(value: Reply, protocol: int) -> Decoded:
    """What the decoder must give back for `value` sent with `protocol`."""
    resp3 = protocol == 3
    if isinstance(value, bool):
        return value if resp3 else int(value)
    if isinstance(value, int):
        if -(2**63) <= value < 2**63:
            return value
        return BigNumber(value) if resp3 else str(value).encode()
    if isinstance(value, float):
        return ("double", repr(value)) if resp3 else b"%.17g" % value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if isinstance(value, bytes) or value is None:
        return value
    if isinstance(value, SimpleString):
        return SimpleString(_clean(value.text))
    if isinstance(value, ErrorReply):
        return ErrorReply(_clean(value.text))
    if isinstance(value, NullArray):
        return None if resp3 else NULL_ARRAY
    if isinstance(value, BigNumber):
        return value if resp3 else str(value.value).encode()
    if isinstance(value, Verbatim):
        text = value.text if isinstance(value.text, bytes) else value.text.encode()
        return Verbatim(value.format, text) if resp3 else text
    if isinstance(value, Push):
        items = [expected(item, protocol) for item in value.items]
        return ("push", items) if resp3 else items
    if isinstance(value, Mapping):
        pairs = [(expected(k, protocol), expected(v, protocol)) for k, v in value.items()]
        return ("map", pairs) if resp3 else [x for pair in pairs for x in pair]
    if isinstance(value, RawReplies):
        raise TypeError("pre-encoded replies are not generated")
    if isinstance(value, AbstractSet):
        items = [expected(item, protocol) for item in value]
        return ("set", items) if resp3 else items
    return [expected(item, protocol) for item in value]


texts = st.text(st.characters(blacklist_categories=["Cs"]), max_size=12)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.binary(max_size=20),
    texts,
    texts.map(SimpleString),
    texts.map(ErrorReply),
    st.builds(Verbatim, st.sampled_from(["txt", "mkd"]), st.one_of(texts, st.binary(max_size=10))),
    st.integers().map(BigNumber),
    st.just(NULL_ARRAY),
)
hashable = st.one_of(st.binary(max_size=8), st.integers(), texts.map(SimpleString))
replies = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(st.binary(max_size=6), children, max_size=3),
        st.dictionaries(texts, children, max_size=3),
        st.frozensets(hashable, max_size=4),
        st.sets(hashable, max_size=4),
        st.lists(children, max_size=3).map(Push),
    ),
    max_leaves=12,
)


class _NotEnough:
    pass


_NOT_ENOUGH = _NotEnough()


@settings(max_examples=250, deadline=None)
@given(replies, st.sampled_from([2, 3]))
def test_round_trip(value: Reply, protocol: int) -> None:
    encoded = encode_reply(value, protocol)
    assert decode(encoded) == expected(value, protocol)
    # An independent parser (hiredis, RESP3-aware) reads exactly one well-formed reply.
    reader = hiredis.Reader(notEnoughData=_NOT_ENOUGH)
    reader.feed(encoded)
    assert reader.gets() is not _NOT_ENOUGH
    assert reader.gets() is _NOT_ENOUGH
    assert not reader.has_data()


@settings(max_examples=200, deadline=None)
@given(st.lists(replies, max_size=6), st.sampled_from([2, 3]))
def test_pipeline_round_trip(values: list[Reply], protocol: int) -> None:
    encoded = encode_replies(values, protocol)
    decoder = _Decoder(encoded)
    assert [decoder.reply() for _ in values] == [expected(v, protocol) for v in values]
    assert decoder.pos == len(encoded)
