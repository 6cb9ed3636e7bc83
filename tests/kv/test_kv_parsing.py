"""Redis-exact argument parsing, float formatting and glob patterns."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seshat_trio.kv.parsing import (
    LONG_DOUBLE_MAX,
    add_decimals,
    format_decimal,
    parse_decimal,
    parse_int,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (b"0", 0), (b"-1", -1), (b"123", 123), (b"9223372036854775807", 2**63 - 1),
        (b"-9223372036854775808", -(2**63)), (b"9223372036854775808", None), (b"+1", None),
        (b"01", None), (b"-0", None), (b" 1", None), (b"1 ", None), (b"", None), (b"1.0", None),
        (b"1e3", None), (b"0x10", None), (b"1_000", None),
    ],
)  # fmt: skip
def test_integers_parse_like_string2ll(text: bytes, value: int | None) -> None:
    assert parse_int(text) == value


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_every_64_bit_integer_round_trips(value: int) -> None:
    assert parse_int(str(value).encode()) == value


@pytest.mark.parametrize(
    ("a", "b", "result"),
    [
        (b"10.50", b"0.1", b"10.6"), (b"5.0e3", b"2.0e2", b"5200"), (b"0", b"3.0e3", b"3000"),
        (b"0.1", b"0.2", b"0.3"), (b"1", b"-1", b"0"), (b"-0.5", b"0", b"-0.5"),
        (b"1", b"1e-18", b"1"), (b"1", b"1e-17", b"1.00000000000000001"),
        (b".5", b"+1.", b"1.5"), (b"1E2", b"0", b"100"),
        # Redis 7.0.15's long double: 2**63 + 0.5 needs 65 significant bits and rounds to
        # even, 2**63 - 1 + 0.5 fits in 64; "-0" prints as "0".
        (b"9223372036854775808", b"0.5", b"9223372036854775808"),
        (b"9223372036854775807", b"0.5", b"9223372036854775807.5"),
        (b"18446744073709551617", b"0", b"18446744073709551616"),
        (b"-0", b"-0", b"0"), (b"-1e-18", b"0", b"0"),
    ],
)  # fmt: skip
def test_float_results_print_like_redis(a: bytes, b: bytes, result: bytes) -> None:
    x, y = parse_decimal(a), parse_decimal(b)
    assert x is not None and y is not None
    assert format_decimal(add_decimals(x, y)) == result


@pytest.mark.parametrize(
    "text",
    [
        b"abc", b" 1", b"1 ", b"1_0", b"", b"nan", b"1e", b"0x", b"0x.p1", b"0x1p", b"0xg",
        b"0x 1", b"x10", b"0x1p1.5", b"0x1p-16446", b"0x1p16384",
        b"0x1.ffffffffffffffffp16383", b"0x1p99999999999", b"0x1p-99999999999",
    ],
)  # fmt: skip
def test_invalid_floats_are_refused(text: bytes) -> None:
    assert parse_decimal(text) is None


@pytest.mark.parametrize(
    "text",
    [
        b"1e5000", b"-1e5000", b"1e-5000", b"-1e-5000", b"1e99999999999999",
        b"1e-99999999999999", b"1.1897314953572317651e4932", b"1.8e-4951",
        b"0" * 5120,
    ],
)  # fmt: skip
def test_floats_strtold_refuses_with_erange_are_refused(text: bytes) -> None:
    # Overflow to infinity or underflow to zero (Redis's string2ld), and string2ld's limit.
    assert parse_decimal(text) is None


@pytest.mark.parametrize(
    "text",
    [
        b"0", b"0.0", b"-0", b"0e-5000", b"0e99999999999", b"1.9e-4951", b"1e-4950",
        b"1.1897314953572317650e4932", b"0" * 5119,
    ],
)  # fmt: skip
def test_zero_subnormals_and_the_largest_long_double_parse(text: bytes) -> None:
    assert parse_decimal(text) is not None


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (b"0x10", "16"), (b"-0x10", "-16"), (b"+0x1", "1"), (b"0x1P+3", "8"), (b"0x1.", "1"),
        (b"0x.1", "0.0625"), (b"0X.8P1", "1"), (b"0x1p-2", "0.25"), (b"-0x0", "0"),
        (b"0x0p99999999", "0"), (b"0x" + b"0" * 5000 + b"1p-3", "0.125"),
        # 65 significant bits round to a long double's 64, to nearest even.
        (b"0x1.0000000000000001p0", 1), (b"0x1.0000000000000003p0", 1 + Fraction(1, 2**62)),
    ],
)  # fmt: skip
def test_hex_floats_parse_as_strtold_reads_them(text: bytes, value: str | int | Fraction) -> None:
    # Redis 7.0.15: INCRBYFLOAT f 0x10 answers 16, 0x1p-16446 and 0x1p16384 are refused.
    parsed = parse_decimal(text)
    assert parsed is not None and Fraction(parsed) == Fraction(value)


def test_the_largest_and_smallest_hex_long_doubles_parse() -> None:
    largest = parse_decimal(b"0x1.fffffffffffffffep16383")
    smallest = parse_decimal(b"0x1p-16445")
    assert largest is not None and abs(largest - LONG_DOUBLE_MAX) < Decimal("1e4913")
    assert smallest is not None and Decimal(0) < smallest < Decimal("1e-4950")


def test_infinity_parses_so_incrbyfloat_can_name_it() -> None:
    assert parse_decimal(b"-inf") == Decimal("-Infinity")
