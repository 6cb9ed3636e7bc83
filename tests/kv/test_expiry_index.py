"""The expiry index: what an apply run's writes leave in it."""

from seshat_trio.kv.expiry_index import ExpiryIndex
from seshat_trio.storage import StoredValue


def value(expires_at_ms: int) -> StoredValue:
    return StoredValue(kind=0, data=b"v", expires_at_ms=expires_at_ms)


def test_a_run_indexes_expiries_and_drops_keys_rewritten_without_or_deleted() -> None:
    index = ExpiryIndex()
    index.written({b"a": value(10), b"b": value(20), b"c": value(0), b"d": None})
    assert (len(index), index.due(100, 10)) == (2, [b"a", b"b"])
    index.written({b"a": value(0), b"b": None, b"e": value(5)})
    assert (len(index), index.due(100, 10)) == (1, [b"e"])
    index.written({b"e": value(30), b"f": value(0)})
    assert (index.due(29, 10), index.due(30, 10)) == ([], [b"e"])


def test_a_run_without_expiries_leaves_an_empty_index_empty() -> None:
    index = ExpiryIndex()
    index.written({b"a": value(0), b"b": None})
    assert (len(index), index.due(2**62, 10)) == (0, [])
