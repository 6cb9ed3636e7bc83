"""Linearizability checker for a key-value store seen as one register per key.

Theory of operation
-------------------
Linearizability is compositional (Herlihy & Wing's locality, "P-compositionality"
in Horn & Kroening): a history over many keys is linearizable iff the sub-history
of every key is.  So the checker partitions by key and checks each register on
its own, which keeps every search small.

Per key it runs the Wing-Gong-Lowe search: walk the history choosing, at each
step, an operation that may take effect next, i.e. one invoked no later than the
earliest completion among the operations not yet placed (the "min-return
bound"); backtrack on a dead end.  Lowe's cache memoizes every visited
(set of placed operations, register value) so equal configurations are explored
once.  Two reductions keep the search tight without losing completeness:

- a READ that matches the current value and may go next is placed at once: it
  changes nothing and placing it early only relaxes the bound for the others;
- indeterminate (INFO) writes never complete, so they never constrain the bound,
  may be placed at any point after their invocation, and need not be placed at
  all; among several unplaced INFO writes with the same effect only the first is
  tried, because they are interchangeable.

FAIL operations and INFO reads are dropped before the search.  Equal timestamps
count as concurrent (either order is allowed), so a coarse clock can only make
the checker more lenient, never raise a false alarm.

The search is bounded by a step budget per key; exhausting it yields an explicit
"unknown" verdict rather than a hang or a guess.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence

import attrs

from seshat_trio.testing.history import Operation, OpKind, OpStatus

#: Default search budget (visited configurations) per key.
DEFAULT_MAX_STEPS = 500_000

#: Most operations shown in a failure explanation.
_WINDOW_LIMIT = 12


@attrs.frozen(slots=True)
class CheckResult:
    """The verdict.  `ok` is True only for a proof of linearizability.

    `unknown` is True when the step budget ran out before a verdict (then `ok`
    is False and `key` names the register that was too large).  On a violation
    `key` names the offending register and `explanation` shows the operations.
    """

    ok: bool
    key: bytes | None
    explanation: str
    unknown: bool = False


def check_linearizable(
    ops: Iterable[Operation], *, max_steps: int = DEFAULT_MAX_STEPS
) -> CheckResult:
    """Check a history; every key starts absent.  See the module docstring."""
    by_key: dict[bytes, list[Operation]] = defaultdict(list)
    for op in ops:
        by_key[op.key].append(op)
    too_large: list[bytes] = []
    checked = 0
    for key in sorted(by_key):
        result = _check_register(key, by_key[key], max_steps)
        if result.unknown:
            too_large.append(key)
        elif not result.ok:
            return result
        else:
            checked += 1
    if too_large:
        return CheckResult(
            ok=False,
            key=too_large[0],
            explanation=(
                f"unknown: search budget of {max_steps} steps exhausted for "
                f"{len(too_large)} key(s) ({', '.join(repr(k) for k in too_large[:5])}); "
                f"{checked} other key(s) are linearizable"
            ),
            unknown=True,
        )
    return CheckResult(ok=True, key=None, explanation=f"linearizable ({checked} keys)")


@attrs.frozen(slots=True)
class _Register:
    """One key's history prepared for the search, sorted by invocation."""

    ops: Sequence[Operation]
    invoke: Sequence[float]
    ret: Sequence[float]  # +inf for INFO: it may take effect arbitrarily late
    required: int  # bitmask of the OK operations, all of which must be placed


def _prepare(ops: Sequence[Operation]) -> _Register:
    kept = [
        op
        for op in ops
        if op.status is OpStatus.OK or (op.status is OpStatus.INFO and op.kind is not OpKind.READ)
    ]
    kept.sort(key=lambda op: (op.invoke, _ret(op)))
    required = 0
    for i, op in enumerate(kept):
        if op.status is OpStatus.OK:
            required |= 1 << i
    return _Register(
        ops=kept,
        invoke=[op.invoke for op in kept],
        ret=[_ret(op) for op in kept],
        required=required,
    )


def _ret(op: Operation) -> float:
    if op.status is OpStatus.INFO or op.complete is None:
        return math.inf
    return op.complete


State = bytes | None
Config = tuple[int, State]


