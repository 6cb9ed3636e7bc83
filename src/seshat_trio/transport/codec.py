"""WireMessage <-> Envelope bytes (schema: schemas/raft.capnp), driven by one table.

Rules: every message class maps to one Envelope union member; its attrs fields map to the
capnp fields of the same name in camelCase, through a converter when the wire shape differs
(entries/commands blobs, SnapshotMeta struct, id lists). Decoding bounds the work a hostile
frame can cause (traversal limit proportional to its size, shallow nesting limit) and turns
every failure into CodecError; encoding a message that does not fit the schema raises
ValueError (a bug in the sender, never a peer's fault).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from typing import Any

import attrs
import capnp

from seshat_trio.raft import messages as raft
from seshat_trio.raft.membership import Membership
from seshat_trio.raft.model import SnapshotMeta
from seshat_trio.schemas import load_schema
from seshat_trio.transport import flat
from seshat_trio.transport.blobs import (
    pack_acks,
    pack_beats,
    pack_commands,
    pack_entries,
    unpack_acks,
    unpack_beats,
    unpack_commands,
    unpack_entries,
)
from seshat_trio.transport.errors import CodecError
from seshat_trio.transport.messages import (
    ForwardError,
    ForwardReply,
    ForwardRequest,
    HeartbeatBatch,
    Hello,
    HelloAuth,
    Publish,
    PublishCount,
    RaftBatch,
    WireMessage,
)

_SCHEMA_NAME = "raft.capnp"
# Envelope -> message -> SnapshotMeta -> list: depth 4; a little slack, nothing deeper.
_NESTING_LIMIT = 8
# Every field is read once, so honest frames traverse about their own size; a frame whose
# pointers alias the same data (amplification) hits this bound instead.
_TRAVERSAL_FACTOR = 4
_TRAVERSAL_SLACK_WORDS = 64


_schema: Any = load_schema(_SCHEMA_NAME)
_Envelope: Any = _schema.Envelope


def _meta_to_wire(meta: SnapshotMeta) -> dict[str, object]:
    return {
        "index": meta.index,
        "term": meta.term,
        "voters": sorted(meta.membership.voters),
        "learners": sorted(meta.membership.learners),
    }


def _meta_from_wire(reader: Any) -> SnapshotMeta:
    membership = Membership(frozenset(reader.voters), frozenset(reader.learners))
    return SnapshotMeta(reader.index, reader.term, membership)


def _ids_from_wire(reader: Any) -> tuple[int, ...]:
    return tuple(reader)


# attr name -> (to wire, from wire); the same attr name has the same wire shape everywhere.
_CONVERTERS: dict[str, tuple[Callable[[Any], object], Callable[[Any], object]]] = {
    "entries": (pack_entries, unpack_entries),
    "commands": (pack_commands, unpack_commands),
    "meta": (_meta_to_wire, _meta_from_wire),
    "request_ids": (list, _ids_from_wire),
    "proofs": (list, tuple),
    "beats": (pack_beats, unpack_beats),
    "acks": (pack_acks, unpack_acks),
}


@attrs.frozen(slots=True)
class _Field:
    attr: str
    wire: str
    to_wire: Callable[[Any], object] | None
    from_wire: Callable[[Any], object] | None


@attrs.frozen(slots=True)
class _Kind:
    cls: type[WireMessage]
    build: Callable[..., WireMessage]  # cls itself, typed for construction from kwargs
    member: str
    fields: tuple[_Field, ...]
    layout: flat.Layout | None  # without pycapnp (flat.py), for a member of plain fields


def _camel(name: str) -> str:
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)


def _kind(cls: type[WireMessage]) -> _Kind:
    fields = []
    for field in attrs.fields(cls):
        to_wire, from_wire = _CONVERTERS.get(field.name, (None, None))
        fields.append(_Field(field.name, _camel(field.name), to_wire, from_wire))
    member = cls.__name__[0].lower() + cls.__name__[1:]
    layout = flat.layout_of(
        _Envelope,
        member,
        getattr(_schema, cls.__name__).schema.node,
        tuple((f.attr, f.wire, f.to_wire, f.from_wire) for f in fields),
    )
    return _Kind(cls, cls, member, tuple(fields), layout)


_KINDS: tuple[_Kind, ...] = tuple(
    _kind(cls)
    for cls in (
        Hello,
        raft.PreVote,
        raft.PreVoteResp,
        raft.Vote,
        raft.VoteResp,
        raft.Append,
        raft.AppendResp,
        raft.Heartbeat,
        raft.HeartbeatResp,
        raft.Snapshot,
        raft.SnapshotChunk,
        raft.SnapshotChunkAck,
        raft.TimeoutNow,
        raft.ReadIndexReq,
        raft.ReadIndexResp,
        ForwardRequest,
        ForwardReply,
        ForwardError,
        HelloAuth,
        Publish,
        PublishCount,
        HeartbeatBatch,
        RaftBatch,
    )
)
_BY_TYPE: dict[type, _Kind] = {kind.cls: kind for kind in _KINDS}
_BY_MEMBER: dict[str, _Kind] = {kind.member: kind for kind in _KINDS}
_FLAT: dict[int, _Kind] = {kind.layout.discriminant: kind for kind in _KINDS if kind.layout}

MESSAGE_TYPES: tuple[type[WireMessage], ...] = tuple(kind.cls for kind in _KINDS)
"""Every class `encode` accepts, in Envelope union order."""


def encode(msg: WireMessage) -> bytes:
    """The Envelope bytes (unpacked capnp) for `msg`."""
    kind = _BY_TYPE.get(type(msg))
    if kind is None:
        raise TypeError(f"not a wire message: {type(msg).__name__}")
    layout = kind.layout
    if layout is None:
        return _encode_capnp(kind, msg)
    try:
        return layout.encode(msg)
    except (struct.error, OverflowError, TypeError) as exc:
        raise ValueError(f"cannot encode {kind.cls.__name__}: {exc}") from exc


def encode_capnp(msg: WireMessage) -> bytes:
    """`encode` through pycapnp only: the reference the plain layouts are tested against."""
    kind = _BY_TYPE.get(type(msg))
    if kind is None:
        raise TypeError(f"not a wire message: {type(msg).__name__}")
    return _encode_capnp(kind, msg)


def _encode_capnp(kind: _Kind, msg: WireMessage) -> bytes:
    envelope = _Envelope.new_message()
    inner = envelope.init(kind.member)
    try:
        for field in kind.fields:
            value = getattr(msg, field.attr)
            setattr(inner, field.wire, value if field.to_wire is None else field.to_wire(value))
        data: bytes = envelope.to_bytes()
    except (capnp.KjException, OverflowError, TypeError) as exc:
        raise ValueError(f"cannot encode {kind.cls.__name__}: {exc}") from exc
    return data


# Everything pycapnp, the blob decoders and the attrs constructors raise on bad input.
_DECODE_FAILURES = (
    capnp.KjException,
    AttributeError,
    KeyError,
    OverflowError,
    TypeError,
    UnicodeDecodeError,
    ValueError,
)


def decode(frame: bytes) -> WireMessage:
    """The message in one Envelope frame; CodecError for anything that is not one."""
    # A plain member in the shape `encode` writes (flat.py); pycapnp reads anything else.
    head = flat.decode_head(frame)
    if head is not None and len(frame) % 8 == 0:
        kind = _FLAT.get(head[0])
        if kind is not None:
            assert kind.layout is not None
            try:
                values = kind.layout.decode(frame, head[1])
                if values is not None:
                    return kind.build(**values)
            except CodecError:
                raise
            except _DECODE_FAILURES as exc:
                raise _undecodable(frame, exc) from exc
    return decode_capnp(frame)


def decode_capnp(frame: bytes) -> WireMessage:
    """`decode` through pycapnp only (the reference the plain layouts are tested against)."""
    if len(frame) % 8:  # the reader below would ignore a partial last word
        raise CodecError(f"undecodable frame ({len(frame)} bytes): not a whole number of words")
    traversal = _TRAVERSAL_FACTOR * (len(frame) // 8) + _TRAVERSAL_SLACK_WORDS
    try:
        # `read_multiple_bytes` reads the first message straight from the frame; `from_bytes`
        # does the same through a Python-level context manager (~2 us more per frame).
        # The reader keeps the frame alive while the fields are read out.
        envelope = next(
            _Envelope.read_multiple_bytes(
                frame, traversal_limit_in_words=traversal, nesting_limit=_NESTING_LIMIT
            )
        )
        # `_which_str` and `_get` are what `which()` and attribute access call, minus
        # a Python-level dispatch each (~0.7 us per field read, several per message).
        member = envelope._which_str()
        kind = _BY_MEMBER[member]
        inner = envelope._get(member)
        values = {
            field.attr: (
                inner._get(field.wire)
                if field.from_wire is None
                else field.from_wire(inner._get(field.wire))
            )
            for field in kind.fields
        }
        return kind.build(**values)
    except CodecError:
        raise
    except StopIteration as exc:  # the reader found no message at all (an empty frame)
        raise CodecError(f"undecodable frame ({len(frame)} bytes): no message") from exc
    except _DECODE_FAILURES as exc:
        raise _undecodable(frame, exc) from exc


def _undecodable(frame: bytes, exc: Exception) -> CodecError:
    return CodecError(f"undecodable frame ({len(frame)} bytes): {exc}")
