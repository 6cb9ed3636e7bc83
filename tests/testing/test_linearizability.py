"""Linearizability checker: known-good and known-bad histories, plus properties."""

from __future__ import annotations

import itertools

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seshat_trio.testing import (
    HistoryRecorder,
    Operation,
    OpKind,
    OpStatus,
    check_linearizable,
)

OK, FAIL, INFO = OpStatus.OK, OpStatus.FAIL, OpStatus.INFO
K = b"k"


def w(c: int, v: bytes, t0: float, t1: float | None, s: OpStatus = OK, key: bytes = K) -> Operation:
    return Operation(c, OpKind.WRITE, key, v, t0, t1, s)


def r(
    c: int, v: bytes | None, t0: float, t1: float | None, s: OpStatus = OK, key: bytes = K
) -> Operation:
    return Operation(c, OpKind.READ, key, v, t0, t1, s)


def d(c: int, t0: float, t1: float | None, s: OpStatus = OK, key: bytes = K) -> Operation:
    return Operation(c, OpKind.DELETE, key, None, t0, t1, s)


# --- known-good -----------------------------------------------------------------


def test_empty_history_is_linearizable() -> None:
    assert check_linearizable([]).ok


def test_sequential_history() -> None:
    ops = [
        r(0, None, 0, 1),
        w(0, b"a", 2, 3),
        r(1, b"a", 4, 5),
        d(1, 6, 7),
        r(0, None, 8, 9),
        w(2, b"b", 10, 11),
        r(2, b"b", 12, 13),
    ]
    assert check_linearizable(ops).ok


def test_concurrent_overlapping_reads_may_see_either_value() -> None:
    ops = [
        w(0, b"a", 0, 1),
        w(1, b"b", 2, 10),
        r(2, b"b", 3, 4),  # b took effect early ...
        r(3, b"b", 5, 6),
        r(4, b"b", 11, 12),
    ]
    assert check_linearizable(ops).ok
    ops2 = [w(0, b"a", 0, 1), w(1, b"b", 2, 10), r(2, b"a", 3, 4), r(3, b"b", 5, 6)]
    assert check_linearizable(ops2).ok


def test_reads_order_concurrent_writes() -> None:
    # Two concurrent writes; readers agree on which came last.
    ops = [w(0, b"a", 0, 10), w(1, b"b", 0, 10), r(2, b"a", 11, 12), r(3, b"a", 13, 14)]
    assert check_linearizable(ops).ok


def test_equal_timestamps_count_as_concurrent() -> None:
    ops = [w(0, b"a", 0, 5), r(1, None, 5, 6)]
    assert check_linearizable(ops).ok


def test_info_write_that_took_effect_late() -> None:
    ops = [
        w(0, b"a", 0, 1),
        w(1, b"b", 2, None, INFO),  # timed out
        r(2, b"a", 3, 4),
        r(2, b"a", 5, 6),
        r(2, b"b", 50, 51),  # ... but it did happen, much later
    ]
    assert check_linearizable(ops).ok


def test_info_write_that_never_took_effect() -> None:
    ops = [w(0, b"a", 0, 1), w(1, b"b", 2, 3, INFO), r(2, b"a", 4, 5), r(2, b"a", 100, 101)]
    assert check_linearizable(ops).ok


def test_info_delete_may_apply() -> None:
    ops = [w(0, b"a", 0, 1), d(1, 2, None, INFO), r(2, None, 3, 4)]
    assert check_linearizable(ops).ok


def test_fail_and_info_reads_are_ignored() -> None:
    ops = [w(0, b"a", 0, 1), r(1, b"zzz", 2, 3, FAIL), r(1, b"b", 4, None, INFO), r(1, b"a", 5, 6)]
    assert check_linearizable(ops).ok


def test_keys_are_independent() -> None:
    ops = [
        w(0, b"a", 0, 1, key=b"x"),
        w(0, b"b", 2, 3, key=b"y"),
        r(1, b"a", 4, 5, key=b"x"),
        r(1, None, 4, 5, key=b"z"),
    ]
    result = check_linearizable(ops)
    assert result.ok
    assert "3 keys" in result.explanation


def test_many_concurrent_info_writes_stay_tractable() -> None:
    # 40 indeterminate writes of two values: the interchangeability reduction
    # keeps the search small.
    ops = [w(c, b"ab"[c % 2 : c % 2 + 1], c, None, INFO) for c in range(40)]
    ops += [r(99, b"a", 50, 51), r(99, b"b", 52, 53), r(99, b"a", 54, 55)]
    assert check_linearizable(ops, max_steps=5_000).ok


# --- known-bad ------------------------------------------------------------------


