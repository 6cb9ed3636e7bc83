"""Envelope frames of plain messages written and read with `struct`, without pycapnp.

Why: pycapnp costs ~0.25 us per field set or read and ~1 us per message built or opened, so
an AppendResp took ~3.3 us to encode and ~4.6 us to decode; sampled, the codec was ~5.6% of
a 3-group node's event-loop CPU under SET load (docs/performance.md, "Session 18 (round)").
A message whose fields are all UInt64, Bool or Data (every Raft message of a write round,
their batches, the forwarding replies) has one fixed layout, read here from the schema.

Rules:
- Layouts come from the loaded schema (section sizes, field offsets, the Envelope's union
  discriminants), never written by hand; a struct with any other field type, or a field
  with a non-zero default (stored XORed with it), has no layout and stays with pycapnp.
- `encode` writes what pycapnp writes for the same message when that fits one segment: one
  segment, the Envelope right after the root pointer, the member struct after it, each Data
  field's bytes after the pointers in field order (tested byte for byte).
- `decode` reads only that shape: one segment filling the frame exactly, the root and
  member struct pointers at offset 0 with this schema's section sizes, every Data pointer
  null or a byte list inside the segment. Anything else (another schema version's sizes,
  several segments, far pointers, a bad pointer) gives None and the codec reads the frame
  with pycapnp, so which frames are accepted and what they decode to do not change.
"""

from __future__ import annotations

import struct
from typing import Any

import attrs

_HEAD = struct.Struct("<IIQH6xQ")  # segment table, root pointer, discriminant, member pointer
HEAD_BYTES = _HEAD.size
_SEGMENT_START = 8  # bytes: the one-segment table
_MAX_BLOB_BYTES = (1 << 29) - 1  # a list pointer's element count
_BYTE_LIST = 2  # list pointer element size code: one byte


def _struct_pointer(data_words: int, pointers: int) -> int:
    """A struct pointer at offset 0 (the struct follows the pointer)."""
    return (data_words | pointers << 16) << 32


# The Envelope: one data word (the union discriminant at offset 0) and one pointer.
_ROOT = _struct_pointer(1, 1)


@attrs.frozen(slots=True)
class Layout:
    """One Envelope member's fixed layout. Values go in and come out in the order of the
    fields given to `layout_of` (the message class's field order)."""

    discriminant: int
    data_words: int
    pointers: int
    data: struct.Struct  # the data section as little-endian words
    pointer_section: struct.Struct  # the pointer section likewise
    pointer: int  # the member struct pointer: offset 0 and the section sizes
    # Per field, in order: ("word", word), ("bool", word, bit) or ("data", pointer index).
    slots: tuple[tuple[Any, ...], ...]

    def encode(self, values: tuple[Any, ...]) -> bytes:
        """The frame for `values`; struct.error or ValueError when one does not fit."""
        words = [0] * self.data_words
        pointer_words = [0] * self.pointers
        blobs: list[bytes] = []
        # Segment words before the member's pointers: root pointer, Envelope, member data.
        first = 3 + self.data_words
        end = first + self.pointers  # where the next blob goes, in words
        for slot, value in zip(self.slots, values, strict=True):
            if slot[0] == "word":
                words[slot[1]] = value
            elif slot[0] == "bool":
                if value:
                    words[slot[1]] |= 1 << slot[2]
            else:
                size = len(value)
                if size > _MAX_BLOB_BYTES:
                    raise ValueError(f"a Data field of {size} bytes")
                # Relative to the word after the pointer; blobs in the order they are set.
                offset = end - (first + slot[1] + 1)
                pointer_words[slot[1]] = (offset << 2 | 1) | (size << 3 | _BYTE_LIST) << 32
                blobs.append(value)
                if size % 8:
                    blobs.append(bytes(8 - size % 8))
                end += -(-size // 8)
        return b"".join(
            [
                _HEAD.pack(0, end, _ROOT, self.discriminant, self.pointer),
                self.data.pack(*words),
                self.pointer_section.pack(*pointer_words),
                *blobs,
            ]
        )

    def decode(self, frame: bytes, pointer: int) -> list[Any] | None:
        """The values of `frame` (whose head `decode` read), or None: not this shape."""
        if pointer != self.pointer:
            return None
        data_at = HEAD_BYTES
        pointers_at = data_at + 8 * self.data_words
        if pointers_at + 8 * self.pointers > len(frame):
            return None
        words = self.data.unpack_from(frame, data_at)
        pointer_words = self.pointer_section.unpack_from(frame, pointers_at)
        values: list[Any] = []
        for slot in self.slots:
            if slot[0] == "word":
                values.append(words[slot[1]])
            elif slot[0] == "bool":
                values.append(bool(words[slot[1]] >> slot[2] & 1))
            else:
                word = pointer_words[slot[1]]
                if not word:
                    values.append(b"")
                    continue
                if word & 3 != 1 or (word >> 32) & 7 != _BYTE_LIST:
                    return None
                offset = (word & 0xFFFFFFFF) >> 2
                if offset >= 1 << 29:  # a signed 30-bit word offset
                    offset -= 1 << 30
                start = pointers_at + 8 * (slot[1] + 1 + offset)
                end = start + (word >> 35)
                if start < _SEGMENT_START or end > len(frame):
                    return None
                values.append(frame[start:end])
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


def layout_of(envelope: Any, member: str, node: Any, wires: tuple[str, ...]) -> Layout | None:
    """The layout of Envelope member `member` (struct schema node `node`) for values given
    as the fields named `wires`, in that order; None when it has none (module rules)."""
    env = envelope.schema.node.struct
    if env.dataWordCount != 1 or env.pointerCount != 1 or env.discriminantOffset != 0:
        return None
    discriminant = next(field.discriminantValue for field in env.fields if field.name == member)
    fields = {field.name: field for field in node.struct.fields}
    slots: list[tuple[Any, ...]] = []
    for wire in wires:
        field = fields.get(wire)
        if field is None or field.which() != "slot":
            return None
        kind = str(field.slot.type.which())
        if kind not in _SLOT_TYPES or field.slot.hadExplicitDefault:
            return None
        offset = field.slot.offset
        if kind == "uint64":
            slots.append(("word", offset))
        elif kind == "bool":
            slots.append(("bool", offset // 64, offset % 64))
        else:
            slots.append(("data", offset))
    data_words, pointers = node.struct.dataWordCount, node.struct.pointerCount
    return Layout(
        discriminant,
        data_words,
        pointers,
        struct.Struct(f"<{data_words}Q"),
        struct.Struct(f"<{pointers}Q"),
        _struct_pointer(data_words, pointers),
        tuple(slots),
    )
