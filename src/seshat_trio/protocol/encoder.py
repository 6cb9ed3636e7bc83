"""Sans-IO reply encoder: reply values in, RESP2 or RESP3 bytes out (Redis 7.0's formats).

Mapping (RESP2 / RESP3):
    int -> ``:n`` (outside int64: a big number, like `BigNumber`)
    bytes, bytearray, memoryview, str (UTF-8, surrogateescape) -> bulk ``$len``
    None -> ``$-1`` / ``_``;  NullArray -> ``*-1`` / ``_``
    bool -> ``:1`` ``:0`` / ``#t`` ``#f``
    float -> bulk string / ``,`` double, both formatted like C's ``%.17g`` as Redis 7.0's
        addReplyDouble does (``inf``, ``-inf``, ``nan`` spelled so)
    list, tuple (any Sequence) -> ``*n``
    dict (any Mapping) -> ``*2n`` flat key/value array / ``%n`` map
    set, frozenset (any Set) -> ``*n`` / ``~n``
    SimpleString -> ``+``;  ErrorReply -> ``-`` (CR/LF sent as spaces, as Redis does)
    Verbatim -> bulk of the text / ``=len`` with ``fmt:`` prefix
    BigNumber -> bulk of the digits / ``(``;  Push -> ``*n`` / ``>n``
    Pairs -> ``*2n`` flat / ``*n`` of ``*2`` pairs

Rules: pure functions, no I/O; encoding never fails for a valid `Reply` (a value of any
other type is a programming error and raises TypeError). Hot values (small integers,
status replies, nulls) come from precomputed constants.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from seshat_trio.protocol.numbers import INT64_MAX, INT64_MIN
from seshat_trio.protocol.replies import (
    BigNumber,
    ErrorReply,
    NullArray,
    Pairs,
    Push,
    RawReplies,
    Reply,
    SimpleString,
    Verbatim,
    one_line,
)

_CRLF = b"\r\n"
_TABLE_SIZE = 1024
_INTEGERS = [b":%d\r\n" % n for n in range(_TABLE_SIZE)]
_ARRAY_HEADERS = [b"*%d\r\n" % n for n in range(_TABLE_SIZE)]
# Below this size one formatting call beats three list entries; above it, the value is
# not copied twice (once into the formatted bytes, once by the final join).
_SMALL_BULK = 4096
_STATUS_CACHE_LIMIT = 256
_status_cache: dict[str, bytes] = {}

Out = list[bytes]
# Each table entry takes values of exactly the type it is filed under; typing cannot say
# "the key's type", so the value parameter is Any here and precise in every encoder.
Encode = Callable[[Any, Out], None]


def encode_reply(value: Reply, protocol: int = 2) -> bytes:
    """The RESP bytes of one reply for a client speaking `protocol` (2 or 3)."""
    out: Out = []
    _encode(value, out, _RESP3 if protocol == 3 else _RESP2)
    return b"".join(out)


def encode_replies(values: Iterable[Reply], protocol: int = 2) -> bytes:
    """The concatenated RESP bytes of a pipeline's replies, joined once."""
    out: Out = []
    table = _RESP3 if protocol == 3 else _RESP2
    for value in values:
        encoder = table.get(type(value))
        if encoder is None:
            _encode(value, out, table)
        else:
            encoder(value, out)
    return b"".join(out)


def _encode(value: Reply, out: Out, table: dict[type, Encode]) -> None:
    encoder = table.get(type(value))
    if encoder is None:
        encoder = table[_abstract_type(value)]
    encoder(value, out)


def _abstract_type(value: object) -> type:
    """The table key for a value of a subclass or another collection type."""
    for kind in (bool, int, float, str, bytes, bytearray, memoryview):
        if isinstance(value, kind):
            return kind
    if isinstance(value, Mapping):
        return dict
    if isinstance(value, AbstractSet):
        return frozenset
    if isinstance(value, Sequence):
        return list
    raise TypeError(f"cannot encode {type(value).__name__} as a RESP reply")


def _status(value: SimpleString, out: Out) -> None:
    text = value.text
    encoded = _status_cache.get(text)
    if encoded is None:
        encoded = b"+" + one_line(text) + _CRLF
        if len(_status_cache) < _STATUS_CACHE_LIMIT:
            _status_cache[text] = encoded
    out.append(encoded)


def _error(value: ErrorReply, out: Out) -> None:
    out.append(b"-" + one_line(value.text) + _CRLF)


def _bulk(data: bytes, out: Out) -> None:
    size = len(data)
    if size < _SMALL_BULK:
        out.append(b"$%d\r\n%b\r\n" % (size, data))
    else:
        out.append(b"$%d\r\n" % size)
        out.append(data)
        out.append(_CRLF)