def test_lost_write() -> None:
    ops = [w(0, b"a", 0, 1), w(1, b"b", 2, 3), r(2, b"a", 4, 5)]
    result = check_linearizable(ops)
    assert not result.ok and not result.unknown
    assert result.key == K
    text = result.explanation
    assert "b'k'" in text
    assert "holds b'b'" in text
    # The window shows the stuck read and both writes that explain it.
    assert "x #" in text and "READ -> b'a'" in text
    assert "WRITE b'a'" in text and "WRITE b'b'" in text


def test_stale_read_after_delete() -> None:
    ops = [w(0, b"a", 0, 1), d(0, 2, 3), r(1, b"a", 4, 5)]
    result = check_linearizable(ops)
    assert not result.ok
    assert "<absent>" in result.explanation


def test_stale_read_between_fresh_reads() -> None:
    # Readers see the new value, then a later read sees the old one again.
    ops = [w(0, b"a", 0, 1), w(0, b"b", 2, 10), r(1, b"b", 3, 4), r(2, b"a", 5, 6)]
    result = check_linearizable(ops)
    assert not result.ok
    assert "READ -> b'a'" in result.explanation


def test_read_of_value_never_written() -> None:
    ops = [w(0, b"a", 0, 1), r(1, b"ghost", 2, 3)]
    result = check_linearizable(ops)
    assert not result.ok
    assert "ever wrote" in result.explanation and "ghost" in result.explanation


def test_read_observing_a_failed_write() -> None:
    ops = [w(0, b"a", 0, 1), w(1, b"b", 2, 3, FAIL), r(2, b"b", 4, 5)]
    result = check_linearizable(ops)
    assert not result.ok
    assert "FAILED" in result.explanation
    assert "WRITE b'b'" in result.explanation


def test_read_before_write_invoked() -> None:
    ops = [r(1, b"a", 0, 1), w(0, b"a", 2, 3)]
    assert not check_linearizable(ops).ok


def test_violation_on_one_key_is_named() -> None:
    ops = [
        w(0, b"a", 0, 1, key=b"good"),
        r(0, b"a", 2, 3, key=b"good"),
        w(0, b"a", 0, 1, key=b"bad"),
        w(0, b"b", 2, 3, key=b"bad"),
        r(1, b"a", 4, 5, key=b"bad"),
    ]
    result = check_linearizable(ops)
    assert not result.ok
    assert result.key == b"bad"


def test_budget_exhaustion_is_reported_as_unknown() -> None:
    # Many concurrent distinct writes and a read that no order explains: the
    # search must enumerate orders and runs out of budget.
    ops = [w(c, bytes([65 + c]), 0, 100) for c in range(12)]
    ops += [r(50, bytes([65 + c]), 101 + 2 * c, 102 + 2 * c) for c in range(12)]
    result = check_linearizable(ops, max_steps=200)
    assert not result.ok
    assert result.unknown
    assert result.key == K
    assert "unknown" in result.explanation


# --- recorder -------------------------------------------------------------------


def test_recorder_uses_the_clock_it_is_given() -> None:
    ticks = itertools.count(10)
    rec = HistoryRecorder(lambda: float(next(ticks)))
    h1 = rec.invoke(1, OpKind.WRITE, K, b"v")
    h2 = rec.invoke(2, OpKind.READ, K)
    rec.ok(h2, b"v")
    rec.ok(h1)
    h3 = rec.invoke(3, OpKind.DELETE, K)
    h4 = rec.invoke(4, OpKind.WRITE, K, b"w")
    rec.info(h4)
    hist = rec.history()
    assert [op.client for op in hist] == [1, 2, 3, 4]
    assert hist[0] == Operation(1, OpKind.WRITE, K, b"v", 10.0, 13.0, OK)
    assert hist[1] == Operation(2, OpKind.READ, K, b"v", 11.0, 12.0, OK)
    assert hist[2].status is INFO and hist[2].complete is None  # never closed
    assert hist[3].status is INFO and hist[3].complete == 16.0
    assert rec.open_count == 1
    rec.fail(h3)
    assert rec.open_count == 0
    assert rec.history()[2].status is FAIL


def test_recorder_rejects_misuse() -> None:
    rec = HistoryRecorder(lambda: 0.0)
    with pytest.raises(ValueError, match="needs the value"):
        rec.invoke(1, OpKind.WRITE, K)
    with pytest.raises(ValueError, match="without a value"):
        rec.invoke(1, OpKind.READ, K, b"x")
    h = rec.invoke(1, OpKind.WRITE, K, b"x")
    with pytest.raises(ValueError, match="only a READ"):
        rec.ok(h, b"y")
    rec.ok(h)
    with pytest.raises(ValueError, match="not an open operation"):
        rec.ok(h)


def test_operation_validates_itself() -> None:
    with pytest.raises(ValueError, match="before it is invoked"):
        w(0, b"a", 5, 4)
    with pytest.raises(ValueError, match="completion time"):
        w(0, b"a", 5, None, OK)
    with pytest.raises(ValueError, match="no value"):
        Operation(0, OpKind.DELETE, K, b"x", 0, 1, OK)


