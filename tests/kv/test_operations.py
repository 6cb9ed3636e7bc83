import pytest
from hypothesis import given
from hypothesis import strategies as st

from seshat_trio.kv.operations import (
    Operation,
    OperationDecodeError,
    decode_entry,
    decode_operation,
    encode_batch,
    encode_operation,
)

commands = st.lists(
    st.tuples(st.binary(min_size=1, max_size=8)).flatmap(
        lambda name: st.lists(st.binary(max_size=40), max_size=5).map(lambda a: (*name, *a))
    ),
    min_size=0,
    max_size=4,
).map(tuple)


@given(time_ms=st.integers(min_value=-(2**63), max_value=2**63 - 1), cmds=commands)
def test_round_trip(time_ms: int, cmds: tuple[tuple[bytes, ...], ...]) -> None:
    op = Operation(time_ms, cmds)
    assert decode_operation(encode_operation(op)) == op


def test_newer_version_is_refused_with_a_clear_message() -> None:
    data = bytearray(encode_operation(Operation(1, ((b"set", b"k", b"v"),))))
    data[0] = 9
    with pytest.raises(OperationDecodeError, match="version 9 is not supported"):
        decode_operation(bytes(data))


@given(cut=st.integers(min_value=0, max_value=20))
def test_truncated_operations_are_rejected(cut: int) -> None:
    data = encode_operation(Operation(5, ((b"set", b"key", b"value"),)))
    with pytest.raises(OperationDecodeError):
        decode_operation(data[: len(data) - 1 - cut])


def test_trailing_bytes_are_rejected() -> None:
    data = encode_operation(Operation(5, ((b"del", b"a"),)))
    with pytest.raises(OperationDecodeError, match="trailing"):
        decode_operation(data + b"x")


@given(
    ops=st.lists(
        st.builds(Operation, st.integers(0, 2**40), commands, st.integers(0, 2**32 - 1)),
        max_size=6,
    )
)
def test_batch_round_trip(ops: list[Operation]) -> None:
    data = encode_batch([encode_operation(op) for op in ops])
    assert decode_entry(data) == ops


def test_single_operation_entries_still_decode() -> None:
    op = Operation(7, ((b"set", b"k", b"v"),), 100)
    assert decode_entry(encode_operation(op)) == [op]


@given(cut=st.integers(min_value=1, max_value=30))
def test_truncated_batches_are_rejected(cut: int) -> None:
    data = encode_batch([encode_operation(Operation(5, ((b"set", b"key", b"value"),)))] * 2)
    with pytest.raises(OperationDecodeError):
        decode_entry(data[: len(data) - cut])


def test_batch_trailing_bytes_and_nested_batches_are_rejected() -> None:
    inner = encode_batch([encode_operation(Operation(5, ((b"del", b"a"),)))])
    with pytest.raises(OperationDecodeError, match="trailing"):
        decode_entry(inner + b"x")
    with pytest.raises(OperationDecodeError, match="version 3 is not supported"):
        decode_entry(encode_batch([inner]))
