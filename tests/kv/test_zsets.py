"""Sorted sets on the state machine: the two record families stay in step, a command costs
what it touches (ZADD on a big set reads and writes a few records), WATCH sees every change,
and scores parse and sort as Redis's (C's strtod, through ctypes, is the oracle)."""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seshat_trio.kv.multi import exec_header, fingerprint
from seshat_trio.kv.operations import Operation, encode_operation
from seshat_trio.kv.state_machine import KvStateMachine
from seshat_trio.kv.zset_ranges import ScoreRange, order_bytes, parse_score, score_of_order
from seshat_trio.kv.zsets import member_key
from seshat_trio.protocol import NULL_ARRAY, Pairs, Reply
from seshat_trio.storage import Store, keys

GROUP = 1


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "db") as s:
        yield s


@pytest.fixture
def machine(store: Store) -> KvStateMachine:
    return KvStateMachine(store, GROUP)


def apply(sm: KvStateMachine, *commands: tuple[bytes, ...]) -> tuple[Reply, ...]:
    entry = encode_operation(Operation(1000, commands))
    (result,) = sm.apply([(sm.applied_index + 1, entry)])
    return result.replies


def data_records(store: Store) -> int:
    return sum(1 for _ in store._db.iterator(prefix=keys.values_prefix(GROUP)))


def zadd(key: bytes, members: range) -> tuple[bytes, ...]:
    return (b"zadd", key, *(part for i in members for part in (b"%d" % i, b"m%d" % i)))


def test_each_member_is_two_records_and_an_emptied_set_is_deleted(
    machine: KvStateMachine, store: Store
) -> None:
    apply(machine, zadd(b"z", range(10)))
    assert data_records(store) == 1 + 2 * 10
    apply(machine, (b"zadd", b"z", b"100", b"m3"), (b"zincrby", b"z", b"-1", b"m4"))
    assert data_records(store) == 1 + 2 * 10  # a new score moves the order record
    assert apply(machine, (b"zrange", b"z", b"-2", b"-1", b"withscores")) == (
        Pairs([(b"m9", 9.0), (b"m3", 100.0)]),
    )
    assert apply(machine, (b"zremrangebyrank", b"z", b"0", b"-1"), (b"exists", b"z")) == (10, 0)
    while store.sweep_garbage(7):  # the emptied set's records are garbage of a gone version
        pass
    assert data_records(store) == 0


def test_order_records_stay_out_of_the_value_cache(machine: KvStateMachine, store: Store) -> None:
    # Range scans read them, never a point read: a cache entry each would only cost.
    apply(machine, (b"zadd", b"z", b"1", b"a", b"2", b"b"))
    apply(machine, (b"zadd", b"z", b"3", b"a"))  # moves a's order record
    cached = list(store.value_cache._entries)
    orders = [b"s" + order_bytes(s) + m for s, m in ((1.0, b"a"), (3.0, b"a"), (2.0, b"b"))]
    assert not [key for key in cached for order in orders if key.endswith(order)]
    assert len([key for key in cached for m in (b"a", b"b") if key.endswith(member_key(m))]) == 2
    assert apply(machine, (b"zrange", b"z", b"0", b"-1", b"withscores")) == (
        Pairs([(b"b", 2.0), (b"a", 3.0)]),
    )
    assert apply(machine, (b"zrangebyscore", b"z", b"2", b"2")) == ([b"b"],)


