"""Hash commands through the command layer and real state machines, on the leader and on a
follower (see conftest.py); edge cases from Redis 7.0's tests/unit/type/hash.tcl."""

from __future__ import annotations

import pytest
from replicas import Client, Replicas

from seshat_trio.kv.sampling import EXACT_RANDOM_ELEMENTS as EXACT_RANDOM_FIELDS
from seshat_trio.protocol import ErrorReply as Err

NOT_INT = Err("ERR value is not an integer or out of range")
NOT_FLOAT = Err("ERR value is not a valid float")
SYNTAX = Err("ERR syntax error")
WRONGTYPE = Err("WRONGTYPE Operation against a key holding the wrong kind of value")

CASES: dict[str, list[tuple[tuple[str | int, ...], object]]] = {
    "hset_hget_hlen": [
        (("HSET", "h", "a", "1", "b", "2"), 2),
        (("HSET", "h", "a", "10", "c", "3"), 1),  # update and insert mode
        (("HGET", "h", "a"), b"10"),
        (("HGET", "h", "nosuch"), None),
        (("HGET", "nosuch", "a"), None),
        (("HLEN", "h"), 3),
        (("HLEN", "nosuch"), 0),
        (("HSET", "h", "a"), Err("ERR wrong number of arguments for 'hset' command")),
        (("HSET", "h", "a", "1", "b"), Err("ERR wrong number of arguments for 'hset' command")),
        (("HMSET", "h", "a"), Err("ERR wrong number of arguments for 'hmset' command")),
        (("HMSET", "h", "x", "9", "y", "8"), b"OK"),
        (("HMGET", "h", "a", "nosuch", "x"), [b"10", None, b"9"]),
        (("HMGET", "nosuch", "a", "b"), [None, None]),
        (("TYPE", "h"), b"hash"),
        (("HSET", "h", "", ""), 1),  # empty field and value
        (("HGET", "h", ""), b""),
        (("HSTRLEN", "h", ""), 0),
    ],
    "hsetnx": [
        (("HSETNX", "h", "f", "1"), 1),
        (("HSETNX", "h", "f", "2"), 0),
        (("HGET", "h", "f"), b"1"),
        (("HSETNX", "h", "g", "2"), 1),
        (("HLEN", "h"), 2),
    ],
    "hdel_deletes_an_emptied_hash": [
        (("HSET", "h", "a", "1", "b", "2", "c", "3"), 3),
        (("HDEL", "h", "a", "nosuch"), 1),
        (("HDEL", "h", "a"), 0),
        (("HDEL", "nosuch", "a"), 0),
        (("HEXISTS", "h", "b"), 1),
        (("HEXISTS", "h", "a"), 0),
        (("HEXISTS", "nosuch", "a"), 0),
        # The hash becomes empty before every field given is deleted.
        (("HDEL", "h", "b", "c", "b", "zzz"), 2),
        (("EXISTS", "h"), 0),
        (("TYPE", "h"), b"none"),
        (("HSET", "h", "new", "x"), 1),  # a new hash at the same key starts empty
        (("HGETALL", "h"), [b"new", b"x"]),
    ],
    "hkeys_hvals_hgetall_empty": [
        (("HKEYS", "nosuch"), []),
        (("HVALS", "nosuch"), []),
        (("HGETALL", "nosuch"), []),
        (("HSTRLEN", "nosuch", "f"), 0),
        (("HSET", "h", "f", "hello"), 1),
        (("HSTRLEN", "h", "f"), 5),
        (("HSTRLEN", "h", "nosuch"), 0),
        (("HKEYS", "h"), [b"f"]),
        (("HVALS", "h"), [b"hello"]),
    ],
    "hincrby": [
        (("HINCRBY", "nosuch", "f", "2"), 2),
        (("HINCRBY", "h", "tmp", "2"), 2),
        (("HINCRBY", "h", "tmp", "-12"), -10),
        (("HSET", "h", "s", "17179869184"), 1),
        (("HINCRBY", "h", "s", "1"), 17179869185),
        (("HINCRBY", "h", "s", "17179869184"), 34359738369),
        (("HSET", "h", "sp", " 11", "sq", "11 "), 2),
        (("HINCRBY", "h", "sp", "1"), Err("ERR hash value is not an integer")),
        (("HINCRBY", "h", "sq", "1"), Err("ERR hash value is not an integer")),
        (("HSET", "h", "big", "9223372036854775807"), 1),
        (("HINCRBY", "h", "big", "1"), Err("ERR increment or decrement would overflow")),
        (("HINCRBY", "h", "big", "x"), NOT_INT),
        (("HINCRBY", "h", "big", "-1"), 9223372036854775806),
    ],
    "hincrbyfloat": [
        (("HINCRBYFLOAT", "nosuch", "f", "2.5"), b"2.5"),
        (("HINCRBYFLOAT", "h", "tmp", "2.5"), b"2.5"),
        (("HINCRBYFLOAT", "h", "tmp", "3.5"), b"6"),
        (("HSET", "h", "s", "17179869184"), 1),
        (("HINCRBYFLOAT", "h", "s", "1.5"), b"17179869185.5"),
        (("HINCRBYFLOAT", "h", "s", "17179869184"), b"34359738369.5"),
        (("HSET", "h", "sp", " 11", "nul", "1\x002"), 2),
        (("HINCRBYFLOAT", "h", "sp", "1"), Err("ERR hash value is not a float")),
        (("HINCRBYFLOAT", "h", "nul", "1"), Err("ERR hash value is not a float")),
        (("HINCRBYFLOAT", "h", "f", "NaN"), NOT_FLOAT),
        (("HINCRBYFLOAT", "h", "f", "Inf"), Err("ERR value is NaN or Infinity")),
        (("HINCRBYFLOAT", "h", "f", "-inf"), Err("ERR value is NaN or Infinity")),
        (("HINCRBYFLOAT", "h", "f", "x"), NOT_FLOAT),
        (("HSET", "h", "huge", "1e4932"), 1),
        (("HINCRBYFLOAT", "h", "huge", "1e4932"),
         Err("ERR increment would produce NaN or Infinity")),
        (("HINCRBYFLOAT", "h", "issue2846", "0.1"), b"0.1"),
        (("HINCRBYFLOAT", "h", "issue2846", "0.2"), b"0.3"),
    ],
    "wrongtype_everywhere": [
        (("SET", "s", "x"), b"OK"),
        *(
            (command, WRONGTYPE)
            for command in [
                ("HSET", "s", "f", "v"), ("HMSET", "s", "f", "v"), ("HSETNX", "s", "f", "v"),
                ("HGET", "s", "f"), ("HMGET", "s", "f"), ("HDEL", "s", "f"),
                ("HEXISTS", "s", "f"), ("HLEN", "s"), ("HSTRLEN", "s", "f"), ("HKEYS", "s"),
                ("HVALS", "s"), ("HGETALL", "s"), ("HINCRBY", "s", "f", "1"),
                ("HINCRBYFLOAT", "s", "f", "1"), ("HRANDFIELD", "s"),
                ("HRANDFIELD", "s", "2"), ("HSCAN", "s", "0"),
                # Options are checked after the key's type, as in Redis.
                ("HSCAN", "s", "0", "BOGUS", "x"),
            ]
        ),
        (("HSET", "h", "f", "v"), 1),
        *(
            (command, WRONGTYPE)
            for command in [
                ("GET", "h"), ("GETSET", "h", "x"), ("GETDEL", "h"), ("GETEX", "h"),
                ("APPEND", "h", "x"), ("STRLEN", "h"), ("GETRANGE", "h", "0", "1"),
                ("SETRANGE", "h", "0", "x"), ("INCR", "h"), ("DECRBY", "h", "1"),
                ("INCRBYFLOAT", "h", "1"), ("SET", "h", "x", "GET"),
            ]
        ),
        (("MGET", "h", "s"), [None, b"x"]),  # MGET reads another type as nil
        (("HGET", "h", "f"), b"v"),  # nothing was changed
        (("SET", "h", "now a string"), b"OK"),  # SET replaces any type
        (("GET", "h"), b"now a string"),
    ],
    "hrandfield_edges": [
        (("HRANDFIELD", "nosuch"), None),
        (("HRANDFIELD", "nosuch", "100"), []),
        (("HRANDFIELD", "nosuch", "-3", "WITHVALUES"), []),
        (("HSET", "h", "a", "1"), 1),
        (("HRANDFIELD", "h"), b"a"),
        (("HRANDFIELD", "h", "0"), []),
        (("HRANDFIELD", "h", "5"), [b"a"]),
        (("HRANDFIELD", "h", "-3"), [b"a", b"a", b"a"]),
        (("HRANDFIELD", "h", "2", "WITHVALUES"), [b"a", b"1"]),
        (("HRANDFIELD", "h", "-2", "withvalues"), [b"a", b"1", b"a", b"1"]),
        (("HRANDFIELD", "h", "1", "WITHVALUE"), SYNTAX),
        (("HRANDFIELD", "h", "1", "WITHVALUES", "x"), SYNTAX),
        (("HRANDFIELD", "h", "x"), NOT_INT),
        (("HRANDFIELD", "h", "-9223372036854775808"),
         Err("ERR value is out of range, value must between -9223372036854775807 and "
             "9223372036854775807")),
        (("HRANDFIELD", "h", "-9223372036854770000", "WITHVALUES"),
         Err("ERR value is out of range")),
    ],
    "hscan_edges": [
        (("HSCAN", "nosuch", "0"), [b"0", []]),
        (("HSCAN", "nosuch", "0", "COUNT", "0"), [b"0", []]),  # no key: options unchecked
        (("HSCAN", "h", "x"), Err("ERR invalid cursor")),
        (("HSET", "h", "f", "v"), 1),
        (("HSCAN", "h", "0"), [b"0", [b"f", b"v"]]),
        (("HSCAN", "h", "0", "MATCH", "g*"), [b"0", []]),
        (("HSCAN", "h", "0", "COUNT", "0"), SYNTAX),
        (("HSCAN", "h", "0", "COUNT", "x"), NOT_INT),
        (("HSCAN", "h", "0", "TYPE", "hash"), SYNTAX),
        (("HSCAN", "h", "18446744073709551615"), [b"0", []]),
    ],
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
async def test_hash_command_cases(client: Client, case: str) -> None:
    for command, expected in CASES[case]:
        reply = await client.call(*command)
        if command[0] in ("HGETALL", "HKEYS", "HVALS") and isinstance(expected, list):
            assert len(reply) == len(expected), command  # type: ignore[arg-type]
        assert reply == expected, command


async def test_fields_come_in_one_order_everywhere(client: Client) -> None:
    fields = {f"field:{i}".encode(): f"{i}".encode() for i in range(100)}
    await client.call("HSET", "h", *(part for pair in fields.items() for part in pair))
    keys = await client.call("HKEYS", "h")
    values = await client.call("HVALS", "h")
    flat = await client.call("HGETALL", "h")
    assert isinstance(keys, list) and isinstance(values, list) and isinstance(flat, list)
    assert sorted(keys) == sorted(fields)
    assert flat[0::2] == keys and flat[1::2] == values
    assert dict(zip(keys, values, strict=True)) == fields


async def test_hgetall_is_a_map_in_resp3(client: Client) -> None:
    await client.call("HSET", "h", "a", "1", "b", "2")
    assert await client.call("HELLO", "3") is not None
    assert await client.call("HGETALL", "h") == {b"a": b"1", b"b": b"2"}
    assert await client.call("HGETALL", "nosuch") == {}
    pairs = await client.call("HRANDFIELD", "h", "-4", "WITHVALUES")
    assert isinstance(pairs, list) and len(pairs) == 4
    assert all(pair in ([b"a", b"1"], [b"b", b"2"]) for pair in pairs)
    assert await client.call("HRANDFIELD", "h", "2") in ([b"a", b"b"], [b"b", b"a"])


@pytest.mark.parametrize("size", [10, EXACT_RANDOM_FIELDS + 200])
async def test_hrandfield_counts_and_members(leader_client: Client, size: int) -> None:
    client = leader_client
    fields = {b"f%d" % i: b"v%d" % i for i in range(size)}
    for start in range(0, size, 500):
        chunk = list(fields.items())[start : start + 500]
        await client.call("HSET", "h", *(part for pair in chunk for part in pair))
    for count in (size, size + 10):  # the whole hash
        reply = await client.call("HRANDFIELD", "h", count)
        assert isinstance(reply, list) and sorted(reply) == sorted(fields)
    for count in (size - 2, 2):  # fewer: distinct fields of the hash
        reply = await client.call("HRANDFIELD", "h", count, "WITHVALUES")
        assert isinstance(reply, list) and len(reply) == 2 * count
        assert len(set(reply[0::2])) == count
        assert all(fields[f] == v for f, v in zip(reply[0::2], reply[1::2], strict=True))
    repeated = await client.call("HRANDFIELD", "h", -1001)
    assert isinstance(repeated, list) and len(repeated) == 1001
    assert set(repeated) <= set(fields)
    if size <= EXACT_RANDOM_FIELDS:  # uniform: every field shows up (as hash.tcl checks)
        assert set(repeated) == set(fields)
        counts = [repeated.count(f) for f in fields]
        expected = 1001 / size
        assert sum((c - expected) ** 2 / expected for c in counts) < 40  # chi-square, df 9


async def test_hscan_visits_every_field_once_with_64_bit_cursors(client: Client) -> None:
    fields = [b"f%d" % i for i in range(300)]
    await client.call("HSET", "h", *(part for f in fields for part in (f, b"v" + f)))
    seen: dict[bytes, bytes] = {}
    cursor: bytes = b"0"
    calls = 0
    while True:
        reply = await client.call("HSCAN", "h", cursor, "COUNT", "17")
        assert isinstance(reply, list)
        cursor, flat = reply
        assert 0 <= int(cursor) < 2**64
        for field, value in zip(flat[0::2], flat[1::2], strict=True):
            assert field not in seen
            seen[field] = value
        calls += 1
        if cursor == b"0":
            break
    assert seen == {f: b"v" + f for f in fields}
    assert 300 // 17 <= calls <= 300 // 17 + 2
    matched = await client.call("HSCAN", "h", "0", "MATCH", "f1?", "COUNT", "1000")
    assert isinstance(matched, list) and sorted(matched[1][0::2]) == [
        b"f%d" % i for i in range(10, 20)
    ]


async def test_the_key_commands_know_hashes(client: Client) -> None:
    await client.call("HSET", "h", "a", "1", "b", "2")
    assert await client.pipeline(
        [
            ("TYPE", "h"),
            ("EXISTS", "h"),
            ("OBJECT", "ENCODING", "h"),
            ("DBSIZE",),
            ("SCAN", "0", "TYPE", "hash"),
            ("SCAN", "0", "TYPE", "string"),
            ("COPY", "h", "c"),
            ("HSET", "c", "a", "changed"),
            ("HMGET", "h", "a", "b"),
            ("RENAME", "c", "r"),
            ("HGET", "r", "a"),
            ("EXISTS", "c"),
            ("EXPIRE", "r", "100"),
            ("RENAMENX", "r", "h"),
            ("TTL", "r"),
            ("DEL", "h", "r"),
            ("DBSIZE",),
        ]
    ) == [
        b"hash", 1, b"hashtable", 1, [b"0", [b"h"]], [b"0", []], 1, 0,
        [b"1", b"2"], b"OK", b"changed", 0, 1, 0, 100, 2, 0,
    ]  # fmt: skip


async def test_a_rename_over_a_hash_replaces_it_whole(client: Client) -> None:
    await client.call("HSET", "src", "a", "1")
    await client.call("HSET", "dst", "a", "x", "b", "y")
    assert await client.call("RENAME", "src", "dst") == b"OK"
    assert await client.call("HGETALL", "dst") == [b"a", b"1"]
    await client.call("SET", "s", "string")
    assert await client.call("RENAME", "s", "dst") == b"OK"
    assert await client.call("GET", "dst") == b"string"
    assert await client.call("HSET", "dst2", "z", "1") == 1
    assert await client.call("COPY", "dst2", "dst", "REPLACE") == 1
    assert await client.call("HGETALL", "dst") == [b"z", b"1"]


async def test_a_hash_with_an_expiry_follows_the_expiry_rules(
    client: Client, replicas: Replicas
) -> None:
    await client.call("HSET", "h", "a", "1")
    assert await client.call("PEXPIRE", "h", "100") == 1
    assert await client.call("HGET", "h", "a") == b"1"
    replicas.advance(200)
    assert await client.pipeline(
        [("HGET", "h", "a"), ("HLEN", "h"), ("EXISTS", "h"), ("HSET", "h", "b", "2")]
    ) == [None, 0, 0, 1]
    assert await client.call("HGETALL", "h") == [b"b", b"2"]  # a new hash: a is gone
    assert await client.call("TTL", "h") == -1


async def test_object_subcommands(client: Client) -> None:
    await client.call("SET", "s", "12345")
    await client.call("HSET", "h", "f", "v")
    assert await client.pipeline(
        [
            ("OBJECT", "ENCODING", "s"),
            ("OBJECT", "ENCODING", "h"),
            ("OBJECT", "ENCODING", "nosuch"),
            ("OBJECT", "REFCOUNT", "h"),
            ("OBJECT", "FREQ", "nosuch"),
            ("OBJECT", "ENCODING"),
            ("OBJECT", "HELP", "x"),
            ("OBJECT", "BOGUS", "s"),
        ]
    ) == [
        b"raw", b"hashtable", None, 1, None,
        Err("ERR wrong number of arguments for 'object|encoding' command"),
        Err("ERR wrong number of arguments for 'object|help' command"),
        Err("ERR unknown subcommand 'BOGUS'. Try OBJECT HELP."),
    ]  # fmt: skip
    freq = await client.call("OBJECT", "FREQ", "s")
    assert isinstance(freq, Err) and "access frequency not tracked" in freq.text
    idle = await client.call("OBJECT", "IDLETIME", "h")
    assert isinstance(idle, Err) and "idle time not tracked" in idle.text
    help_lines = await client.call("OBJECT", "HELP")
    assert isinstance(help_lines, list) and help_lines[-1] == b"    Prints this help."


async def test_hash_commands_run_inside_exec(client: Client, replicas: Replicas) -> None:
    before = replicas.index
    replies = await client.pipeline(
        [
            ("MULTI",),
            ("HSET", "h", "a", "1", "b", "2"),
            ("HINCRBY", "h", "a", "5"),
            ("HGET", "h", "a"),
            ("HDEL", "h", "b"),
            ("HLEN", "h"),
            ("HRANDFIELD", "h", "-2"),  # deterministic inside EXEC: one field left anyway
            ("HSCAN", "h", "0"),
            ("HGET", "s", "x"),
            ("SET", "s", "x"),
            ("HGET", "s", "x"),  # WRONGTYPE inside EXEC does not undo the rest
            ("EXEC",),
        ]
    )
    assert replies[-1] == [
        2, 6, b"6", 1, 1, [b"a", b"a"], [b"0", [b"a", b"6"]], None, b"OK", WRONGTYPE
    ]  # fmt: skip
    assert replicas.index == before + 1


async def test_watch_sees_every_write_to_a_hash(client: Client, replicas: Replicas) -> None:
    other = Client(replicas.leader, replicas.config)
    await client.call("HSET", "h", "f", "same")
    changes = [
        ("HSET", "h", "f", "same"),  # the same value again: still a write, as Redis
        ("HINCRBYFLOAT", "h", "n", "0"),
        ("HDEL", "h", "nosuch", "f"),
        ("EXPIRE", "h", "100"),
    ]
    for change in changes:
        await other.call("HSET", "h", "f", "same")
        assert await client.call("WATCH", "h") == b"OK"
        await other.call(*change)
        replies = await client.pipeline([("MULTI",), ("HGET", "h", "f"), ("EXEC",)])
        assert replies[-1] is None, change
    await client.call("WATCH", "h")
    await other.call("HGET", "h", "f")  # reads change nothing
    await other.call("HDEL", "h", "nosuch")  # nor does a write that changes nothing
    assert (await client.pipeline([("MULTI",), ("HGET", "h", "f"), ("EXEC",)]))[-1] == [b"same"]
