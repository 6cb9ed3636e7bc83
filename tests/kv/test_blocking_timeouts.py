"""Blocking timeouts read exactly as Redis 7.0.15 reads them (each case below was run
against redis-server 7.0.15: `BLPOP k <timeout>` on an empty key): a long double, hex floats
included, times 1000, rounded up to milliseconds, cast to a long long."""

from __future__ import annotations

import pytest

from seshat_trio.kv.blocking import NEGATIVE_TIMEOUT, NOT_A_TIMEOUT, parse_timeout

FOREVER = 0.0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (b"0x10", 16.0), (b"0x1p3", 8.0), (b"0x0", FOREVER), (b"1e3", 1000.0), (b"+1", 1.0),
        (b"1.5", 1.5), (b".5", 0.5), (b"5.", 5.0), (b"0.", FOREVER), (b"0e0", FOREVER),
        (b"-0", FOREVER), (b"00.1", 0.1),
        # Rounded UP to whole milliseconds: a tenth of one waits one, not forever...
        (b"0.0001", 0.001), (b"0.0009", 0.001), (b"1e-4", 0.001), (b"1e-4000", 0.001),
        (b"0x1p-16445", 0.001),
        # ...and a negative value above -1 ms rounds up to 0: forever.
        (b"-0.0001", FOREVER), (b"-0.0009", FOREVER), (b"-0.001", FOREVER),
        (b"-1e-4000", FOREVER),
        # The largest that fits a long long once in milliseconds (long double rounding).
        (b"9223372036854775.807", 9223372036854775.807),
        (b"9223372036854775.8071", 9223372036854775.807),
    ],
)  # fmt: skip
def test_timeouts_redis_accepts(text: bytes, seconds: float) -> None:
    assert parse_timeout(text) == seconds


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (b"inf", NEGATIVE_TIMEOUT), (b"-inf", NEGATIVE_TIMEOUT), (b"+inf", NEGATIVE_TIMEOUT),
        (b"infinity", NEGATIVE_TIMEOUT), (b"-1", NEGATIVE_TIMEOUT), (b"-0x10", NEGATIVE_TIMEOUT),
        (b"-0.002", NEGATIVE_TIMEOUT), (b"-0.0011", NEGATIVE_TIMEOUT),
        # Beyond a long long in milliseconds: the cast makes it negative.
        (b"1e400", NEGATIVE_TIMEOUT), (b"1e16", NEGATIVE_TIMEOUT),
        (b"9223372036854775807", NEGATIVE_TIMEOUT), (b"9223372036854775.808", NEGATIVE_TIMEOUT),
        (b"9223372036854775.8072", NEGATIVE_TIMEOUT),
        (b"nan", NOT_A_TIMEOUT), (b" 1", NOT_A_TIMEOUT), (b"1 ", NOT_A_TIMEOUT),
        (b"0x", NOT_A_TIMEOUT), (b"abc", NOT_A_TIMEOUT), (b"", NOT_A_TIMEOUT),
        (b"1,5", NOT_A_TIMEOUT), (b"0b1", NOT_A_TIMEOUT), (b"1_000", NOT_A_TIMEOUT),
    ],
)  # fmt: skip
def test_timeouts_redis_refuses(text: bytes, error: object) -> None:
    assert parse_timeout(text) == error
