"""Client-side operation histories for Jepsen-style linearizability checking.

A history is a list of `Operation`s, one per client request, each with the time
the client invoked it and the time it learned the outcome.  Rules:

- Time comes from a clock *passed in* (`HistoryRecorder(clock)`): the simulator
  passes its simulated clock, real-process tests pass `trio.current_time` or
  `time.monotonic`.  This module never reads a clock of its own.
- Status means what the client can *prove*:
    OK   - the operation took effect (a READ observed `value`);
    FAIL - the operation definitely did not take effect (the checker drops it);
    INFO - indeterminate (timeout, dropped connection, "outcome unknown"): a
           write may take effect at any time after `invoke`, or never.
  Reporting a possibly-applied write as FAIL is a client bug the checker will
  (rightly) blame on the store, so when in doubt record INFO.
- `value` is the value written for WRITE, the value observed for READ
  (`None` = key absent), and always `None` for DELETE.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

import attrs


class OpKind(enum.Enum):
    """What a client asked the register to do."""

    READ = "read"
    WRITE = "write"
    DELETE = "delete"


class OpStatus(enum.Enum):
    """What the client knows about the outcome (see the module docstring)."""

    OK = "ok"
    FAIL = "fail"
    INFO = "info"


def _check_operation(op: Operation) -> None:
    if op.complete is not None and op.complete < op.invoke:
        raise ValueError(f"operation completes ({op.complete}) before it is invoked ({op.invoke})")
    if op.status is not OpStatus.INFO and op.complete is None:
        raise ValueError(f"a {op.status.name} operation needs a completion time")
    if op.kind is OpKind.WRITE and op.value is None:
        raise ValueError("a WRITE needs the value it writes")
    if op.kind is OpKind.DELETE and op.value is not None:
        raise ValueError("a DELETE carries no value")


@attrs.frozen(slots=True)
class Operation:
    """One client request against one key, with its real-time interval."""

    client: int
    kind: OpKind
    key: bytes
    value: bytes | None
    invoke: float
    complete: float | None
    status: OpStatus

    def __attrs_post_init__(self) -> None:
        _check_operation(self)

    def describe(self) -> str:
        """A one-line human-readable rendering used in checker explanations."""
        end = "..." if self.complete is None else f"{self.complete:.3f}"
        what = self.kind.name
        if self.kind is OpKind.WRITE:
            what += f" {self.value!r}"
        elif self.kind is OpKind.READ:
            what += " -> " + ("<absent>" if self.value is None else repr(self.value))
        return f"client {self.client:<3} {what:<30} [{self.invoke:.3f}, {end}] {self.status.name}"


@attrs.define(slots=True)
class _Open:
    client: int
    kind: OpKind
    key: bytes
    value: bytes | None
    invoke: float


class HistoryRecorder:
    """Records invocations and completions as clients make them.

    `invoke()` returns a handle; exactly one of `ok()`, `fail()` or `info()`
    closes it.  Invocations never closed (the client crashed or the test ended)
    appear in `history()` as INFO with no completion time, which is what they
    are: the store may or may not have applied them.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._open: dict[int, _Open] = {}
        self._done: list[tuple[int, Operation]] = []
        self._next_handle = 0

    def invoke(self, client: int, kind: OpKind, key: bytes, value: bytes | None = None) -> int:
        """Start an operation now; returns the handle to close it with."""
        if kind is OpKind.WRITE and value is None:
            raise ValueError("a WRITE needs the value it writes")
        if kind is not OpKind.WRITE and value is not None:
            raise ValueError(f"a {kind.name} is invoked without a value")
        handle = self._next_handle
        self._next_handle += 1
        self._open[handle] = _Open(client, kind, key, value, self._clock())
        return handle

    def ok(self, handle: int, observed: bytes | None = None) -> Operation:
        """The operation took effect; for a READ, `observed` is what it returned."""
        pending = self._peek(handle)
        if pending.kind is not OpKind.READ and observed is not None:
            raise ValueError(f"only a READ observes a value, not a {pending.kind.name}")
        del self._open[handle]
        value = observed if pending.kind is OpKind.READ else pending.value
        return self._close(handle, pending, value, OpStatus.OK)

    def fail(self, handle: int) -> Operation:
        """The operation definitely did not take effect."""
        pending = self._take(handle)
        return self._close(handle, pending, pending.value, OpStatus.FAIL)

    def info(self, handle: int) -> Operation:
        """The outcome is unknown; the client gave up waiting now."""
        pending = self._take(handle)
        return self._close(handle, pending, pending.value, OpStatus.INFO)

    @property
    def open_count(self) -> int:
        """Invocations not closed yet."""
        return len(self._open)

    def history(self) -> list[Operation]:
        """Every operation so far in invocation order; open ones as INFO."""
        ops = list(self._done)
        ops.extend(
            (h, Operation(p.client, p.kind, p.key, p.value, p.invoke, None, OpStatus.INFO))
            for h, p in self._open.items()
        )
        ops.sort(key=lambda item: item[0])
        return [op for _, op in ops]

    def _peek(self, handle: int) -> _Open:
        try:
            return self._open[handle]
        except KeyError:
            raise ValueError(f"handle {handle} is not an open operation") from None

    def _take(self, handle: int) -> _Open:
        pending = self._peek(handle)
        del self._open[handle]
        return pending

    def _close(
        self, handle: int, pending: _Open, value: bytes | None, status: OpStatus
    ) -> Operation:
        op = Operation(
            pending.client, pending.kind, pending.key, value, pending.invoke, self._clock(), status
        )
        self._done.append((handle, op))
        return op
