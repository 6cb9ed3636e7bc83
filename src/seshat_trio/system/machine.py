"""The system group's state machine (fits `replication.machine.StateMachine`).

Each section is one `system_data` record named after it, written next to the applied index
in one batch per apply run, so state and index always agree (as in the KV machine). Node
components that act on the state (transport peers, the group router, ACL enforcement, the
script cache) `subscribe`: they are called synchronously after every apply that changed a
section, after a snapshot install and on reload, and keep their own typed view.

Snapshot: every section, in chunks of whole sections (a section larger than the chunk
bound travels alone). A chunk written by an older build, a `bootstrap` operation document,
is still installed: it is applied to an empty state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import attrs

from seshat_trio.logs import get_logger
from seshat_trio.protocol import ErrorReply
from seshat_trio.replication.machine import Applied, unapplied
from seshat_trio.storage import SYSTEM_GROUP, Store, WriteBatch
from seshat_trio.system import operations  # noqa: F401  (registration)
from seshat_trio.system.registry import (
    FORMAT_VERSION,
    OperationRefused,
    SystemState,
    SystemStateError,
    apply_operation,
    decode_operation,
    dumps,
    loads,
)

log = get_logger(__name__)

Subscriber = Callable[[SystemState, frozenset[str]], None]
INTERNAL_ERROR = "ERR internal error while applying the system operation; it had no effect"


class SystemStateMachine:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._subscribers: list[Subscriber] = []
        self.applied_index = 0
        self.state = SystemState()
        self.reload()

    def subscribe(self, callback: Subscriber) -> None:
        """Call `callback(state, changed)` now (with every section) and after each change."""
        self._subscribers.append(callback)
        callback(self.state, self.state.names())

    def _notify(self, changed: frozenset[str]) -> None:
        for callback in self._subscribers:
            callback(self.state, changed)

    def reload(self) -> None:
        """Re-read state and applied index from the store (start-up, snapshot install)."""
        previous = self.state
        self.applied_index = self._store.applied(SYSTEM_GROUP)
        self.state = SystemState(self._store.system_records(SYSTEM_GROUP))
        self._notify(previous.names() | self.state.names())

    def apply(
        self, entries: Iterable[tuple[int, bytes | None]], before: WriteBatch | None = None
    ) -> list[Applied]:
        results: list[Applied] = []
        last = self.applied_index
        state = self.state
        changed: set[str] = set()
        for index, data in unapplied(entries, self.applied_index):
            last = index
            if data is None:
                results.append(Applied(index, ()))
                continue
            try:
                op = decode_operation(data)
            except SystemStateError as exc:
                # Only nodes of some build propose these: stop loudly rather than diverge.
                raise RuntimeError(f"cannot apply system entry {index}: {exc}") from exc
            try:
                state, changes, reply = apply_operation(state, op)
            except OperationRefused as exc:
                reply = ErrorReply(str(exc))
            except Exception:
                # A bug, but the same on every node of this build: no effect, an error.
                log.exception("system_apply_failed", index=index, op=op.get("op"))
                reply = ErrorReply(INTERNAL_ERROR)
            else:
                changed.update(changes)
            results.append(Applied(index, (reply,)))
        batch = WriteBatch() if before is None else before
        if last == self.applied_index:
            if len(batch):
                self._store.write(batch, sync=False)
        else:
            for name in sorted(changed):
                data = state.raw.get(name)
                if data is None:
                    batch.delete_system(SYSTEM_GROUP, name)
                else:
                    batch.put_system(SYSTEM_GROUP, name, data)
            batch.put_applied(SYSTEM_GROUP, last)
            self._store.write(batch, sync=False)
            self.applied_index, self.state = last, state
            if changed:
                self._notify(frozenset(changed))
        return results

    def open_snapshot(self) -> _SystemSnapshot:
        return _SystemSnapshot(self.applied_index, self.state)

    def begin_install(self) -> _SystemInstaller:
        return _SystemInstaller(self._store)


@attrs.define(slots=True)
class _SystemSnapshot:
    applied: int
    state: SystemState

    def chunks(self, max_bytes: int) -> Iterator[bytes]:
        sections: dict[str, object] = {}
        size = 0
        for name in self.state:
            data = self.state.raw[name]
            if sections and size + len(data) > max_bytes:
                yield _chunk(sections)
                sections, size = {}, 0
            sections[name] = loads(data, f"system section {name!r}")
            size += len(data) + len(name)
        if sections:
            yield _chunk(sections)

    def close(self) -> None:
        """Nothing to release: the state is immutable."""


def _chunk(sections: dict[str, object]) -> bytes:
    return dumps({"v": FORMAT_VERSION, "sections": sections})


class _SystemInstaller:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._state = SystemState()

    def add_chunk(self, chunk: bytes) -> None:
        document = loads(chunk, "system snapshot chunk")
        if not isinstance(document, dict) or document.get("v") != FORMAT_VERSION:
            raise SystemStateError("system snapshot chunk has an unsupported format")
        if "op" in document:  # written by a build that sent its one operation
            self._state, _, _ = apply_operation(self._state, decode_operation(chunk))
            return
        sections = document.get("sections")
        if not isinstance(sections, dict):
            raise SystemStateError("system snapshot chunk has no sections")
        self._state = self._state.with_changes(sections)

    def finish(self, batch: WriteBatch | None = None) -> None:
        combined = WriteBatch()
        for name in self._store.system_records(SYSTEM_GROUP):
            if name not in self._state.raw:
                combined.delete_system(SYSTEM_GROUP, name)
        for name, data in self._state.raw.items():
            combined.put_system(SYSTEM_GROUP, name, data)
        if batch is not None:
            combined.extend(batch)
        self._store.write(combined, sync=True)

    def abort(self) -> None:
        self._state = SystemState()
