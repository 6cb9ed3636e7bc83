"""String commands through the command layer and a real state machine, on the leader and
on a follower (every test runs on both: see conftest.py)."""

from __future__ import annotations

import pytest
from replicas import Client, Replicas

from seshat_trio.protocol import ErrorReply as Err

NOT_INT = Err("ERR value is not an integer or out of range")
SYNTAX = Err("ERR syntax error")
NOT_FLOAT = Err("ERR value is not a valid float")

CASES: dict[str, list[tuple[tuple[str | int, ...], object]]] = {
    "set_get": [
        (("SET", "k", "v"), b"OK"),
        (("GET", "k"), b"v"),
        (("GET", "missing"), None),
        (("SET", "k", "v2", "GET"), b"v"),
        (("SET", "new", "x", "GET"), None),
        (("SET", "k", "v", "BOGUS"), SYNTAX),
        (("SET", "k", "v", "NX", "XX"), SYNTAX),
        (("SET", "k", "v", "EX", "10", "PX", "100"), SYNTAX),
        (("SET", "k", "v", "KEEPTTL", "EX", "10"), SYNTAX),
        (("SET", "k", "v", "EX"), SYNTAX),
        (("GET", "k"), b"v2"),
    ],
    "set_nx_xx": [
        (("SET", "k", "1", "XX"), None),
        (("SET", "k", "1", "NX"), b"OK"),
        (("SET", "k", "2", "NX"), None),
        (("SET", "k", "2", "NX", "GET"), b"1"),
        (("SET", "k", "3", "XX", "GET"), b"1"),
        (("GET", "k"), b"3"),
        (("SETNX", "k", "4"), 0),
        (("SETNX", "k2", "4"), 1),
        (("GET", "k2"), b"4"),
    ],
    "set_expiry_errors": [
        (("SET", "k", "v", "EX", "0"), Err("ERR invalid expire time in 'set' command")),
        (("SET", "k", "v", "PX", "-5"), Err("ERR invalid expire time in 'set' command")),
        (("SET", "k", "v", "EXAT", "0"), Err("ERR invalid expire time in 'set' command")),
        (("SET", "k", "v", "EX", "abc"), NOT_INT),
        (
            ("SET", "k", "v", "EX", str(2**63 // 1000 + 1)),
            Err("ERR invalid expire time in 'set' command"),
        ),
        (("SET", "k", "v", "PX", str(2**63 - 1)), Err("ERR invalid expire time in 'set' command")),
        (("SETEX", "k", "0", "v"), Err("ERR invalid expire time in 'setex' command")),
        (("PSETEX", "k", "-1", "v"), Err("ERR invalid expire time in 'psetex' command")),
        (("SETEX", "k", "x", "v"), NOT_INT),
        (("EXISTS", "k"), 0),
    ],
    "getset_getdel": [
        (("GETSET", "k", "1"), None),
        (("GETSET", "k", "2"), b"1"),
        (("GETDEL", "k"), b"2"),
        (("GETDEL", "k"), None),
        (("EXISTS", "k"), 0),
    ],
    "mget_mset": [
        (("MSET", "a", "1", "b", "2"), b"OK"),
        (("MGET", "a", "b", "c"), [b"1", b"2", None]),
        (("MSET", "a", "1", "b"), Err("ERR wrong number of arguments for 'mset' command")),
        (("MSETNX", "a", "9", "z", "9"), 0),
        (("MSETNX", "y", "9", "z", "9"), 1),
        (("MGET", "a", "y", "z"), [b"1", b"9", b"9"]),
        (("MSETNX", "q"), Err("ERR wrong number of arguments for 'msetnx' command")),
    ],
    "append_strlen": [
        (("APPEND", "k", "Hello"), 5),
        (("APPEND", "k", " World"), 11),
        (("GET", "k"), b"Hello World"),
        (("STRLEN", "k"), 11),
        (("STRLEN", "missing"), 0),
    ],
    "getrange": [
        (("SET", "k", "This is a string"), b"OK"),
        (("GETRANGE", "k", "0", "3"), b"This"),
        (("GETRANGE", "k", "-3", "-1"), b"ing"),
        (("GETRANGE", "k", "0", "-1"), b"This is a string"),
        (("GETRANGE", "k", "10", "100"), b"string"),
        (("GETRANGE", "k", "-1", "-5"), b""),
        (("GETRANGE", "k", "5", "3"), b""),
        (("SUBSTR", "k", "0", "3"), b"This"),
        (("GETRANGE", "missing", "0", "-1"), b""),
        (("GETRANGE", "k", "a", "1"), NOT_INT),
    ],
    "setrange": [
        (("SETRANGE", "k", "0", ""), 0),
        (("EXISTS", "k"), 0),
        (("SETRANGE", "k", "5", "x"), 6),
        (("GET", "k"), b"\x00\x00\x00\x00\x00x"),
        (("SET", "h", "Hello World"), b"OK"),
        (("SETRANGE", "h", "6", "Redis"), 11),
        (("GET", "h"), b"Hello Redis"),
        (("SETRANGE", "h", "0", ""), 11),
        (("SETRANGE", "h", "-1", "x"), Err("ERR offset is out of range")),
        (
            ("SETRANGE", "h", str(512 * 1024 * 1024), "x"),
            Err("ERR string exceeds maximum allowed size (proto-max-bulk-len)"),
        ),
        (("SETRANGE", "h", "4194304", "x"), Err("ERR value too large (max 4194304 bytes)")),
        (("SETRANGE", "h", "4194303", "x"), 4194304),
    ],
    "incr_decr": [
        (("INCR", "n"), 1),
        (("INCRBY", "n", "10"), 11),
        (("DECR", "n"), 10),
        (("DECRBY", "n", "20"), -10),
        (("GET", "n"), b"-10"),
        (("INCRBY", "n", "1.5"), NOT_INT),
        (("SET", "s", "abc"), b"OK"),
        (("INCR", "s"), NOT_INT),
        (("SET", "s", " 1"), b"OK"),
        (("INCR", "s"), NOT_INT),
        (("SET", "s", "+1"), b"OK"),
        (("INCR", "s"), NOT_INT),
        (("SET", "s", "01"), b"OK"),
        (("INCR", "s"), NOT_INT),
        (("SET", "big", str(2**63 - 1)), b"OK"),
        (("INCR", "big"), Err("ERR increment or decrement would overflow")),
        (("SET", "small", str(-(2**63))), b"OK"),
        (("DECR", "small"), Err("ERR increment or decrement would overflow")),
        (("DECRBY", "n", str(-(2**63))), Err("ERR decrement would overflow")),
        (("INCRBY", "n", str(2**63)), NOT_INT),
        (("GET", "big"), str(2**63 - 1).encode()),
    ],
    "incrbyfloat": [
        (("SET", "f", "10.50"), b"OK"),
        (("INCRBYFLOAT", "f", "0.1"), b"10.6"),
        (("INCRBYFLOAT", "f", "-5"), b"5.6"),
        (("SET", "g", "5.0e3"), b"OK"),
        (("INCRBYFLOAT", "g", "2.0e2"), b"5200"),
        (("INCRBYFLOAT", "h", "3.0e3"), b"3000"),
        (("INCRBYFLOAT", "h", "abc"), Err("ERR value is not a valid float")),
        (("INCRBYFLOAT", "h", "inf"), Err("ERR increment would produce NaN or Infinity")),
        (("INCRBYFLOAT", "h", "1e5000"), NOT_FLOAT),
        (("SET", "s", "x"), b"OK"),
        (("INCRBYFLOAT", "s", "1"), Err("ERR value is not a valid float")),
        (("INCRBYFLOAT", "z", "0.1"), b"0.1"),
        (("INCRBYFLOAT", "z", "0.2"), b"0.3"),
        (("INCRBYFLOAT", "w", "-0.5"), b"-0.5"),
        (("GET", "h"), b"3000"),
    ],
    # Redis 7.0.15: strtold's ERANGE (overflow to infinity, underflow to zero) makes the
    # argument or stored value invalid, and nothing is written; an exact zero is fine.
    "incrbyfloat_out_of_range": [
        (("SET", "f", "10.5"), b"OK"),
        (("INCRBYFLOAT", "f", "1e-5000"), NOT_FLOAT),
        (("INCRBYFLOAT", "f", "-1e-5000"), NOT_FLOAT),
        (("INCRBYFLOAT", "f", "1e5000"), NOT_FLOAT),
        (("INCRBYFLOAT", "f", "-1e5000"), NOT_FLOAT),
        (("INCRBYFLOAT", "f", "1.8e-4951"), NOT_FLOAT),  # below half the least subnormal
        (("INCRBYFLOAT", "f", "1.9e-4951"), b"10.5"),  # a subnormal: valid
        (("INCRBYFLOAT", "f", "1.1897314953572317651e4932"), NOT_FLOAT),
        (("INCRBYFLOAT", "f", "0"), b"10.5"),
        (("INCRBYFLOAT", "f", "0.0"), b"10.5"),
        (("INCRBYFLOAT", "f", "-0"), b"10.5"),
        (("INCRBYFLOAT", "f", "0e-5000"), b"10.5"),
        (("INCRBYFLOAT", "f", "0" * 5119), b"10.5"),
        (("INCRBYFLOAT", "f", "0" * 5120), NOT_FLOAT),  # string2ld's buffer is 5120 bytes
        (("GET", "f"), b"10.5"),
        (("INCRBYFLOAT", "new", "1e-5000"), NOT_FLOAT),
        (("EXISTS", "new"), 0),
        (("SET", "tiny", "1e-5000"), b"OK"),
        (("INCRBYFLOAT", "tiny", "1"), NOT_FLOAT),
        (("SET", "huge", "1e5000"), b"OK"),
        (("INCRBYFLOAT", "huge", "1"), NOT_FLOAT),
        (("MGET", "tiny", "huge"), [b"1e-5000", b"1e5000"]),
        (("SET", "zero", "0e-5000"), b"OK"),
        (("INCRBYFLOAT", "zero", "1"), b"1"),
    ],
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_string_command_cases(client: Client, case: str) -> None:
    for command, expected in CASES[case]:
        assert await client.call(*command) == expected, command


async def test_set_keepttl_and_getex(client: Client, replicas: Replicas) -> None:
    assert await client.call("SET", "k", "v", "EX", "100") == b"OK"
    assert await client.call("SET", "k", "w", "KEEPTTL") == b"OK"
    assert await client.call("TTL", "k") == 100
    assert await client.call("SET", "k", "x") == b"OK"
    assert await client.call("TTL", "k") == -1  # a plain SET clears the TTL
    assert await client.call("GETEX", "k", "PX", "5000") == b"x"
    assert await client.call("PTTL", "k") == 5000
    assert await client.call("GETEX", "k", "PERSIST") == b"x"
    assert await client.call("TTL", "k") == -1
    assert await client.call("GETEX", "k", "EX", "0") == Err(
        "ERR invalid expire time in 'getex' command"
    )
    assert await client.call("GETEX", "k", "PERSIST", "EX", "1") == SYNTAX
    assert await client.call("GETEX", "missing", "EX", "10") is None
    assert (
        await client.call("GETEX", "k", "EXAT", str(replicas.leader.clock_ms // 1000 - 5)) == b"x"
    )
    assert await client.call("EXISTS", "k") == 0  # an expiry in the past deletes the key


async def test_getex_on_a_missing_key_is_nil_whatever_the_expiry(client: Client) -> None:
    # Redis 7.0.15 looks the key up before it checks the expiry's number; the options'
    # syntax is checked first.
    assert await client.pipeline(
        [
            ("GETEX", "missing", "EX", "0"),
            ("GETEX", "missing", "EX", "abc"),
            ("GETEX", "missing", "PX", "-5"),
            ("GETEX", "missing", "EX", str(2**63 - 1)),
            ("GETEX", "missing", "PERSIST", "PERSIST"),
            ("GETEX", "missing", "BOGUS"),
            ("GETEX", "missing", "EX"),
            ("GETEX", "missing", "PERSIST", "EX", "10"),
            ("GETEX", "missing", "EX", "10", "PX", "10"),
            ("EXISTS", "missing"),
        ]
    ) == [None, None, None, None, None, SYNTAX, SYNTAX, SYNTAX, SYNTAX, 0]


async def test_getex_options_on_an_existing_key(client: Client) -> None:
    assert await client.call("SET", "k", "v", "EX", "100") == b"OK"
    assert await client.pipeline(
        [
            ("GETEX", "k", "EX", "abc"),
            ("GETEX", "k", "EX", "0"),
            ("GETEX", "k", "PX", str(2**63 - 1)),
            ("TTL", "k"),
            ("GETEX", "k", "EX", "10", "EX", "20"),  # the same option again: the last counts
            ("TTL", "k"),
            ("GETEX", "k", "PERSIST", "PERSIST"),
            ("TTL", "k"),
        ]
    ) == [
        NOT_INT,
        Err("ERR invalid expire time in 'getex' command"),
        Err("ERR invalid expire time in 'getex' command"),
        100,
        b"v",
        20,
        b"v",
        -1,
    ]


async def test_set_checks_its_options_before_the_expiry_number(client: Client) -> None:
    # Redis 7.0.15: a syntax error wins over a bad number; the same expiry option twice is
    # accepted and the last one counts (only that one's number is checked).
    assert await client.pipeline(
        [
            ("SET", "k", "v", "EX", "abc", "BOGUS"),
            ("SET", "k", "v", "EX", "0", "BOGUS"),
            ("SET", "k", "v", "EX", "abc", "PX", "10"),
            ("EXISTS", "k"),
            ("SET", "k", "v", "EX", "abc", "EX", "20"),
            ("TTL", "k"),
            ("SET", "k", "v", "KEEPTTL", "KEEPTTL", "NX", "NX"),
            ("SET", "k", "w", "GET", "GET", "XX"),
            ("TTL", "k"),
        ]
    ) == [SYNTAX, SYNTAX, SYNTAX, 0, b"OK", 20, None, b"v", -1]


async def test_setex_names_itself_when_the_time_overflows_with_now(client: Client) -> None:
    # In range on its own, beyond 64 bits once the current time is added.
    assert await client.pipeline(
        [
            ("SETEX", "k", str(2**63 // 1000), "v"),
            ("PSETEX", "k", str(2**63 - 1), "v"),
            ("SET", "k", "v", "EX", str(2**63 // 1000)),
            ("EXISTS", "k"),
        ]
    ) == [
        Err("ERR invalid expire time in 'setex' command"),
        Err("ERR invalid expire time in 'psetex' command"),
        Err("ERR invalid expire time in 'set' command"),
        0,
    ]


async def test_absolute_expiry_options(client: Client, replicas: Replicas) -> None:
    now = replicas.leader.clock_ms
    assert await client.call("SET", "a", "v", "PXAT", now + 1500) == b"OK"
    assert await client.call("PEXPIRETIME", "a") == now + 1500
    assert await client.call("SET", "b", "v", "EXAT", now // 1000 + 20) == b"OK"
    assert await client.call("EXPIRETIME", "b") == now // 1000 + 20
    assert await client.call("SETEX", "c", "7", "v") == b"OK"
    assert await client.call("PSETEX", "d", "700", "v") == b"OK"
    assert await client.pipeline([("TTL", "c"), ("PTTL", "d")]) == [7, 700]


async def test_append_and_incrbyfloat_growth_is_bounded(client: Client) -> None:
    big = "x" * 4194304
    assert await client.call("SET", "k", big) == b"OK"
    assert await client.call("APPEND", "k", "y") == Err("ERR value too large (max 4194304 bytes)")
    assert await client.call("STRLEN", "k") == 4194304
    assert await client.call("INCRBYFLOAT", "f", "1e60000") == NOT_FLOAT


async def test_incr_keeps_the_ttl(client: Client) -> None:
    assert await client.call("SET", "n", "1", "EX", "50") == b"OK"
    assert await client.pipeline([("INCR", "n"), ("APPEND", "n", "0"), ("TTL", "n")]) == [2, 2, 50]
    assert await client.call("GET", "n") == b"20"
