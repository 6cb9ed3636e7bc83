"""Envelope frames of plain messages written and read with `struct`, without pycapnp.

Why: pycapnp costs ~0.25 us per field set or read and ~1 us per message built or opened, so
an AppendResp took ~3.3 us to encode and ~4.5 us to decode (1.1 and 2.6 us here); sampled,
the codec was ~5.6% of a 3-group node's event-loop CPU under SET load (docs/performance.md,
"Session 18 (round)").
A message whose fields are all UInt64, Bool or Data (every Raft message of a write round,
their batches, the forwarding replies) has one fixed layout, read here from the schema.

Rules:
- Layouts come from the loaded schema (section sizes, field offsets, the Envelope's union
  discriminants), never written by hand; a struct with any other field type, or a field
  with a non-zero default (stored XORed with it), has no layout and stays with pycapnp.
- `encode` writes what pycapnp writes for the same message when that fits one segment: one
  segment, the Envelope right after the root pointer, the member struct after it, each Data
  field's bytes after the pointers in the order pycapnp sets them, the message class's
  attribute order (tested byte for byte).
- `decode` reads only that shape: one segment filling the frame exactly, the root and
  member struct pointers at offset 0 with this schema's section sizes, every Data pointer
  null or a byte list inside the segment. Anything else (another schema version's sizes,
  several segments, far pointers, a bad pointer) gives None and the codec reads the frame
  with pycapnp, so which frames are accepted and what they decode to do not change.
"""

from __future__ import annotations

import operator
import struct
from collections.abc import Callable
from typing import Any

import attrs

_HEAD = struct.Struct("<IIQH6xQ")  # segment table, root pointer, discriminant, member pointer
HEAD_BYTES = _HEAD.size
_SEGMENT_START = 8  # bytes: the one-segment table
_MAX_BLOB_BYTES = (1 << 29) - 1  # a list pointer's element count
_BYTE_LIST = 2  # list pointer element size code: one byte
Convert = Callable[[Any], Any]


def _struct_pointer(data_words: int, pointers: int) -> int:
    """A struct pointer at offset 0 (the struct follows the pointer)."""
    return (data_words | pointers << 16) << 32


# The Envelope: one data word (the union discriminant at offset 0) and one pointer.
_ROOT = _struct_pointer(1, 1)


def _picker(getter: Callable[..., Callable[[Any], Any]], keys: tuple[Any, ...]) -> Convert:
    """What `getter` (operator.itemgetter or attrgetter) picks at `keys`, always as a tuple:
    one C call for several keys; the getter answers one key with the bare value."""
    if len(keys) == 1:
        pick = getter(keys[0])
        return lambda source: (pick(source),)
    return getter(*keys) if keys else lambda _: ()