class _Search:
    """Depth-first WGL search over one register with Lowe's cache."""

    def __init__(self, reg: _Register, max_steps: int) -> None:
        self.reg = reg
        self.max_steps = max_steps
        self.steps = 0
        self.deepest: Config = (0, None)
        self._deepest_count = -1

    def run(self) -> bool | None:
        """True if linearizable, False if not, None if the budget ran out."""
        visited: set[Config] = set()
        stack = [self._closure(0, None)]
        while stack:
            config = stack.pop()
            if config in visited:
                continue
            visited.add(config)
            self.steps += 1
            if self.steps > self.max_steps:
                return None
            bits, state = config
            if bits & self.reg.required == self.reg.required:
                return True
            placed = (bits & self.reg.required).bit_count()
            if placed > self._deepest_count:
                self._deepest_count, self.deepest = placed, config
            # Reversed so the earliest-invoked candidate is explored first.
            stack.extend(reversed(self._children(bits, state)))
        return False

    def window(self, bits: int) -> range:
        """Indexes of operations that may take effect next after `bits`."""
        reg = self.reg
        first = _lowest_clear_bit(bits)
        bound = math.inf
        end = first
        for i in range(first, len(reg.ops)):
            if reg.invoke[i] > bound:
                break
            end = i + 1
            if not bits >> i & 1 and reg.ret[i] < bound:
                bound = reg.ret[i]
        while end > first and reg.invoke[end - 1] > bound:
            end -= 1
        return range(first, end)

    def _children(self, bits: int, state: State) -> list[Config]:
        children: list[Config] = []
        tried_info: set[tuple[OpKind, State]] = set()
        for i in self.window(bits):
            if bits >> i & 1:
                continue
            op = self.reg.ops[i]
            if op.kind is OpKind.READ:
                continue  # a matching read was already placed by _closure
            if op.status is OpStatus.INFO:
                effect = (op.kind, op.value)
                if effect in tried_info:
                    continue
                tried_info.add(effect)
            children.append(self._closure(bits | 1 << i, op.value))
        return children

    def _closure(self, bits: int, state: State) -> Config:
        """Place every read that may go next and observes `state`."""
        progress = True
        while progress:
            progress = False
            for i in self.window(bits):
                op = self.reg.ops[i]
                if not bits >> i & 1 and op.kind is OpKind.READ and op.value == state:
                    bits |= 1 << i
                    progress = True
        return bits, state


def _lowest_clear_bit(bits: int) -> int:
    return (~bits & (bits + 1)).bit_length() - 1


def _check_register(key: bytes, ops: Sequence[Operation], max_steps: int) -> CheckResult:
    phantom = _phantom_read(ops)
    if phantom is not None:
        return CheckResult(ok=False, key=key, explanation=_explain_phantom(key, ops, phantom))
    reg = _prepare(ops)
    search = _Search(reg, max_steps)
    verdict = search.run()
    if verdict is None:
        return CheckResult(
            ok=False,
            key=key,
            explanation=f"unknown: key {key!r} ({len(reg.ops)} operations) exceeded "
            f"{max_steps} search steps",
            unknown=True,
        )
    if verdict:
        return CheckResult(ok=True, key=key, explanation=f"key {key!r} is linearizable")
    return CheckResult(ok=False, key=key, explanation=_explain_stuck(key, search))


def _phantom_read(ops: Sequence[Operation]) -> Operation | None:
    """An OK read of a value that no OK or INFO write ever wrote, if any."""
    written = {op.value for op in ops if op.kind is OpKind.WRITE and op.status is not OpStatus.FAIL}
    for op in ops:
        is_read = op.kind is OpKind.READ and op.status is OpStatus.OK
        if is_read and op.value is not None and op.value not in written:
            return op
    return None


def _explain_phantom(key: bytes, ops: Sequence[Operation], read: Operation) -> str:
    failed = [
        op
        for op in ops
        if op.kind is OpKind.WRITE and op.status is OpStatus.FAIL and op.value == read.value
    ]
    lines = [
        f"key {key!r} is not linearizable: a read observed {read.value!r}, "
        "which no successful or indeterminate write ever wrote",
        "  " + read.describe(),
    ]
    if failed:
        lines.append("  the value was only written by operation(s) reported as FAILED:")
        lines.extend("  " + op.describe() for op in failed[:_WINDOW_LIMIT])
    return "\n".join(lines)


def _explain_stuck(key: bytes, search: _Search) -> str:
    """Show where the search got furthest and the operations it could not place.

    The window holds the operations that were due next, and for each read among
    them the latest writes of the value it observed plus the placed writes that
    overwrote it: usually the whole story of a stale read or a lost write.
    """
    reg = search.reg
    bits, state = search.deepest
    due = [i for i in search.window(bits) if not bits >> i & 1]
    stuck_reads = [i for i in due if reg.ops[i].kind is OpKind.READ]
    shown: set[int] = set(due[: _WINDOW_LIMIT // 2])
    for r in stuck_reads[:2]:
        seen, end = reg.ops[r].value, reg.ret[r]
        effects = [
            i for i, op in enumerate(reg.ops) if op.kind is not OpKind.READ and reg.invoke[i] <= end
        ]
        sources = [i for i in effects if reg.ops[i].value == seen][-2:]
        start = min((reg.invoke[i] for i in sources), default=-math.inf)
        overwrites = [i for i in effects if bits >> i & 1 and reg.ret[i] >= start]
        shown.update(sources)
        shown.update(overwrites[-3:])
    placed = (bits & reg.required).bit_count()
    total = reg.required.bit_count()
    holds = "<absent>" if state is None else repr(state)
    lines = [
        f"key {key!r} is not linearizable: after placing {placed} of {total} completed "
        f"operations the register holds {holds} and none of the operations due next "
        "can take effect (x = cannot be placed, * = placed before):"
    ]
    for i in sorted(shown):
        mark = "*" if bits >> i & 1 else ("x" if i in stuck_reads else " ")
        lines.append(f"  {mark} #{i:<4} {reg.ops[i].describe()}")
    return "\n".join(lines)
