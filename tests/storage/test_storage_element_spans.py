"""Element spans read exactly the suffixes start <= suffix < stop, forwards and backwards,
whatever the bounds (plyvel 1.5 iterating backwards drops a first record equal to its start:
the store must not)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from seshat_trio.storage import Span, Store, StoredValue, WriteBatch

suffixes = st.lists(st.binary(min_size=1, max_size=3), max_size=12, unique=True)
bounds = st.binary(max_size=3)


@settings(max_examples=200, deadline=None)
@given(suffixes, bounds, st.none() | bounds, st.booleans())
def test_a_span_reads_what_lies_between_its_bounds(
    stored: list[bytes], start: bytes, stop: bytes | None, reverse: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "db") as store:
        batch = WriteBatch()
        batch.put_value(1, b"k", StoredValue(4, b"header", 0, version=7))
        for suffix in stored:
            batch.put_element(1, b"k", 7, suffix, b"v" + suffix)
        batch.put_element(1, b"l", 8, b"\x00", b"a neighbour")  # just past k's range
        store.write(batch)
        expected = sorted(s for s in stored if s >= start and (stop is None or s < stop))
        if reverse:
            expected.reverse()
        got = list(store.iter_elements(1, b"k", 7, Span(start, stop, reverse)))
        assert got == [(s, b"v" + s) for s in expected]


def test_backwards_from_a_start_equal_to_the_only_record() -> None:
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "db") as store:
        batch = WriteBatch()
        batch.put_element(1, b"k", 7, b"ab", b"1")
        batch.put_element(1, b"k", 7, b"abc", b"2")
        store.write(batch)
        assert list(store.iter_elements(1, b"k", 7, Span(b"ab", b"abb", reverse=True))) == [
            (b"ab", b"1")
        ]


def test_write_elements_puts_and_deletes_in_one_operation() -> None:
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "db") as store:
        first = WriteBatch()
        first.write_elements(1, b"k", 7, [(b"a", b"1"), (b"b", b"2"), (b"c", b"")])
        store.write(first)
        assert store.get_element(1, b"k", 7, b"b") == b"2"  # now cached
        second = WriteBatch()
        second.write_elements(1, b"k", 7, [(b"b", None), (b"d", b"4"), (b"a", b"one")])
        second.put_element(1, b"k", 7, b"a", b"uno")  # later operations win
        store.write(second)
        expected = [(b"a", b"uno"), (b"c", b""), (b"d", b"4")]
        assert list(store.iter_elements(1, b"k", 7)) == expected
        assert [store.get_element(1, b"k", 7, s) for s in (b"a", b"b", b"c")] == [
            b"uno", None, b""
        ]  # fmt: skip
        store.value_cache.clear()
        assert store.get_element(1, b"k", 7, b"b") is None