class Counting:
    """Counts the element records a store serves (point reads, and items of scans)."""

    def __init__(self, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
        self.gets = self.scanned = 0
        get, scan = store.get_element, store.iter_elements

        def counted_get(*args: object) -> object:
            self.gets += 1
            return get(*args)  # type: ignore[arg-type]

        def counted_scan(*args: object, **kwargs: object) -> Iterator[object]:
            for item in scan(*args, **kwargs):  # type: ignore[arg-type]
                self.scanned += 1
                yield item

        monkeypatch.setattr(store, "get_element", counted_get)
        monkeypatch.setattr(store, "iter_elements", counted_scan)


def test_a_zset_command_costs_what_it_touches(
    machine: KvStateMachine, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    for start in range(0, 20_000, 5000):
        apply(machine, zadd(b"big", range(start, start + 5000)))
    before = data_records(store)
    counter = Counting(store, monkeypatch)
    assert apply(
        machine,
        (b"zadd", b"big", b"-5", b"new", b"7.5", b"m7"),
        (b"zincrby", b"big", b"1", b"new"),
        (b"zrem", b"big", b"m8"),
        (b"zscore", b"big", b"m9"),
        (b"zcard", b"big"),
    ) == (1, -4.0, 1, 9.0, 20_000)
    assert counter.scanned == 0 and counter.gets <= 10
    assert data_records(store) == before  # one member added, one removed
    assert apply(
        machine,
        (b"zrangebyscore", b"big", b"(100", b"+inf", b"limit", b"0", b"3"),
        (b"zrevrange", b"big", b"0", b"1"),
        (b"zrank", b"big", b"m19998"),  # near the top: counted from the top
        (b"zcount", b"big", b"10", b"19"),
        (b"zpopmin", b"big"),
    ) == (
        [b"m101", b"m102", b"m103"], [b"m19999", b"m19998"], 19_998, 10, [b"new", -4.0]
    )  # fmt: skip
    assert counter.scanned < 100


def test_watch_sees_every_change_to_a_sorted_set(machine: KvStateMachine) -> None:
    apply(machine, (b"zadd", b"z", b"1", b"a"))
    seen = fingerprint(machine.get(b"z"))
    apply(machine, (b"zadd", b"z", b"1", b"a"), (b"zscore", b"z", b"a"))  # no change
    assert apply(machine, exec_header([(b"z", seen)]), (b"zcard", b"z")) == ([1],)
    apply(machine, (b"zadd", b"z", b"2", b"a"))  # a new score, same count
    assert apply(machine, exec_header([(b"z", seen)]), (b"zcard", b"z")) == (NULL_ARRAY,)
    seen = fingerprint(machine.get(b"z"))
    apply(machine, (b"zunionstore", b"z", b"1", b"z"))  # rewritten whole
    assert apply(machine, exec_header([(b"z", seen)]), (b"zcard", b"z")) == (NULL_ARRAY,)


def test_a_big_sorted_set_survives_a_reload_rename_and_copy(store: Store) -> None:
    machine = KvStateMachine(store, GROUP)
    apply(machine, zadd(b"z", range(300)), (b"rename", b"z", b"y"), (b"copy", b"y", b"x"))
    machine = KvStateMachine(store, GROUP)
    assert apply(machine, (b"zcard", b"x"), (b"zrank", b"y", b"m150"), (b"exists", b"z")) == (
        300, 150, 0,
    )  # fmt: skip
    assert apply(machine, (b"zrangebyscore", b"x", b"298", b"+inf")) == ([b"m298", b"m299"],)


# -- scores --------------------------------------------------------------------------------
_libc = ctypes.CDLL(ctypes.util.find_library("c"))
_libc.strtod.restype = ctypes.c_double
_libc.strtod.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]
_libc.__errno_location.restype = ctypes.POINTER(ctypes.c_int)
ERANGE = 34


def c_string2d(text: bytes) -> float | None:
    """Redis 7.0's string2d over C's strtod: the oracle for `parse_score`."""
    if not text or b"\x00" in text or text[:1].isspace():
        return None
    buffer = ctypes.create_string_buffer(text)
    end = ctypes.c_void_p()
    _libc.__errno_location()[0] = 0
    value = _libc.strtod(ctypes.addressof(buffer), ctypes.byref(end))
    consumed = (end.value or 0) - ctypes.addressof(buffer)
    errno = _libc.__errno_location()[0]
    if consumed != len(text) or math.isnan(value):
        return None
    if errno == ERANGE and (math.isinf(value) or value == 0):
        return None
    return float(value)


float_texts = st.one_of(
    st.floats(allow_nan=True).map(lambda f: repr(f).encode()),
    st.floats(allow_nan=False).map(lambda f: f.hex().encode()),
    st.from_regex(rb"\A[ +-]?[0-9]{0,3}\.?[0-9]{0,3}([eE][+-]?[0-9]{1,4})?\Z"),
    st.sampled_from([b"inf", b"-inf", b"+inf", b"INFINITY", b"nan", b"1e-400", b"1e400",
                     b"4.9e-324", b"2e-324", b"0x1p-1080", b"0x", b"1_0", b" 1", b"1 "]),
    # Plain digits take a shortcut: up to where they could overflow, and past it.
    st.from_regex(rb"\A[0-9]{1,20}\Z"),
    st.sampled_from([b"9" * 299, b"9" * 300, b"9" * 309, b"9" * 400, b"0" * 400]),
)  # fmt: skip


@given(float_texts)
def test_scores_parse_as_redis_string2d(text: bytes) -> None:
    expected = c_string2d(text)
    got = parse_score(text)
    assert (got is None) == (expected is None), text
    if got is not None and expected is not None:
        assert struct.pack(">d", got) == struct.pack(">d", expected), text


@given(st.lists(st.floats(allow_nan=False), min_size=2, max_size=10))
def test_order_bytes_sort_as_the_scores(scores: list[float]) -> None:
    encoded = sorted(scores, key=order_bytes)
    assert encoded == sorted(scores)
    for score in scores:
        assert score_of_order(order_bytes(score)) == score


def test_range_bounds_are_strtod_with_an_exclusive_prefix() -> None:
    assert ScoreRange.parse(b"(1", b" 2") == ScoreRange(1.0, 2.0, True, False)
    assert ScoreRange.parse(b"", b"(") == ScoreRange(0.0, 0.0, False, True)
    assert ScoreRange.parse(b"1e400", b"-1e400") == ScoreRange(math.inf, -math.inf, False, False)
    assert ScoreRange.parse(b"nan", b"1") == ScoreRange.parse(b"1 ", b"2")
