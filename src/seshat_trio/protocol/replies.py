"""Typed reply values for the types plain Python values cannot express.

Plain values map as: int -> integer, bytes / str -> bulk string, None -> null, bool ->
boolean, float -> double, list / tuple -> array, dict -> map, set / frozenset -> set (see
`seshat_trio.protocol.encoder`). The classes here are frozen and hashable, so they can be
set members and map keys (e.g. COMMAND INFO's flag sets of simple strings).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import TypeAlias, TypeVar

import attrs

T = TypeVar("T")


def one_line(text: str) -> bytes:
    """`text` as bytes for a ``+`` or ``-`` line: CR and LF become spaces, as in Redis."""
    if "\r" in text or "\n" in text:
        text = text.replace("\r", " ").replace("\n", " ")
    return text.encode("utf-8", "surrogateescape")


@attrs.frozen(slots=True)
class SimpleString:
    """A status reply, ``+OK``; CR and LF in the text are sent as spaces."""

    text: str


@attrs.frozen(slots=True)
class ErrorReply:
    """An error reply; the text starts with its code word: ``"ERR ..."``, ``"WRONGTYPE ..."``.

    CR and LF in the text are sent as spaces, as Redis does.
    """

    text: str


def _three_chars(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if len(value) != 3:
        raise ValueError(f"{attribute.name} must be exactly 3 characters, got {value!r}")


@attrs.frozen(slots=True)
class Verbatim:
    """A RESP3 verbatim string (``=``), e.g. ``Verbatim("txt", info_text)``; bulk in RESP2."""

    format: str = attrs.field(validator=_three_chars)
    text: str | bytes


@attrs.frozen(slots=True)
class BigNumber:
    """A RESP3 big number (``(``); a bulk string in RESP2, as Redis's addReplyBigNum."""

    value: int


def _as_tuple(items: Iterable[Reply]) -> tuple[Reply, ...]:
    return tuple(items)


@attrs.frozen(slots=True)
class Push:
    """A RESP3 push message (``>``), e.g. pub/sub messages; an array in RESP2."""

    items: tuple[Reply, ...] = attrs.field(converter=_as_tuple)


def _as_pairs(items: Iterable[tuple[Reply, Reply]]) -> tuple[tuple[Reply, Reply], ...]:
    return tuple(items)


@attrs.frozen(slots=True)
class Pairs:
    """Pairs such as HRANDFIELD ... WITHVALUES: an array of 2-element arrays in RESP3, one
    flat array (first, second, first, second, ...) in RESP2, as Redis replies them."""

    items: tuple[tuple[Reply, Reply], ...] = attrs.field(converter=_as_pairs)


class OrderedSet(AbstractSet[T]):
    """A set reply (``~`` in RESP3) whose members come in a fixed order: a reply computed
    at apply (a script's SMEMBERS) must be the same on every node, and a Python set's order
    depends on the process's hash seed."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[T]) -> None:
        self._items = dict.fromkeys(items)

    def __contains__(self, item: object) -> bool:
        return item in self._items

    def __iter__(self) -> Iterator[T]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"OrderedSet({list(self._items)!r})"


@attrs.frozen(slots=True)
class NullArray:
    """RESP2's null array ``*-1`` (e.g. a timed-out BLPOP); ``_`` in RESP3."""


NULL_ARRAY = NullArray()


@attrs.frozen(slots=True)
class RawReplies:
    """`count` replies already encoded for this client's protocol, sent as they are.

    A follower splices the leader's encoded replies to a forwarded run of commands into its
    own reply stream with this, without decoding and re-encoding them.
    """

    data: bytes
    count: int

    @classmethod
    def repeat(cls, error: ErrorReply, count: int) -> RawReplies:
        """The same error for each of `count` commands (identical in RESP2 and RESP3)."""
        return cls(b"-%b\r\n" % one_line(error.text) * count, count)


Reply: TypeAlias = (
    bool
    | int
    | float
    | bytes
    | str
    | SimpleString
    | ErrorReply
    | Verbatim
    | BigNumber
    | Push
    | Pairs
    | NullArray
    | RawReplies
    | Sequence["Reply"]
    | AbstractSet["Reply"]
    | Mapping[str, "Reply"]
    | Mapping[bytes, "Reply"]
    | None
)
"""Anything `encode_reply` accepts (recursively for arrays, sets and maps)."""