def _bulk_buffer(value: bytearray | memoryview, out: Out) -> None:
    _bulk(bytes(value), out)


def _bulk_text(value: str, out: Out) -> None:
    _bulk(value.encode("utf-8", "surrogateescape"), out)


def _aggregate_header(kind: bytes, count: int) -> bytes:
    if kind == b"*" and count < _TABLE_SIZE:
        return _ARRAY_HEADERS[count]
    return b"%b%d\r\n" % (kind, count)


def _raw(value: RawReplies, out: Out) -> None:
    out.append(value.data)


def _double_text(value: float) -> bytes:
    # Python's %-formatting follows C's printf here, inf/-inf/nan included.
    return b"%.17g" % value


def _make_table(resp3: bool) -> dict[type, Encode]:
    """The encoders of one protocol version, by exact type of the value."""
    table: dict[type, Encode] = {}

    def encode_items(items: Iterable[Reply], out: Out) -> None:
        for item in items:
            encoder = table.get(type(item))
            if encoder is None:
                encoder = table[_abstract_type(item)]
            encoder(item, out)

    def array(value: Sequence[Reply], out: Out) -> None:
        out.append(_aggregate_header(b"*", len(value)))
        encode_items(value, out)

    def set_(value: AbstractSet[Reply], out: Out) -> None:
        out.append(_aggregate_header(b"~" if resp3 else b"*", len(value)))
        encode_items(value, out)

    def map_(value: Mapping[str, Reply] | Mapping[bytes, Reply], out: Out) -> None:
        if resp3:
            out.append(_aggregate_header(b"%", len(value)))
        else:
            out.append(_aggregate_header(b"*", 2 * len(value)))
        for key, item in value.items():
            encode_items((key, item), out)

    def pairs(value: Pairs, out: Out) -> None:
        if resp3:
            out.append(_aggregate_header(b"*", len(value.items)))
            for pair in value.items:
                out.append(b"*2\r\n")
                encode_items(pair, out)
        else:
            out.append(_aggregate_header(b"*", 2 * len(value.items)))
            for pair in value.items:
                encode_items(pair, out)

    def push(value: Push, out: Out) -> None:
        out.append(_aggregate_header(b">" if resp3 else b"*", len(value.items)))
        encode_items(value.items, out)

    def big_number(value: BigNumber | int, out: Out) -> None:
        number = value.value if isinstance(value, BigNumber) else value
        if resp3:
            out.append(b"(%d\r\n" % number)
        else:
            _bulk(b"%d" % number, out)

    def integer(value: int, out: Out) -> None:
        if 0 <= value < _TABLE_SIZE:
            out.append(_INTEGERS[value])
        elif INT64_MIN <= value <= INT64_MAX:
            out.append(b":%d\r\n" % value)
        else:
            big_number(value, out)

    def verbatim(value: Verbatim, out: Out) -> None:
        text = value.text if isinstance(value.text, bytes) else value.text.encode()
        if resp3:
            out.append(b"=%d\r\n" % (len(text) + 4))
            out.append(value.format.encode() + b":" + text + _CRLF)
        else:
            _bulk(text, out)

    null = b"_\r\n" if resp3 else b"$-1\r\n"
    null_array = b"_\r\n" if resp3 else b"*-1\r\n"
    true, false = (b"#t\r\n", b"#f\r\n") if resp3 else (b":1\r\n", b":0\r\n")

    def none(value: None, out: Out) -> None:
        out.append(null)

    def nil_array(value: NullArray, out: Out) -> None:
        out.append(null_array)

    def boolean(value: bool, out: Out) -> None:
        out.append(true if value else false)

    def double(value: float, out: Out) -> None:
        if resp3:
            out.append(b",%b\r\n" % _double_text(value))
        else:
            _bulk(_double_text(value), out)

    table.update(
        {
            bytes: _bulk,
            str: _bulk_text,
            bytearray: _bulk_buffer,
            memoryview: _bulk_buffer,
            SimpleString: _status,
            ErrorReply: _error,
            int: integer,
            bool: boolean,
            float: double,
            type(None): none,
            NullArray: nil_array,
            list: array,
            tuple: array,
            dict: map_,
            set: set_,
            frozenset: set_,
            Push: push,
            Pairs: pairs,
            Verbatim: verbatim,
            BigNumber: big_number,
            RawReplies: _raw,
        }
    )
    return table


_RESP2 = _make_table(resp3=False)
_RESP3 = _make_table(resp3=True)
