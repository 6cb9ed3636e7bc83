"""Sorted-set commands through the command layer and real state machines, on the leader and
on a follower (see conftest.py). Every expected reply in CASES is redis-server 7.0.15's
(RESP2), edge cases from Redis's tests/unit/type/zset.tcl among them."""

from __future__ import annotations

import math

import pytest
from replicas import Client

from seshat_trio.kv.sampling import EXACT_RANDOM_ELEMENTS
from seshat_trio.protocol import ErrorReply as Err

NOT_INT = Err("ERR value is not an integer or out of range")
NOT_FLOAT = Err("ERR value is not a valid float")
NOT_RANGE = Err("ERR min or max is not a float")
NOT_LEX = Err("ERR min or max not valid string range item")
SYNTAX = Err("ERR syntax error")
WRONGTYPE = Err("WRONGTYPE Operation against a key holding the wrong kind of value")
GT_LT_NX = Err("ERR GT, LT, and/or NX options at the same time are not compatible")
XX_NX = Err("ERR XX and NX options at the same time are not compatible")
INCR_PAIRS = Err("ERR INCR option supports a single increment-element pair")
LIMIT_BY = Err(
    "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
)
SCORES_BYLEX = Err("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
OUT_OF_RANGE = Err(
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
)
NO_KEYS_ZINTERCARD = Err("ERR at least 1 input key is needed for 'zintercard' command")

CASES: dict[str, list[tuple[tuple[str, ...], object]]] = {
    "zadd_flags": [
        (("ZADD", "z", "10", "x", "20", "y", "30", "z"), 3),
        (("ZADD", "z", "NX", "11", "x", "40", "w"), 1),
        (("ZADD", "z", "XX", "11", "x", "50", "v"), 0),
        (("ZADD", "z", "XX", "CH", "12", "x", "20", "y", "50", "v"), 1),
        (("ZADD", "z", "CH", "GT", "1", "x", "100", "y", "5", "new"), 2),
        (("ZADD", "z", "ch", "lt", "1", "x", "200", "y"), 1),
        (("ZADD", "z", "GT", "LT", "1", "x"), GT_LT_NX),
        (("ZADD", "z", "NX", "GT", "1", "x"), GT_LT_NX),
        (("ZADD", "z", "NX", "LT", "1", "x"), GT_LT_NX),
        (("ZADD", "z", "NX", "XX", "1", "x"), XX_NX),
        (("ZADD", "z", "INCR", "1", "x", "2", "y"), INCR_PAIRS),
        (("ZADD", "z", "1"), Err("ERR wrong number of arguments for 'zadd' command")),
        (("ZADD", "z", "1", "x", "2"), SYNTAX),
        (("ZADD", "z", "x", "1"), NOT_FLOAT),
        (("ZADD", "z", "NX"), Err("ERR wrong number of arguments for 'zadd' command")),
        (
            ("ZRANGE", "z", "0", "-1", "WITHSCORES"),
            [b"x", b"1", b"new", b"5", b"z", b"30", b"w", b"40", b"y", b"100"],
        ),
        (("ZADD", "missing", "XX", "1", "a"), 0),
        (("EXISTS", "missing"), 0),
    ],
    "zadd_incr": [
        (("ZADD", "z", "INCR", "5", "a"), b"5"),
        (("ZADD", "z", "INCR", "2.5", "a"), b"7.5"),
        (("ZADD", "z", "INCR", "NX", "1", "a"), None),
        (("ZADD", "z", "INCR", "XX", "1", "nosuch"), None),
        (("ZADD", "z", "INCR", "GT", "-1", "a"), None),
        (("ZADD", "z", "INCR", "LT", "-1", "a"), b"6.5"),
        (("ZADD", "z", "INCR", "GT", "0", "a"), None),
        (("ZADD", "z", "INCR", "0", "a"), b"6.5"),
        (("ZINCRBY", "z", "1", "a"), b"7.5"),
        (("ZINCRBY", "z", "-inf", "a"), b"-inf"),
        (("ZINCRBY", "z", "+inf", "a"), Err("ERR resulting score is not a number (NaN)")),
        (("ZINCRBY", "z", "x", "a"), NOT_FLOAT),
        (("ZINCRBY", "z", "nan", "a"), NOT_FLOAT),
        (("ZADD", "z", "INCR", "-0", "negzero"), b"-0"),
        (("ZSCORE", "z", "negzero"), b"0"),
        (("ZINCRBY", "z", "0.1", "b"), b"0.10000000000000001"),
        (("ZINCRBY", "z", "0.2", "b"), b"0.30000000000000004"),
        (("ZSCORE", "z", "a"), b"-inf"),
        (
            ("ZRANGE", "z", "0", "-1", "WITHSCORES"),
            [b"a", b"-inf", b"negzero", b"0", b"b", b"0.30000000000000004"],
        ),
    ],
    "score_parsing": [
        (
            (
                "ZADD",
                "z",
                "inf",
                "a",
                "-inf",
                "b",
                "+inf",
                "c",
                "0x10",
                "d",
                "1e3",
                "e",
                ".5",
                "f",
                "-1.5e-3",
                "g",
                "1.7976931348623157e308",
                "h",
            ),
            8,
        ),
        (("ZADD", "z", "nan", "x"), NOT_FLOAT),
        (("ZADD", "z", "1e400", "x"), NOT_FLOAT),
        (("ZADD", "z", "1e-400", "x"), NOT_FLOAT),
        (("ZADD", "z", " 1", "x"), NOT_FLOAT),
        (("ZADD", "z", "1 ", "x"), NOT_FLOAT),
        (("ZADD", "z", "", "x"), NOT_FLOAT),
        (("ZADD", "z", "1_0", "x"), NOT_FLOAT),
        (("ZADD", "z", "Infinity", "i"), 1),
        (("ZADD", "z", "3.0000000000000004", "j"), 1),
        (("ZADD", "z", "0.1", "k"), 1),
        (("ZADD", "z", "100000000000000000000", "l"), 1),
        (
            ("ZRANGE", "z", "0", "-1", "WITHSCORES"),
            [
                b"b",
                b"-inf",
                b"g",
                b"-0.0015",
                b"k",
                b"0.10000000000000001",
                b"f",
                b"0.5",
                b"j",
                b"3.0000000000000004",
                b"d",
                b"16",
                b"e",
                b"1000",
                b"l",
                b"1e+20",
                b"h",
                b"1.7976931348623157e+308",
                b"a",
                b"inf",
                b"c",
                b"inf",
                b"i",
                b"inf",
            ],
        ),
        (("ZSCORE", "z", "nosuch"), None),
        (("ZSCORE", "nosuch", "a"), None),
        (("ZMSCORE", "z", "a", "nosuch", "h"), [b"inf", None, b"1.7976931348623157e+308"]),
        (("ZMSCORE", "nosuch", "a", "b"), [None, None]),
        (("ZCARD", "z"), 12),
        (("ZCARD", "nosuch"), 0),
    ],
    "rank": [
        (("ZADD", "z", "1", "a", "2", "b", "3", "c", "3", "d", "4", "e"), 5),
        (("ZRANK", "z", "a"), 0),
        (("ZRANK", "z", "c"), 2),
        (("ZRANK", "z", "d"), 3),
        (("ZRANK", "z", "e"), 4),
        (("ZREVRANK", "z", "a"), 4),
        (("ZREVRANK", "z", "d"), 1),
        (("ZRANK", "z", "nosuch"), None),
        (("ZRANK", "nosuch", "a"), None),
    ],
    "zrange_by_rank": [
        (("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"), 4),
        (("ZRANGE", "z", "0", "-1"), [b"a", b"b", b"c", b"d"]),
        (
            ("ZRANGE", "z", "0", "-1", "WITHSCORES"),
            [b"a", b"1", b"b", b"2", b"c", b"3", b"d", b"4"],
        ),
        (("ZRANGE", "z", "1", "2", "REV", "WITHSCORES"), [b"c", b"3", b"b", b"2"]),
        (("ZRANGE", "z", "-2", "-1"), [b"c", b"d"]),
        (("ZRANGE", "z", "-100", "1"), [b"a", b"b"]),
        (("ZRANGE", "z", "2", "1"), []),
        (("ZRANGE", "z", "5", "10"), []),
        (("ZRANGE", "z", "0", "100"), [b"a", b"b", b"c", b"d"]),
        (("ZREVRANGE", "z", "0", "0", "WITHSCORES"), [b"d", b"4"]),
        (("ZRANGE", "z", "0", "1", "LIMIT", "0", "1"), LIMIT_BY),
        (("ZREVRANGE", "z", "0", "1", "BYSCORE"), SYNTAX),
        (("ZRANGE", "z", "x", "1"), NOT_INT),
        (("ZRANGE", "z", "0", "1", "bogus"), SYNTAX),
        (("ZRANGE", "nosuch", "0", "-1"), []),
    ],
    "zrange_by_score": [
        (("ZADD", "z", "-inf", "ninf", "1", "a", "2", "b", "2", "bb", "3", "c", "inf", "pinf"), 6),
        (("ZRANGE", "z", "1", "2", "BYSCORE", "WITHSCORES"), [b"a", b"1", b"b", b"2", b"bb", b"2"]),
        (("ZRANGE", "z", "(1", "(3", "BYSCORE"), [b"b", b"bb"]),
        (("ZRANGE", "z", "(2", "(2", "BYSCORE"), []),
        (("ZRANGE", "z", "2", "2", "BYSCORE"), [b"b", b"bb"]),
        (("ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "2"), [b"a", b"b"]),
        (
            ("ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "-1"),
            [b"a", b"b", b"bb", b"c", b"pinf"],
        ),
        (("ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "-1", "2"), []),
        (("ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "0"), []),
        (("ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "10", "1"), []),
        (
            ("ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "0", "3", "WITHSCORES"),
            [b"pinf", b"inf", b"c", b"3", b"bb", b"2"],
        ),
        (("ZRANGE", "z", "3", "1", "BYSCORE"), []),
        (("ZRANGE", "z", "x", "1", "BYSCORE"), NOT_RANGE),
        (("ZRANGE", "z", "", "(1", "BYSCORE"), []),
        (("ZRANGE", "z", "(", "1", "BYSCORE"), [b"a"]),
        (("ZRANGE", "z", "  1", "2", "BYSCORE"), [b"a", b"b", b"bb"]),
        (("ZRANGE", "z", "1e500", "inf", "BYSCORE"), [b"pinf"]),
        (("ZRANGE", "z", "nan", "1", "BYSCORE"), NOT_RANGE),
        (("ZRANGE", "z", "1", "2", "BYSCORE", "LIMIT", "x", "1"), NOT_INT),
        (("ZRANGE", "z", "1", "2", "BYSCORE", "LIMIT", "0"), SYNTAX),
        (("ZRANGEBYSCORE", "z", "1", "3", "WITHSCORES", "LIMIT", "1", "1"), [b"b", b"2"]),
        (("ZRANGEBYSCORE", "z", "1", "3", "REV"), SYNTAX),
        (("ZREVRANGEBYSCORE", "z", "3", "1"), [b"c", b"bb", b"b", b"a"]),
        (("ZREVRANGEBYSCORE", "z", "1", "3"), []),
        (
            ("ZREVRANGEBYSCORE", "z", "(3", "-inf", "WITHSCORES"),
            [b"bb", b"2", b"b", b"2", b"a", b"1", b"ninf", b"-inf"],
        ),
        (("ZCOUNT", "z", "2", "3"), 3),
        (("ZCOUNT", "z", "(2", "+inf"), 2),
        (("ZCOUNT", "z", "-inf", "(-inf"), 0),
        (("ZCOUNT", "z", "x", "1"), NOT_RANGE),
        (("ZCOUNT", "nosuch", "0", "1"), 0),
    ],
    "zrange_by_lex": [
        (
            ("ZADD", "z", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e", "0", "foo", "0", "bar"),
            7,
        ),
        (("ZRANGE", "z", "-", "+", "BYLEX"), [b"a", b"b", b"bar", b"c", b"d", b"e", b"foo"]),
        (("ZRANGE", "z", "[b", "(d", "BYLEX"), [b"b", b"bar", b"c"]),
        (("ZRANGE", "z", "+", "-", "BYLEX", "REV", "LIMIT", "1", "2"), [b"e", b"d"]),
        (("ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES"), SCORES_BYLEX),
        (("ZRANGEBYLEX", "z", "[b", "[e"), [b"b", b"bar", b"c", b"d", b"e"]),
        (("ZRANGEBYLEX", "z", "(b", "(bar"), []),
        (("ZRANGEBYLEX", "z", "[e", "[a"), []),
        (("ZRANGEBYLEX", "z", "+", "-"), []),
        (("ZRANGEBYLEX", "z", "-", "-"), []),
        (("ZRANGEBYLEX", "z", "b", "c"), NOT_LEX),
        (("ZRANGEBYLEX", "z", "", "+"), NOT_LEX),
        (("ZRANGEBYLEX", "z", "[", "(c"), [b"a", b"b", b"bar"]),
        (("ZRANGEBYLEX", "z", "-", "+", "LIMIT", "2", "3"), [b"bar", b"c", b"d"]),
        (("ZREVRANGEBYLEX", "z", "(f", "[b"), [b"e", b"d", b"c", b"bar", b"b"]),
        (("ZREVRANGEBYLEX", "z", "[f", "[b", "LIMIT", "1", "100"), [b"d", b"c", b"bar", b"b"]),
        (("ZLEXCOUNT", "z", "[b", "[d"), 4),
        (("ZLEXCOUNT", "z", "-", "+"), 7),
        (("ZLEXCOUNT", "z", "(a", "(a"), 0),
        (("ZLEXCOUNT", "z", "x", "y"), NOT_LEX),
        (("ZLEXCOUNT", "nosuch", "-", "+"), 0),
        (("ZADD", "mixed", "1", "a", "0", "b", "2", "c", "1", "d"), 4),
        (("ZRANGEBYLEX", "mixed", "-", "+"), [b"b", b"a", b"d", b"c"]),
        (("ZRANGEBYLEX", "mixed", "[b", "[d"), [b"b", b"a", b"d", b"c"]),
        (("ZREVRANGEBYLEX", "mixed", "[d", "-"), [b"c", b"d", b"a", b"b"]),
        (("ZLEXCOUNT", "mixed", "(a", "+"), 4),
    ],
    "zrangestore": [
        (("ZADD", "src", "1", "a", "2", "b", "3", "c"), 3),
        (("SET", "dst", "string"), b"OK"),
        (("ZRANGESTORE", "dst", "src", "0", "1"), 2),
        (("TYPE", "dst"), b"zset"),
        (("ZRANGE", "dst", "0", "-1", "WITHSCORES"), [b"a", b"1", b"b", b"2"]),
        (("ZRANGESTORE", "dst", "src", "(1", "+inf", "BYSCORE", "LIMIT", "0", "1"), 1),
        (("ZRANGE", "dst", "0", "-1", "WITHSCORES"), [b"b", b"2"]),
        (("ZRANGESTORE", "dst", "src", "[c", "-", "BYLEX", "REV"), 3),
        (("ZRANGE", "dst", "0", "-1"), [b"a", b"b", b"c"]),
        (("ZRANGESTORE", "dst", "src", "0", "-1", "WITHSCORES"), SYNTAX),
        (("ZRANGESTORE", "dst", "src", "5", "10"), 0),
        (("EXISTS", "dst"), 0),
        (("ZRANGESTORE", "dst", "nosuch", "0", "-1"), 0),
        (("ZRANGESTORE", "src", "src", "0", "0"), 1),
        (("ZRANGE", "src", "0", "-1"), [b"a"]),
    ],
    "zrem_and_zremrange": [
        (("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "6", "f"), 6),
        (("ZREM", "z", "a", "nosuch", "a"), 1),
        (("ZREM", "nosuch", "a"), 0),
        (("ZREMRANGEBYRANK", "z", "0", "0"), 1),
        (("ZREMRANGEBYRANK", "z", "-1", "-1"), 1),
        (("ZREMRANGEBYRANK", "z", "10", "20"), 0),
        (("ZREMRANGEBYRANK", "z", "x", "1"), NOT_INT),
        (("ZREMRANGEBYSCORE", "z", "(3", "4"), 1),
        (("ZREMRANGEBYSCORE", "z", "x", "4"), NOT_RANGE),
        (("ZREMRANGEBYLEX", "z", "[a", "[b"), 0),
        (("ZREMRANGEBYLEX", "z", "a", "b"), NOT_LEX),
        (("ZRANGE", "z", "0", "-1", "WITHSCORES"), [b"c", b"3", b"e", b"5"]),
        (("ZREMRANGEBYSCORE", "z", "-inf", "+inf"), 2),
        (("EXISTS", "z"), 0),
        (("ZREMRANGEBYRANK", "nosuch", "0", "-1"), 0),
    ],
    "zpop": [
        (("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"), 4),
        (("ZPOPMIN", "z"), [b"a", b"1"]),
        (("ZPOPMAX", "z"), [b"d", b"4"]),
        (("ZPOPMIN", "z", "0"), []),
        (("ZPOPMIN", "z", "-1"), Err("ERR value is out of range, must be positive")),
        (("ZPOPMIN", "z", "x"), Err("ERR value is out of range, must be positive")),
        (("ZPOPMIN", "z", "1", "2"), SYNTAX),
        (("ZPOPMAX", "z", "5"), [b"c", b"3", b"b", b"2"]),
        (("EXISTS", "z"), 0),
        (("ZPOPMIN", "nosuch"), []),
        (("ZPOPMIN", "nosuch", "3"), []),
    ],
    "zmpop": [
        (("ZADD", "z1", "1", "a", "2", "b", "3", "c"), 3),
        (("ZADD", "z2", "5", "x"), 1),
        (("ZMPOP", "2", "nosuch", "z1", "MIN"), [b"z1", [[b"a", b"1"]]]),
        (
            ("ZMPOP", "2", "nosuch", "z1", "max", "COUNT", "5"),
            [b"z1", [[b"c", b"3"], [b"b", b"2"]]],
        ),
        (("EXISTS", "z1"), 0),
        (("ZMPOP", "2", "z1", "z2", "MIN", "COUNT", "1"), [b"z2", [[b"x", b"5"]]]),
        (("ZMPOP", "1", "nosuch", "MIN"), None),
        (("ZMPOP", "0", "z2", "MIN"), Err("ERR numkeys should be greater than 0")),
        (("ZMPOP", "x", "z2", "MIN"), Err("ERR numkeys should be greater than 0")),
        (("ZMPOP", "1", "z2", "MIDDLE"), SYNTAX),
        (("ZMPOP", "3", "z2", "MIN"), SYNTAX),
        (("ZMPOP", "1", "z2", "MIN", "COUNT", "0"), Err("ERR count should be greater than 0")),
        (("ZMPOP", "1", "z2", "MIN", "COUNT", "1", "COUNT", "1"), SYNTAX),
        (("ZMPOP", "1", "z2", "MIN", "BOGUS"), SYNTAX),
    ],
    "algebra": [
        (("ZADD", "a", "1", "x", "2", "y", "3", "z"), 3),
        (("ZADD", "b", "10", "y", "20", "z", "5", "w"), 3),
        (("ZADD", "inf", "1", "x", "inf", "y", "-inf", "z"), 3),
        (
            ("ZUNION", "2", "a", "b", "WITHSCORES"),
            [b"x", b"1", b"w", b"5", b"y", b"12", b"z", b"23"],
        ),
        (
            ("ZUNION", "2", "a", "b", "WEIGHTS", "2", "0.5", "WITHSCORES"),
            [b"x", b"2", b"w", b"2.5", b"y", b"9", b"z", b"16"],
        ),
        (
            ("ZUNION", "2", "a", "b", "AGGREGATE", "MIN", "WITHSCORES"),
            [b"x", b"1", b"y", b"2", b"z", b"3", b"w", b"5"],
        ),
        (("ZUNION", "2", "a", "b", "AGGREGATE", "MAX"), [b"x", b"w", b"y", b"z"]),
        (
            ("ZUNION", "2", "a", "inf", "WEIGHTS", "1", "-1", "WITHSCORES"),
            [b"y", b"-inf", b"x", b"0", b"z", b"inf"],
        ),
        (("ZUNION", "2", "inf", "inf", "WITHSCORES"), [b"z", b"-inf", b"x", b"2", b"y", b"inf"]),
        (
            ("ZUNION", "2", "a", "inf", "WEIGHTS", "0", "1", "WITHSCORES"),
            [b"z", b"-inf", b"x", b"1", b"y", b"inf"],
        ),
        (("ZUNION", "2", "a", "nosuch", "WITHSCORES"), [b"x", b"1", b"y", b"2", b"z", b"3"]),
        (("ZINTER", "2", "a", "b", "WITHSCORES"), [b"y", b"12", b"z", b"23"]),
        (
            ("ZINTER", "2", "a", "b", "AGGREGATE", "MAX", "WEIGHTS", "1", "2", "WITHSCORES"),
            [b"y", b"20", b"z", b"40"],
        ),
        (("ZINTER", "3", "a", "b", "inf", "WITHSCORES"), [b"z", b"-inf", b"y", b"inf"]),
        (
            ("ZINTER", "2", "inf", "a", "WEIGHTS", "0", "1", "WITHSCORES"),
            [b"x", b"1", b"y", b"2", b"z", b"3"],
        ),
        (("ZINTER", "2", "a", "nosuch"), []),
        (("ZDIFF", "2", "a", "b", "WITHSCORES"), [b"x", b"1"]),
        (("ZDIFF", "1", "a"), [b"x", b"y", b"z"]),
        (("ZDIFF", "2", "nosuch", "a"), []),
        (("ZDIFF", "2", "a", "b", "WEIGHTS", "1", "1"), SYNTAX),
        (("ZINTERCARD", "2", "a", "b"), 2),
        (("ZINTERCARD", "2", "a", "b", "LIMIT", "1"), 1),
        (("ZINTERCARD", "2", "a", "b", "LIMIT", "0"), 2),
        (("ZINTERCARD", "2", "a", "b", "LIMIT", "-1"), Err("ERR LIMIT can't be negative")),
        (("ZINTERCARD", "0", "a"), NO_KEYS_ZINTERCARD),
        (("ZUNION", "0", "a"), Err("ERR at least 1 input key is needed for 'zunion' command")),
        (("ZUNION", "-1", "a"), Err("ERR at least 1 input key is needed for 'zunion' command")),
        (("ZUNION", "x", "a"), NOT_INT),
        (("ZUNION", "3", "a", "b"), SYNTAX),
        (("ZUNION", "2", "a", "b", "WEIGHTS", "1"), SYNTAX),
        (("ZUNION", "2", "a", "b", "WEIGHTS", "1", "x"), Err("ERR weight value is not a float")),
        (("ZUNION", "2", "a", "b", "AGGREGATE", "AVG"), SYNTAX),
        (("ZUNION", "2", "a", "b", "WITHSCORES", "bogus"), SYNTAX),
        (("ZUNIONSTORE", "d", "2", "a", "b"), 4),
        (
            ("ZRANGE", "d", "0", "-1", "WITHSCORES"),
            [b"x", b"1", b"w", b"5", b"y", b"12", b"z", b"23"],
        ),
        (("ZINTERSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "1", "AGGREGATE", "MIN"), 2),
        (("ZRANGE", "d", "0", "-1", "WITHSCORES"), [b"y", b"2", b"z", b"3"]),
        (("ZUNIONSTORE", "d", "2", "a", "b", "WITHSCORES"), SYNTAX),
        (("ZDIFFSTORE", "d", "2", "a", "a"), 0),
        (("EXISTS", "d"), 0),
        (("ZINTERSTORE", "a", "2", "a", "b"), 2),
        (("ZRANGE", "a", "0", "-1", "WITHSCORES"), [b"y", b"12", b"z", b"23"]),
    ],
    "wrongtype_everywhere": [
        (("SET", "s", "v"), b"OK"),
        (("ZADD", "s", "1", "a"), WRONGTYPE),
        (("ZINCRBY", "s", "1", "a"), WRONGTYPE),
        (("ZREM", "s", "a"), WRONGTYPE),
        (("ZCARD", "s"), WRONGTYPE),
        (("ZSCORE", "s", "a"), WRONGTYPE),
        (("ZMSCORE", "s", "a"), WRONGTYPE),
        (("ZRANK", "s", "a"), WRONGTYPE),
        (("ZREVRANK", "s", "a"), WRONGTYPE),
        (("ZCOUNT", "s", "0", "1"), WRONGTYPE),
        (("ZLEXCOUNT", "s", "-", "+"), WRONGTYPE),
        (("ZRANGE", "s", "0", "1"), WRONGTYPE),
        (("ZRANGEBYSCORE", "s", "0", "1"), WRONGTYPE),
        (("ZREVRANGEBYLEX", "s", "+", "-"), WRONGTYPE),
        (("ZRANGESTORE", "d", "s", "0", "1"), WRONGTYPE),
        (("ZREMRANGEBYRANK", "s", "0", "1"), WRONGTYPE),
        (("ZREMRANGEBYSCORE", "s", "0", "1"), WRONGTYPE),
        (("ZREMRANGEBYLEX", "s", "-", "+"), WRONGTYPE),
        (("ZPOPMIN", "s"), WRONGTYPE),
        (("ZPOPMAX", "s", "2"), WRONGTYPE),
        (("ZMPOP", "1", "s", "MIN"), WRONGTYPE),
        (("ZRANDMEMBER", "s"), WRONGTYPE),
        (("ZRANDMEMBER", "s", "2"), WRONGTYPE),
        (("ZSCAN", "s", "0"), WRONGTYPE),
        (("ZSCAN", "s", "0", "BOGUS", "x"), WRONGTYPE),
        (("ZUNION", "1", "s"), WRONGTYPE),
        (("ZINTERSTORE", "d", "2", "s", "s"), WRONGTYPE),
        (("ZDIFF", "1", "s"), WRONGTYPE),
        (("ZINTERCARD", "1", "s"), WRONGTYPE),
        (("ZUNION", "1", "s", "BOGUS"), WRONGTYPE),
        (("ZADD", "z", "1", "a"), 1),
        (("GET", "z"), WRONGTYPE),
        (("ZCOUNT", "s", "x", "y"), NOT_RANGE),
        (("ZRANGE", "s", "x", "y"), NOT_INT),
        (("ZSCORE", "z", "a"), b"1"),
    ],
    "zrandmember_edges": [
        (("ZRANDMEMBER", "nosuch"), None),
        (("ZRANDMEMBER", "nosuch", "5"), []),
        (("ZRANDMEMBER", "nosuch", "-5", "WITHSCORES"), []),
        (("ZADD", "z", "1.5", "a"), 1),
        (("ZRANDMEMBER", "z"), b"a"),
        (("ZRANDMEMBER", "z", "0"), []),
        (("ZRANDMEMBER", "z", "5"), [b"a"]),
        (("ZRANDMEMBER", "z", "-3"), [b"a", b"a", b"a"]),
        (("ZRANDMEMBER", "z", "2", "WITHSCORES"), [b"a", b"1.5"]),
        (("ZRANDMEMBER", "z", "-2", "withscores"), [b"a", b"1.5", b"a", b"1.5"]),
        (("ZRANDMEMBER", "z", "1", "WITHSCORE"), SYNTAX),
        (("ZRANDMEMBER", "z", "1", "WITHSCORES", "x"), SYNTAX),
        (("ZRANDMEMBER", "z", "x"), NOT_INT),
        (("ZRANDMEMBER", "z", "-9223372036854775808"), OUT_OF_RANGE),
        (
            ("ZRANDMEMBER", "z", "-9223372036854770000", "WITHSCORES"),
            Err("ERR value is out of range"),
        ),
    ],
    "zscan_edges": [
        (("ZSCAN", "nosuch", "0"), [b"0", []]),
        (("ZSCAN", "nosuch", "0", "COUNT", "0"), [b"0", []]),
        (("ZSCAN", "z", "x"), Err("ERR invalid cursor")),
        (("ZADD", "z", "1.5", "m", "2", "n"), 2),
        (("ZSCAN", "z", "0", "MATCH", "m*"), [b"0", [b"m", b"1.5"]]),
        (("ZSCAN", "z", "0", "MATCH", "x*"), [b"0", []]),
        (("ZSCAN", "z", "0", "COUNT", "0"), SYNTAX),
        (("ZSCAN", "z", "0", "COUNT", "x"), NOT_INT),
        # Past the last position: the end (Redis answers a small set whole, whatever
        # the cursor; docs/commands.md).
        (("ZSCAN", "z", "18446744073709551615"), [b"0", []]),
    ],
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_zset_command_cases(client: Client, case: str) -> None:
    for command, expected in CASES[case]:
        assert await client.call(*command) == expected, command


async def test_scores_are_doubles_and_pairs_nest_in_resp3(client: Client) -> None:
    # Shapes checked against redis-server 7.0.15 with HELLO 3.
    assert await client.call("HELLO", "3") is not None
    assert await client.call("ZADD", "z", "1.5", "a", "2", "b", "inf", "c") == 3
    assert await client.call("ZSCORE", "z", "a") == 1.5
    assert await client.call("ZMSCORE", "z", "c", "nosuch") == [math.inf, None]
    assert await client.call("ZADD", "z", "INCR", "1", "a") == 2.5
    assert await client.call("ZINCRBY", "z", "-0.5", "a") == 2.0
    assert await client.call("ZRANGE", "z", "0", "1", "WITHSCORES") == [[b"a", 2.0], [b"b", 2.0]]
    assert await client.call("ZUNION", "1", "z", "WITHSCORES") == [
        [b"a", 2.0], [b"b", 2.0], [b"c", math.inf],
    ]  # fmt: skip
    assert await client.call("ZRANDMEMBER", "z", "-1", "WITHSCORES") in (
        [[b"a", 2.0]], [[b"b", 2.0]], [[b"c", math.inf]],
    )  # fmt: skip
    assert await client.call("ZSCAN", "z", "0", "MATCH", "c") == [b"0", [b"c", b"inf"]]
    assert await client.call("ZPOPMAX", "z") == [b"c", math.inf]
    assert await client.call("ZPOPMIN", "z", "1") == [[b"a", 2.0]]
    assert await client.call("ZMPOP", "1", "z", "MIN") == [b"z", [[b"b", 2.0]]]
    assert await client.call("ZMPOP", "1", "z", "MIN") is None
    assert await client.call("ZPOPMIN", "z") == []


async def test_a_transaction_sees_its_own_zset_writes(client: Client) -> None:
    assert await client.call("WATCH", "z") == b"OK"
    assert await client.call("MULTI") == b"OK"
    for command in [
        ("ZADD", "z", "1", "a", "2", "b"),
        ("ZINCRBY", "z", "5", "a"),
        ("ZRANGE", "z", "0", "-1", "WITHSCORES"),
        ("ZRANK", "z", "a"),
        ("ZUNIONSTORE", "u", "1", "z"),
        ("ZPOPMIN", "u"),
    ]:
        assert await client.call(*command) == b"QUEUED"
    assert await client.call("EXEC") == [
        2, b"6", [b"b", b"2", b"a", b"6"], 1, 2, [b"b", b"2"],
    ]  # fmt: skip
    assert await client.call("ZCARD", "u") == 1


@pytest.mark.parametrize("size", [10, EXACT_RANDOM_ELEMENTS + 200])
async def test_zrandmember_counts_and_members(leader_client: Client, size: int) -> None:
    members = [b"m%d" % i for i in range(size)]
    for start in range(0, size, 500):
        chunk = members[start : start + 500]
        await leader_client.call("ZADD", "z", *(p for m in chunk for p in (m[1:], m)))
    whole = await leader_client.call("ZRANDMEMBER", "z", size + 5)
    assert isinstance(whole, list) and sorted(whole) == sorted(members)
    some = await leader_client.call("ZRANDMEMBER", "z", size // 2)
    assert isinstance(some, list) and len(set(some)) == size // 2 <= len(some)
    assert set(some) <= set(members)
    repeats = await leader_client.call("ZRANDMEMBER", "z", -(2 * size), "WITHSCORES")
    assert isinstance(repeats, list) and len(repeats) == 4 * size
    pairs = zip(repeats[::2], repeats[1::2], strict=True)
    assert all(b"m" + score == member for member, score in pairs)