# --- properties -----------------------------------------------------------------


@attrs.frozen
class _Step:
    client: int
    kind: OpKind
    key: int
    gap: int
    duration: int
    point: float  # where in the interval it takes effect, in (0, 1)
    fate: OpStatus  # OK, FAIL (not applied) or INFO


_steps = st.lists(
    st.builds(
        _Step,
        client=st.integers(0, 4),
        kind=st.sampled_from(list(OpKind)),
        key=st.integers(0, 2),
        gap=st.integers(0, 3),
        duration=st.integers(1, 8),
        point=st.floats(0.01, 0.99),
        fate=st.sampled_from([OK, OK, OK, OK, FAIL, INFO]),
    ),
    max_size=60,
)


def _simulate_atomic_register(steps: list[_Step], info_applies: list[bool]) -> list[Operation]:
    """Run a real atomic register: each op takes effect at one instant inside
    its interval (or never, for FAIL and some INFO), clients are sequential."""
    clock: dict[int, float] = {}
    planned: list[tuple[float, int, _Step, float, float, bool]] = []
    for n, s in enumerate(steps):
        t0 = clock.get(s.client, 0.0) + s.gap
        t1 = t0 + s.duration
        clock[s.client] = t1
        applies = s.fate is OK or (s.fate is INFO and info_applies[n % len(info_applies)])
        planned.append((t0 + s.point * s.duration, n, s, t0, t1, applies))
    store: dict[int, bytes] = {}
    ops: list[Operation] = []
    for _, n, s, t0, t1, applies in sorted(planned):
        key = b"k%d" % s.key
        value: bytes | None = None
        if s.kind is OpKind.WRITE:
            value = b"v%d" % n
            if applies:
                store[s.key] = value
        elif s.kind is OpKind.DELETE:
            if applies:
                store.pop(s.key, None)
        else:
            value = store.get(s.key)
        complete = None if s.fate is INFO and n % 2 else t1
        ops.append(Operation(s.client, s.kind, key, value, t0, complete, s.fate))
    return ops


@settings(max_examples=150, deadline=None)
@given(steps=_steps, info_applies=st.lists(st.booleans(), min_size=1, max_size=8))
def test_histories_of_an_atomic_register_are_linearizable(
    steps: list[_Step], info_applies: list[bool]
) -> None:
    ops = _simulate_atomic_register(steps, info_applies)
    result = check_linearizable(ops)
    assert result.ok, result.explanation


@settings(max_examples=100, deadline=None)
@given(
    steps=_steps,
    info_applies=st.lists(st.booleans(), min_size=1, max_size=8),
    pick=st.integers(min_value=0),
)
def test_one_read_mutated_to_an_impossible_value_is_caught(
    steps: list[_Step], info_applies: list[bool], pick: int
) -> None:
    ops = _simulate_atomic_register(steps, info_applies)
    reads = [i for i, op in enumerate(ops) if op.kind is OpKind.READ and op.status is OK]
    if not reads:
        ops.append(r(9, None, 1000, 1001, key=b"k0"))
        reads = [len(ops) - 1]
    i = reads[pick % len(reads)]
    ops[i] = attrs.evolve(ops[i], value=b"impossible")
    result = check_linearizable(ops)
    assert not result.ok and not result.unknown
    assert result.key == ops[i].key


@settings(max_examples=100, deadline=None)
@given(steps=_steps, info_applies=st.lists(st.booleans(), min_size=1, max_size=8))
def test_one_read_mutated_to_an_overwritten_value_is_caught(
    steps: list[_Step], info_applies: list[bool]
) -> None:
    """A read that returns a value overwritten before it began is a stale read.

    Writes carry unique values, so if write A completed before write B was
    invoked and B completed before the read was invoked, A's value is gone.
    """
    ops = _simulate_atomic_register(steps, info_applies)
    ops.append(w(7, b"tail-a", 1000, 1001, key=b"k1"))
    ops.append(w(7, b"tail-b", 1002, 1003, key=b"k1"))
    done_writes = [
        op for op in ops if op.kind is OpKind.WRITE and op.status is OK and op.key == b"k1"
    ]
    stale = done_writes[0]
    ops.append(r(8, stale.value, 1004, 1005, key=b"k1"))
    result = check_linearizable(ops)
    assert not result.ok and not result.unknown
    assert result.key == b"k1"


def test_checker_handles_a_long_history_quickly() -> None:
    steps = [
        _Step(c % 5, list(OpKind)[c % 3], c % 7, c % 2, 3 + c % 5, 0.5, OK if c % 11 else INFO)
        for c in range(3000)
    ]
    ops = _simulate_atomic_register(steps, [True, False])
    result = check_linearizable(ops)
    assert result.ok, result.explanation