@attrs.frozen(slots=True)
class Layout:
    """One Envelope member's fixed layout, for a message class with the attributes given
    to `layout_of` (Data attributes through their converters)."""

    discriminant: int
    data_words: int
    pointers: int
    data: struct.Struct  # the data section as little-endian words
    pointer_section: struct.Struct  # the pointer section likewise
    pointer: int  # the member struct pointer: offset 0 and the section sizes
    # UInt64 attributes: their names, their values read off a message, each data word's
    # value picked from those values plus a trailing 0, each attribute's word picked.
    word_attrs: tuple[str, ...]
    word_values: Callable[[Any], tuple[Any, ...]]
    word_sources: Callable[[tuple[Any, ...]], tuple[Any, ...]]
    word_picks: Callable[[tuple[int, ...]], tuple[int, ...]]
    bools: tuple[tuple[str, int, int], ...]  # attribute, word, bit
    # Data attributes: attribute, pointer index, to wire, from wire (None: bytes as is).
    blobs: tuple[tuple[str, int, Convert | None, Convert | None], ...]

    def encode(self, msg: Any) -> bytes:
        """The frame for `msg`; struct.error or ValueError when a value does not fit."""
        words = self.word_sources((*self.word_values(msg), 0))
        if self.bools:
            flagged = list(words)
            for attr, word, bit in self.bools:
                if getattr(msg, attr):
                    flagged[word] |= 1 << bit
            words = tuple(flagged)
        parts = [b"", self.data.pack(*words), b""]
        if self.pointers:
            pointer_words = [0] * self.pointers
            # Segment words before the member's pointers: root pointer, Envelope, data.
            first = 3 + self.data_words
            end = first + self.pointers  # where the next blob goes, in words
            for attr, index, to_wire, _ in self.blobs:
                value = getattr(msg, attr)
                if to_wire is not None:
                    value = to_wire(value)
                size = len(value)
                if size > _MAX_BLOB_BYTES:
                    raise ValueError(f"a Data field of {size} bytes")
                # Relative to the word after the pointer; blobs in the order they are set.
                offset = end - (first + index + 1)
                pointer_words[index] = (offset << 2 | 1) | (size << 3 | _BYTE_LIST) << 32
                parts.append(value)
                if size % 8:
                    parts.append(bytes(8 - size % 8))
                end += -(-size // 8)
            parts[2] = self.pointer_section.pack(*pointer_words)
        else:
            end = 3 + self.data_words
        parts[0] = _HEAD.pack(0, end, _ROOT, self.discriminant, self.pointer)
        return b"".join(parts)

    def decode(self, frame: bytes, pointer: int) -> dict[str, Any] | None:
        """The attributes in `frame` (whose head `decode_head` read), or None: not this
        shape. Data attributes are converted here; a converter's errors propagate."""
        if pointer != self.pointer:
            return None
        pointers_at = HEAD_BYTES + 8 * self.data_words
        if pointers_at + 8 * self.pointers > len(frame):
            return None
        words = self.data.unpack_from(frame, HEAD_BYTES)
        values: dict[str, Any] = dict(zip(self.word_attrs, self.word_picks(words), strict=True))
        for attr, word, bit in self.bools:
            values[attr] = bool(words[word] >> bit & 1)
        if not self.blobs:
            return values
        pointer_words = self.pointer_section.unpack_from(frame, pointers_at)
        blobs: list[tuple[str, bytes, Convert | None]] = []
        for attr, index, _, from_wire in self.blobs:
            word = pointer_words[index]
            if not word:
                blob = b""
            else:
                if word & 3 != 1 or (word >> 32) & 7 != _BYTE_LIST:
                    return None
                offset = (word & 0xFFFFFFFF) >> 2
                if offset >= 1 << 29:  # a signed 30-bit word offset
                    offset -= 1 << 30
                start = pointers_at + 8 * (index + 1 + offset)
                end = start + (word >> 35)
                if start < _SEGMENT_START or end > len(frame):
                    return None
                blob = frame[start:end]
            blobs.append((attr, blob, from_wire))
        # Converted once every pointer is known good: a bad one reads as pycapnp does.
        for attr, data, convert in blobs:
            values[attr] = data if convert is None else convert(data)
        return values


def decode_head(frame: bytes) -> tuple[int, int] | None:
    """(discriminant, member pointer) of a one-segment frame that a layout may read; None
    for any other frame (a whole number of words is the caller's check)."""
    if len(frame) < HEAD_BYTES:
        return None
    segments, words, root, discriminant, pointer = _HEAD.unpack_from(frame, 0)
    if segments or 8 * words + _SEGMENT_START != len(frame) or root != _ROOT:
        return None
    return discriminant, pointer


_SLOT_TYPES = ("uint64", "bool", "data")


def layout_of(
    envelope: Any,
    member: str,
    node: Any,
    fields: tuple[tuple[str, str, Convert | None, Convert | None], ...],
) -> Layout | None:
    """The layout of Envelope member `member` (struct schema node `node`) for a message
    with `fields` (attribute, schema field, to wire, from wire); None when it has none."""
    env = envelope.schema.node.struct
    if env.dataWordCount != 1 or env.pointerCount != 1 or env.discriminantOffset != 0:
        return None
    discriminant = next(field.discriminantValue for field in env.fields if field.name == member)
    by_name = {field.name: field for field in node.struct.fields}
    words: list[tuple[str, int]] = []
    bools: list[tuple[str, int, int]] = []
    blobs: list[tuple[str, int, Convert | None, Convert | None]] = []
    for attr, wire, to_wire, from_wire in fields:
        field = by_name.get(wire)
        if field is None or field.which() != "slot":
            return None
        kind = str(field.slot.type.which())
        if kind not in _SLOT_TYPES or field.slot.hadExplicitDefault:
            return None
        offset = field.slot.offset
        if kind == "data":
            blobs.append((attr, offset, to_wire, from_wire))
        elif to_wire is not None or from_wire is not None:
            return None  # converters are for Data fields only
        elif kind == "uint64":
            words.append((attr, offset))
        else:
            bools.append((attr, offset // 64, offset % 64))
    data_words, pointers = node.struct.dataWordCount, node.struct.pointerCount
    source = {word: position for position, (_, word) in enumerate(words)}
    names = tuple(attr for attr, _ in words)
    return Layout(
        discriminant,
        data_words,
        pointers,
        struct.Struct(f"<{data_words}Q"),
        struct.Struct(f"<{pointers}Q"),
        _struct_pointer(data_words, pointers),
        names,
        _picker(operator.attrgetter, names),
        _picker(operator.itemgetter, tuple(source.get(w, len(words)) for w in range(data_words))),
        _picker(operator.itemgetter, tuple(word for _, word in words)),
        tuple(bools),
        tuple(blobs),
    )
