"""Named operations over named JSON sections: the system group's state and how it changes.

Theory of operation. The system group's state is a set of *sections*, each a JSON value
under a name (`members`, `shards`, and whatever a feature adds: ACL users, scripts, cluster
settings). A log entry of group 0 is one *operation*, a JSON document
`{"v": 1, "op": NAME, ...fields}`. The module that owns a section registers the operations
that change it (`register_operation`), each a pure function

    apply(state, op) -> (changes, reply)

where `changes` maps section names to their new JSON value (None deletes the section) and
`reply` is what the proposer gets back.

Rules every operation lives by (they run at apply on every node and must agree):
- Deterministic: a function of `state` and `op` only (no clock, no randomness, no I/O;
  times and random choices travel inside the operation).
- No mutation: sections are handed out as fresh copies; an operation returns new values.
- Bad fields are refused with `OperationRefused(message)`: the state is unchanged and the
  proposer gets the message as an error reply (every node refuses alike).
- An operation name this build does not know stops the apply loudly (`UnknownOperation`)
  rather than diverging from newer nodes; so does a document of an unknown format version.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs

from seshat_trio.protocol import Reply

FORMAT_VERSION = 1

Changes = Mapping[str, Any]
Operation = Mapping[str, Any]
ApplyFunction = Callable[["SystemState", Operation], tuple[Changes, Reply]]


class SystemStateError(ValueError):
    """Bytes that are not a valid system operation or section of a known version."""


class UnknownOperation(SystemStateError):
    """An operation this build does not implement (proposed by a newer node)."""


class OperationRefused(Exception):
    """An operation whose fields are invalid for the current state; nothing changes."""


def dumps(value: Any) -> bytes:
    """The canonical encoding: every node writes the same bytes for the same value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def loads(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SystemStateError(f"{what} is not valid JSON: {exc}") from exc


@attrs.frozen(slots=True)
class SystemState:
    """Sections by name, held in their canonical encoding (readers get fresh copies)."""

    raw: Mapping[str, bytes] = attrs.field(factory=dict)

    def section(self, name: str) -> Any | None:
        data = self.raw.get(name)
        return None if data is None else loads(data, f"system section {name!r}")

    def names(self) -> frozenset[str]:
        return frozenset(self.raw)

    def with_changes(self, changes: Changes) -> SystemState:
        raw = dict(self.raw)
        for name, value in changes.items():
            if not name:
                raise ValueError("a system section needs a non-empty name")
            if value is None:
                raw.pop(name, None)
            else:
                raw[name] = dumps(value)
        return SystemState(raw)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.raw))


_OPERATIONS: dict[str, ApplyFunction] = {}


def register_operation(name: str, apply: ApplyFunction) -> None:
    """Make `name` an operation of the system group (once per name, at import time)."""
    if name in _OPERATIONS and _OPERATIONS[name] is not apply:
        raise ValueError(f"system operation {name!r} is registered twice")
    _OPERATIONS[name] = apply


def encode_operation(name: str, /, **fields: Any) -> bytes:
    """A log entry for group 0: the operation `name` with its fields."""
    if name not in _OPERATIONS:
        raise UnknownOperation(f"unknown system operation {name!r}")
    if "v" in fields or "op" in fields:
        raise ValueError("'v' and 'op' are reserved in a system operation")
    return dumps({"v": FORMAT_VERSION, "op": name, **fields})


def decode_operation(data: bytes) -> Operation:
    document = loads(data, "system operation")
    if not isinstance(document, dict) or document.get("v") != FORMAT_VERSION:
        raise SystemStateError(
            f"system operation has an unsupported format (this build reads version "
            f"{FORMAT_VERSION})"
        )
    if document.get("op") not in _OPERATIONS:
        raise UnknownOperation(f"unknown system operation {document.get('op')!r}")
    return document


def apply_operation(state: SystemState, op: Operation) -> tuple[SystemState, Changes, Reply]:
    """Apply a decoded operation: the new state, the sections it changed, its reply.

    `OperationRefused` propagates to the caller, which answers it as an error."""
    changes, reply = _OPERATIONS[op["op"]](state, op)
    if not changes:
        return state, {}, reply
    return state.with_changes(changes), changes, reply
