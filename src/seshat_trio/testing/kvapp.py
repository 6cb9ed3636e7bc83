"""The simulator's replicated application: a tiny deterministic key-value map.

Rules:
- `apply` depends only on the entry bytes and the current map: no clock, no
  randomness, so equal logs give equal states on every node.
- A command carries the id of the client operation that proposed it, so the
  simulator can check that the entry a node applies at a proposed (term, index)
  is the very command it proposed there.
- The snapshot is the map plus the applied index, encoded canonically (sorted,
  length-prefixed), so equal states give equal bytes.
"""

from __future__ import annotations

import struct

import attrs

_SET = b"S"
_DEL = b"D"
_READ = b"R"
_HEAD = struct.Struct(">cQH")  # tag, op id, key length
_ITEM = struct.Struct(">HI")  # key length, value length
_SNAP_HEAD = struct.Struct(">QI")  # applied index, item count


@attrs.frozen(slots=True)
class Command:
    """SET (value is not None) or DEL (value is None) of one key; or, with `read`, a read
    of it placed in the log (it changes nothing; the proposer answers it from the state
    at its position: a pipelined read behind writes, docs/raft.md)."""

    op_id: int
    key: bytes
    value: bytes | None
    read: bool = False

    def encode(self) -> bytes:
        tag = _READ if self.read else _DEL if self.value is None else _SET
        return _HEAD.pack(tag, self.op_id, len(self.key)) + self.key + (self.value or b"")

    @classmethod
    def decode(cls, data: bytes) -> Command:
        if len(data) < _HEAD.size:
            raise ValueError(f"command too short: {data!r}")
        tag, op_id, key_len = _HEAD.unpack_from(data)
        key = data[_HEAD.size : _HEAD.size + key_len]
        if len(key) != key_len or tag not in (_SET, _DEL, _READ):
            raise ValueError(f"malformed command: {data!r}")
        rest = data[_HEAD.size + key_len :]
        if tag != _SET:
            if rest:
                raise ValueError(f"{tag.decode()} command with trailing bytes: {data!r}")
            return cls(op_id, key, None, read=tag == _READ)
        return cls(op_id, key, rest)


State = frozenset[tuple[bytes, bytes]]


@attrs.define(slots=True)
class KvApp:
    """One node's copy of the map and the index of the last entry applied to it."""

    data: dict[bytes, bytes] = attrs.field(factory=dict)
    applied: int = 0

    def apply(self, index: int, command: Command | None) -> None:
        """Apply the entry at `index` (`None` for entries without a command)."""
        if index != self.applied + 1:
            raise ValueError(f"apply out of order: index {index} after {self.applied}")
        if command is not None and not command.read:
            if command.value is None:
                self.data.pop(command.key, None)
            else:
                self.data[command.key] = command.value
        self.applied = index

    def state(self) -> State:
        """A hashable, order-free view of the map for comparisons."""
        return frozenset(self.data.items())

    def copy(self) -> KvApp:
        return KvApp(dict(self.data), self.applied)

    def snapshot(self) -> bytes:
        items = sorted(self.data.items())
        out = [_SNAP_HEAD.pack(self.applied, len(items))]
        for key, value in items:
            out.append(_ITEM.pack(len(key), len(value)) + key + value)
        return b"".join(out)

    @classmethod
    def restore(cls, blob: bytes) -> KvApp:
        applied, count = _SNAP_HEAD.unpack_from(blob)
        pos = _SNAP_HEAD.size
        data: dict[bytes, bytes] = {}
        for _ in range(count):
            key_len, value_len = _ITEM.unpack_from(blob, pos)
            pos += _ITEM.size
            key = blob[pos : pos + key_len]
            pos += key_len
            data[key] = blob[pos : pos + value_len]
            pos += value_len
        if pos != len(blob):
            raise ValueError("snapshot has trailing bytes")
        return cls(data, applied)
