"""Keyspace commands on the leader and on a follower (whose clock is 30 s ahead)."""

from __future__ import annotations

import pytest
from replicas import Client, Replicas

from seshat_trio.protocol import ErrorReply as Err

SYNTAX = Err("ERR syntax error")

CASES: dict[str, list[tuple[tuple[str | int, ...], object]]] = {
    "del_exists_touch_type": [
        (("MSET", "a", "1", "b", "2"), b"OK"),
        (("EXISTS", "a", "a", "b", "c"), 3),
        (("TOUCH", "a", "c"), 1),
        (("TYPE", "a"), b"string"),
        (("TYPE", "c"), b"none"),
        (("DEL", "a", "a", "c"), 1),
        (("UNLINK", "b"), 1),
        (("EXISTS", "a", "b"), 0),
    ],
    "rename": [
        (("RENAME", "nosuch", "x"), Err("ERR no such key")),
        (("RENAMENX", "nosuch", "x"), Err("ERR no such key")),
        (("SET", "a", "1"), b"OK"),
        (("RENAME", "a", "a"), b"OK"),
        (("RENAMENX", "a", "a"), 0),
        (("RENAME", "a", "b"), b"OK"),
        (("MGET", "a", "b"), [None, b"1"]),
        (("SET", "c", "3"), b"OK"),
        (("RENAMENX", "b", "c"), 0),
        (("RENAMENX", "b", "d"), 1),
        (("RENAME", "d", "c"), b"OK"),
        (("MGET", "b", "c", "d"), [None, b"1", None]),
    ],
    "copy": [
        (("SET", "s", "v"), b"OK"),
        (("COPY", "s", "d"), 1),
        (("COPY", "s", "d"), 0),
        (("SET", "s", "w"), b"OK"),
        (("COPY", "s", "d", "REPLACE"), 1),
        (("GET", "d"), b"w"),
        (("COPY", "s", "s"), Err("ERR source and destination objects are the same")),
        (("COPY", "s", "e", "DB", "1"), Err("ERR DB index is out of range")),
        (("COPY", "s", "e", "DB", "0"), 1),
        (("COPY", "s", "e", "BOGUS"), SYNTAX),
        (("COPY", "missing", "x"), 0),
    ],
    "dbsize_flush_randomkey": [
        (("RANDOMKEY",), None),
        (("DBSIZE",), 0),
        (("MSET", "a", "1", "b", "2"), b"OK"),
        (("DBSIZE",), 2),
        (("FLUSHDB", "BOGUS"), SYNTAX),
        (("FLUSHDB", "ASYNC"), b"OK"),
        (("DBSIZE",), 0),
        (("SET", "only", "1"), b"OK"),
        (("RANDOMKEY",), b"only"),
        (("FLUSHALL",), b"OK"),
        (("GET", "only"), None),
        (("SET", "after", "1"), b"OK"),
        (("DBSIZE",), 1),
    ],
    "scan_errors": [
        (("SCAN", "abc"), Err("ERR invalid cursor")),
        (("SCAN", " 1"), Err("ERR invalid cursor")),
        (("SCAN", "1 "), Err("ERR invalid cursor")),
        (("SCAN", "-"), Err("ERR invalid cursor")),
        (("SCAN", "18446744073709551616"), Err("ERR invalid cursor")),
        # Any unsigned 64-bit number is a cursor, as Redis's strtoul reads it.
        (("SCAN", "18446744073709551615"), [b"0", []]),
        (("SCAN", "-1"), [b"0", []]),
        (("SCAN", "+12345"), [b"0", []]),
        (("SCAN", ""), [b"0", []]),
        (("SCAN", "0", "COUNT", "0"), SYNTAX),
        (("SCAN", "0", "COUNT", "x"), Err("ERR value is not an integer or out of range")),
        (("SCAN", "0", "MATCH"), SYNTAX),
        (("SCAN", "0", "BOGUS", "1"), SYNTAX),
        (("SCAN", "0"), [b"0", []]),
    ],
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_keyspace_command_cases(client: Client, case: str) -> None:
    for command, expected in CASES[case]:
        assert await client.call(*command) == expected, command


KEYS_PATTERNS: list[tuple[tuple[str | int, ...], object]] = [
    (("MSET", "hello", "1", "hallo", "1", "hxllo", "1", "hllo", "1", "heeeello", "1"), b"OK"),
    (("MSET", "a*b", "1", "h[e]llo", "1"), b"OK"),
    (("KEYS", "h?llo"), [b"hallo", b"hello", b"hxllo"]),
    (("KEYS", "h*llo"), [b"h[e]llo", b"hallo", b"heeeello", b"hello", b"hllo", b"hxllo"]),
    (("KEYS", "h[ae]llo"), [b"hallo", b"hello"]),
    (("KEYS", "h[^e]llo"), [b"hallo", b"hxllo"]),
    (("KEYS", "h[a-b]llo"), [b"hallo"]),
    (("KEYS", "a\\*b"), [b"a*b"]),
    (("KEYS", "h\\[e\\]llo"), [b"h[e]llo"]),
    (("KEYS", "nomatch*"), []),
]


async def test_keys_patterns(client: Client) -> None:
    # Keys come in hash order (as in Redis): compare them sorted.
    for command, expected in KEYS_PATTERNS:
        reply = await client.call(*command)
        assert (sorted(reply) if isinstance(reply, list) else reply) == expected, command


async def test_scan_visits_every_key_once_with_match_count_and_type(client: Client) -> None:
    keys = [f"key:{i:03d}".encode() for i in range(50)] + [b"\x00lead", b"other"]
    await client.call("MSET", *(part for key in keys for part in (key, b"v")))
    seen: list[bytes] = []
    cursors: list[bytes] = []
    cursor: bytes = b"0"
    rounds = 0
    while True:
        reply = await client.call("SCAN", cursor, "COUNT", "7")
        assert isinstance(reply, list)
        cursor, batch = reply
        cursors.append(cursor)
        assert len(batch) <= 7
        seen += batch
        rounds += 1
        if cursor == b"0":
            break
    assert sorted(seen) == sorted(keys) and rounds == 8
    assert all(0 < int(c) < 2**64 for c in cursors[:-1])
    reply = await client.call("SCAN", "0", "MATCH", "key:04*", "COUNT", "1000", "TYPE", "string")
    assert isinstance(reply, list) and reply[0] == b"0"
    assert sorted(reply[1]) == [f"key:{i:03d}".encode() for i in range(40, 50)]
    assert await client.call("SCAN", "0", "TYPE", "hash", "COUNT", "1000") == [b"0", []]


async def test_rename_moves_the_ttl(client: Client) -> None:
    assert await client.call("SET", "a", "1", "EX", "100") == b"OK"
    assert await client.call("RENAME", "a", "b") == b"OK"
    assert await client.call("TTL", "b") == 100
    assert await client.call("COPY", "b", "c") == 1
    assert await client.call("TTL", "c") == 100


async def test_expired_keys_are_invisible_to_every_key_command(
    client: Client, replicas: Replicas
) -> None:
    await client.call("SET", "gone", "1", "PX", "100")
    await client.call("SET", "kept", "1")
    replicas.advance(200)
    assert await client.pipeline(
        [
            ("EXISTS", "gone"),
            ("TYPE", "gone"),
            ("KEYS", "*"),
            ("SCAN", "0"),
            ("RANDOMKEY",),
            ("RENAME", "gone", "x"),
            ("COPY", "gone", "x"),
        ]
    ) == [0, b"none", [b"kept"], [b"0", [b"kept"]], b"kept", Err("ERR no such key"), 0]
    # The leader proposed the deletion of what it found expired: it is gone everywhere.
    assert all(node.machine.get(b"gone") is None for node in replicas.nodes)
    assert await client.call("DBSIZE") == 1
