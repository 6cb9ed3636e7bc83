"""Set commands through the command layer and real state machines, on the leader and on a
follower (see conftest.py); edge cases from Redis 7.0's tests/unit/type/set.tcl, every
expected reply checked against redis-server 7.0.15."""

from __future__ import annotations

import pytest
from replicas import Client, Replicas

from seshat_trio.commands.dispatch import execute
from seshat_trio.kv.sampling import EXACT_RANDOM_ELEMENTS
from seshat_trio.protocol import ErrorReply as Err
from seshat_trio.protocol import encode_replies

NOT_INT = Err("ERR value is not an integer or out of range")
SYNTAX = Err("ERR syntax error")
WRONGTYPE = Err("WRONGTYPE Operation against a key holding the wrong kind of value")
POSITIVE = Err("ERR value is out of range, must be positive")
# Replies whose order is not part of the contract: compared sorted.
UNORDERED = {"SMEMBERS", "SINTER", "SUNION", "SDIFF", "SPOP", "SRANDMEMBER"}


def arity(name: str) -> Err:
    return Err(f"ERR wrong number of arguments for '{name}' command")


CASES: dict[str, list[tuple[tuple[str | int, ...], object]]] = {
    "sadd_srem_scard_sismember": [
        (("SADD", "s", "a", "b", "a"), 2),  # a repeated member counts once
        (("SADD", "s", "b", "c"), 1),
        (("SCARD", "s"), 3),
        (("SCARD", "nosuch"), 0),
        (("SISMEMBER", "s", "a"), 1),
        (("SISMEMBER", "s", "z"), 0),
        (("SISMEMBER", "nosuch", "a"), 0),
        (("SMISMEMBER", "s", "a", "z", "c", "a"), [1, 0, 1, 1]),
        (("SMISMEMBER", "nosuch", "a", "b"), [0, 0]),
        (("SREM", "s", "a", "z", "a"), 1),
        (("SREM", "nosuch", "a"), 0),
        (("SMEMBERS", "s"), [b"b", b"c"]),
        (("SMEMBERS", "nosuch"), []),
        (("SADD", "s", ""), 1),  # the empty member
        (("SISMEMBER", "s", ""), 1),
        (("TYPE", "s"), b"set"),
        (("OBJECT", "ENCODING", "s"), b"hashtable"),
        (("SADD", "s"), arity("sadd")),
        (("SREM", "s"), arity("srem")),
        (("SISMEMBER", "s"), arity("sismember")),
        (("SMISMEMBER", "s"), arity("smismember")),
        (("SCARD", "s", "x"), arity("scard")),
    ],
    "srem_deletes_an_emptied_set": [
        (("SADD", "s", "a", "b"), 2),
        (("SREM", "s", "a", "b", "c"), 2),
        (("EXISTS", "s"), 0),
        (("SADD", "s", "x"), 1),  # a new set at the same key starts empty
        (("SMEMBERS", "s"), [b"x"]),
    ],
    "wrongtype_everywhere": [
        (("SET", "str", "1"), b"OK"),
        (("SADD", "str", "a"), WRONGTYPE),
        (("SREM", "str", "a"), WRONGTYPE),
        (("SCARD", "str"), WRONGTYPE),
        (("SISMEMBER", "str", "a"), WRONGTYPE),
        (("SMISMEMBER", "str", "a"), WRONGTYPE),
        (("SMEMBERS", "str"), WRONGTYPE),
        (("SRANDMEMBER", "str"), WRONGTYPE),
        (("SRANDMEMBER", "str", "0"), WRONGTYPE),
        (("SPOP", "str"), WRONGTYPE),
        (("SPOP", "str", "0"), WRONGTYPE),
        (("SSCAN", "str", "0"), WRONGTYPE),
        (("SSCAN", "str", "0", "BOGUS"), WRONGTYPE),  # the type before the options
        (("SINTER", "nosuch", "str"), WRONGTYPE),  # every key is checked, even after a miss
        (("SUNION", "nosuch", "str"), WRONGTYPE),
        (("SDIFF", "nosuch", "str"), WRONGTYPE),
        (("SINTERCARD", "2", "nosuch", "str"), WRONGTYPE),
        (("SINTERSTORE", "d", "nosuch", "str"), WRONGTYPE),
        (("HSET", "h", "f", "v"), 1),
        (("SADD", "h", "a"), WRONGTYPE),
        (("HGET", "str", "f"), WRONGTYPE),
        (("GET", "str"), b"1"),  # untouched
    ],
    "srandmember": [
        (("SRANDMEMBER", "nosuch"), None),
        (("SRANDMEMBER", "nosuch", "3"), []),
        (("SRANDMEMBER", "nosuch", "-3"), []),
        (("SADD", "s", "a"), 1),
        (("SRANDMEMBER", "s"), b"a"),
        (("SRANDMEMBER", "s", "0"), []),
        (("SRANDMEMBER", "s", "5"), [b"a"]),
        (("SRANDMEMBER", "s", "-3"), [b"a", b"a", b"a"]),
        (("SRANDMEMBER", "s", "x"), NOT_INT),
        (("SRANDMEMBER", "s", "1", "2"), SYNTAX),
        (("SRANDMEMBER", "s", "-9223372036854775808"),
         Err("ERR value is out of range, value must between -9223372036854775807 and "
             "9223372036854775807")),
        (("SRANDMEMBER", "s", "-9223372036854775807"),
         Err("ERR value is out of range, a negative count may ask for at most 1000000 "
             "elements")),
    ],
    "spop": [
        (("SPOP", "nosuch"), None),
        (("SPOP", "nosuch", "2"), []),
        (("SPOP", "nosuch", "-1"), POSITIVE),
        (("SPOP", "nosuch", "x"), POSITIVE),  # not a number: the same error, as Redis
        (("SPOP", "s", "1", "2"), SYNTAX),
        (("SADD", "s", "a", "b", "c"), 3),
        (("SPOP", "s", "0"), []),
        (("SPOP", "s", "-1"), POSITIVE),
        (("SCARD", "s"), 3),
        (("SPOP", "s", "9223372036854775807"), [b"a", b"b", b"c"]),  # all: the key goes
        (("EXISTS", "s"), 0),
        (("SADD", "s", "a"), 1),
        (("SPOP", "s"), b"a"),
        (("EXISTS", "s"), 0),
    ],
    "smove": [
        (("SADD", "src", "a", "b"), 2),
        (("SADD", "dst", "x"), 1),
        (("SMOVE", "src", "dst", "a"), 1),
        (("SMOVE", "src", "dst", "a"), 0),  # no longer in the source
        (("SMEMBERS", "dst"), [b"a", b"x"]),
        (("SMOVE", "src", "src", "b"), 1),  # the same set: membership only
        (("SMOVE", "src", "src", "z"), 0),
        (("SADD", "dst", "b"), 1),
        (("SMOVE", "src", "dst", "b"), 1),  # already in the destination: still moved
        (("EXISTS", "src"), 0),  # the emptied source is deleted
        (("SCARD", "dst"), 3),
        (("SMOVE", "dst", "new", "x"), 1),  # creates the destination
        (("SMEMBERS", "new"), [b"x"]),
        (("SET", "str", "1"), b"OK"),
        (("SMOVE", "nosuch", "str", "a"), 0),  # a missing source answers before any check
        (("SMOVE", "str", "dst", "a"), WRONGTYPE),
        (("SMOVE", "dst", "str", "a"), WRONGTYPE),
        (("SMOVE", "dst", "str", "nosuch"), WRONGTYPE),
        (("SCARD", "dst"), 2),
        (("SMOVE", "dst", "new"), arity("smove")),
    ],
    "algebra": [
        (("SADD", "s1", "a", "b", "c", "d"), 4),
        (("SADD", "s2", "c", "d", "e"), 3),
        (("SADD", "s3", "d", "e", "f"), 3),
        (("SINTER", "s1", "s2"), [b"c", b"d"]),
        (("SINTER", "s1", "s2", "s3"), [b"d"]),
        (("SINTER", "s1", "s1"), [b"a", b"b", b"c", b"d"]),
        (("SINTER", "s1", "nosuch"), []),
        (("SUNION", "s1", "s2", "nosuch"), [b"a", b"b", b"c", b"d", b"e"]),
        (("SUNION", "nosuch"), []),
        (("SDIFF", "s1", "s2"), [b"a", b"b"]),
        (("SDIFF", "s1", "s2", "s3"), [b"a", b"b"]),
        (("SDIFF", "s1", "s1"), []),
        (("SDIFF", "s1", "nosuch"), [b"a", b"b", b"c", b"d"]),
        (("SDIFF", "nosuch", "s1"), []),
        (("SINTERCARD", "2", "s1", "s2"), 2),
        (("SINTERCARD", "2", "s1", "s2", "LIMIT", "1"), 1),
        (("SINTERCARD", "2", "s1", "s2", "limit", "0"), 2),  # 0: no limit
        (("SINTERCARD", "2", "s1", "s2", "LIMIT", "1", "LIMIT", "5"), 2),  # the last counts
        (("SINTERCARD", "2", "s1", "nosuch", "LIMIT", "1"), 0),
        (("SINTERCARD", "0", "s1"), Err("ERR numkeys should be greater than 0")),
        (("SINTERCARD", "x", "s1"), Err("ERR numkeys should be greater than 0")),
        (("SINTERCARD", "3", "s1", "s2"),
         Err("ERR Number of keys can't be greater than number of args")),
        (("SINTERCARD", "1", "s1", "LIMIT"), SYNTAX),
        (("SINTERCARD", "1", "s1", "foo"), SYNTAX),
        (("SINTERCARD", "1", "s1", "LIMIT", "-1"), Err("ERR LIMIT can't be negative")),
        (("SINTERCARD", "1", "s1", "LIMIT", "x"), Err("ERR LIMIT can't be negative")),
        (("SINTER",), arity("sinter")),
        (("SINTERCARD", "1"), arity("sintercard")),
    ],
    "store_overwrites_any_type": [
        (("SADD", "s1", "a", "b", "c"), 3),
        (("SADD", "s2", "b", "c", "d"), 3),
        (("SET", "dst", "string"), b"OK"),
        (("EXPIRE", "dst", "100"), 1),
        (("SINTERSTORE", "dst", "s1", "s2"), 2),
        (("TYPE", "dst"), b"set"),
        (("TTL", "dst"), -1),  # a new key: no expiry
        (("SMEMBERS", "dst"), [b"b", b"c"]),
        (("SUNIONSTORE", "dst", "s1", "s2"), 4),
        (("SMEMBERS", "dst"), [b"a", b"b", b"c", b"d"]),
        (("SDIFFSTORE", "dst", "s1", "s2"), 1),
        (("SMEMBERS", "dst"), [b"a"]),
        (("SDIFFSTORE", "s1", "s1", "s2"), 1),  # the destination is a source
        (("SMEMBERS", "s1"), [b"a"]),
        (("HSET", "h", "f", "v"), 1),
        (("SUNIONSTORE", "h", "s2"), 3),
        (("TYPE", "h"), b"set"),
        (("SINTERSTORE", "dst", "s1", "s2"), 0),  # empty: the destination is deleted
        (("EXISTS", "dst"), 0),
        (("SINTERSTORE", "dst", "s1", "nosuch"), 0),
        (("SUNIONSTORE", "dst", "nosuch"), 0),
        (("EXISTS", "dst"), 0),
        (("SINTERSTORE", "dst"), arity("sinterstore")),
    ],
    "sscan_edges": [
        (("SSCAN", "nosuch", "0"), [b"0", []]),
        (("SSCAN", "nosuch", "0", "COUNT", "0"), [b"0", []]),  # no key: options unchecked
        (("SSCAN", "s", "x"), Err("ERR invalid cursor")),
        (("SADD", "s", "m"), 1),
        (("SSCAN", "s", "0"), [b"0", [b"m"]]),
        (("SSCAN", "s", "0", "MATCH", "g*"), [b"0", []]),
        (("SSCAN", "s", "0", "COUNT", "0"), SYNTAX),
        (("SSCAN", "s", "0", "COUNT", "x"), NOT_INT),
        (("SSCAN", "s", "0", "TYPE", "set"), SYNTAX),
        (("SSCAN", "s", "18446744073709551615"), [b"0", []]),
    ],
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
async def test_set_command_cases(client: Client, case: str) -> None:
    for command, expected in CASES[case]:
        reply = await client.call(*command)
        if command[0] in UNORDERED and isinstance(reply, list):
            reply = sorted(reply)
        assert reply == expected, command


async def resp3(client: Client, *argv: str) -> bytes:
    """The RESP3 bytes of one reply (hiredis decodes a set as a list)."""
    replies = await execute(client.ctx, [[a.encode() for a in argv]])
    return encode_replies(replies, 3)


async def test_set_replies_are_sets_in_resp3(client: Client) -> None:
    await client.call("SADD", "s", "a", "b")
    assert await client.call("HELLO", "3") is not None
    assert (await resp3(client, "SMEMBERS", "s")).startswith(b"~2\r\n")
    assert await resp3(client, "SINTER", "s", "nosuch") == b"~0\r\n"
    assert await resp3(client, "SPOP", "nosuch", "1") == b"~0\r\n"
    assert (await resp3(client, "SUNION", "s")).startswith(b"~2\r\n")
    # SRANDMEMBER answers arrays even in RESP3 (Redis 7.0).
    assert (await resp3(client, "SRANDMEMBER", "s", "2")).startswith(b"*2\r\n")
    assert (await resp3(client, "SRANDMEMBER", "s", "-3")).startswith(b"*3\r\n")
    assert await resp3(client, "SRANDMEMBER", "nosuch", "1") == b"*0\r\n"
    assert (await resp3(client, "SPOP", "s", "5")).startswith(b"~2\r\n")


@pytest.mark.parametrize("size", [10, EXACT_RANDOM_ELEMENTS + 200])
async def test_srandmember_and_spop_counts_and_members(leader_client: Client, size: int) -> None:
    client = leader_client
    members = {b"m%d" % i for i in range(size)}
    ordered = sorted(members)
    for start in range(0, size, 500):
        await client.call("SADD", "s", *ordered[start : start + 500])
    for count in (size, size + 10):  # the whole set
        reply = await client.call("SRANDMEMBER", "s", count)
        assert isinstance(reply, list) and sorted(reply) == ordered
    for count in (size - 2, 2):  # fewer: distinct members
        reply = await client.call("SRANDMEMBER", "s", count)
        assert isinstance(reply, list) and len(set(reply)) == count and set(reply) <= members
    repeated = await client.call("SRANDMEMBER", "s", -1001)
    assert isinstance(repeated, list) and len(repeated) == 1001 and set(repeated) <= members
    if size <= EXACT_RANDOM_ELEMENTS:  # uniform: every member shows up (as set.tcl checks)
        assert set(repeated) == members
        expected = 1001 / size
        assert sum((repeated.count(m) - expected) ** 2 / expected for m in members) < 40
    popped: set[bytes] = set()
    for count in (1, 3, size // 2):
        reply = await client.call("SPOP", "s", count)
        assert isinstance(reply, list) and len(set(reply)) == count
        assert not popped & set(reply)
        popped |= set(reply)
    one = await client.call("SPOP", "s")
    assert isinstance(one, bytes) and one not in popped
    popped.add(one)
    rest = await client.call("SMEMBERS", "s")
    assert isinstance(rest, list) and set(rest) | popped == members
    assert await client.call("SCARD", "s") == len(rest) == size - len(popped)


async def test_spop_pops_the_same_members_on_every_replica(replicas: Replicas) -> None:
    leader = Client(replicas.leader, replicas.config)
    await leader.call("SADD", "s", *(b"m%d" % i for i in range(2000)))
    for count in ("1", "7", "600"):
        await leader.call("SPOP", "s", count)
    await leader.call("SPOP", "s")
    follower = Client(replicas.follower, replicas.config)
    on_leader = await leader.call("SMEMBERS", "s")
    on_follower = await follower.call("SMEMBERS", "s")
    assert isinstance(on_leader, list) and len(on_leader) == 2000 - 609
    # The follower serves a key without expiry itself: its own applied state.
    assert on_follower == on_leader


async def test_sscan_visits_every_member_once_with_64_bit_cursors(client: Client) -> None:
    members = [b"m%d" % i for i in range(300)]
    await client.call("SADD", "s", *members)
    seen: list[bytes] = []
    cursor: bytes = b"0"
    calls = 0
    while True:
        reply = await client.call("SSCAN", "s", cursor, "COUNT", "17")
        assert isinstance(reply, list)
        cursor, page = reply
        assert 0 <= int(cursor) < 2**64
        seen += page
        calls += 1
        if cursor == b"0":
            break
    assert sorted(seen) == sorted(members)  # each exactly once
    assert 300 // 17 <= calls <= 300 // 17 + 2
    matched = await client.call("SSCAN", "s", "0", "MATCH", "m1?", "COUNT", "1000")
    assert isinstance(matched, list) and sorted(matched[1]) == [b"m%d" % i for i in range(10, 20)]


async def test_the_key_commands_know_sets(client: Client) -> None:
    await client.call("SADD", "s", "a", "b")
    assert await client.pipeline(
        [
            ("TYPE", "s"),
            ("SCAN", "0", "TYPE", "set"),
            ("SCAN", "0", "TYPE", "hash"),
            ("COPY", "s", "c"),
            ("SADD", "c", "z"),
            ("SCARD", "s"),
            ("RENAME", "c", "r"),
            ("SISMEMBER", "r", "z"),
            ("EXPIRE", "r", "100"),
            ("TTL", "r"),
            ("DEL", "s", "r"),
            ("DBSIZE",),
        ]
    ) == [b"set", [b"0", [b"s"]], [b"0", []], 1, 1, 2, b"OK", 1, 1, 100, 2, 0]


async def test_set_commands_run_inside_exec(client: Client, replicas: Replicas) -> None:
    before = replicas.index
    replies = await client.pipeline(
        [
            ("MULTI",),
            ("SADD", "s", "a", "b"),
            ("SREM", "s", "b"),
            ("SPOP", "s"),
            ("SADD", "s", "x"),
            ("SMOVE", "s", "t", "x"),
            ("SUNIONSTORE", "u", "t", "nosuch"),
            ("SMEMBERS", "u"),
            ("SRANDMEMBER", "u", "-2"),
            ("SCARD", "s"),
            ("EXEC",),
        ]
    )
    assert replies[-1] == [2, 1, b"a", 1, 1, 1, [b"x"], [b"x", b"x"], 0]
    assert replicas.index == before + 1


async def test_watch_sees_every_set_change(client: Client, replicas: Replicas) -> None:
    other = Client(replicas.leader, replicas.config)
    changes = [
        ("SADD", "s", "new"),
        ("SREM", "s", "m"),
        ("SPOP", "s"),
        ("SMOVE", "s", "t", "m"),
        ("SMOVE", "t", "s", "m"),  # into s, where m already is: Redis signals s too
        ("SINTERSTORE", "s", "s"),  # the same members, a new set
        ("EXPIRE", "s", "100"),
    ]
    for change in changes:
        await other.call("DEL", "s", "t")
        await other.call("SADD", "s", "m")
        await other.call("SADD", "t", "m")
        assert await client.call("WATCH", "s") == b"OK"
        await other.call(*change)
        replies = await client.pipeline([("MULTI",), ("SCARD", "s"), ("EXEC",)])
        assert replies[-1] is None, change
    await client.call("WATCH", "s")
    await other.call("SADD", "s", "m")  # nothing added: nothing changed, as Redis
    await other.call("SREM", "s", "nosuch")
    await other.call("SISMEMBER", "s", "m")
    assert (await client.pipeline([("MULTI",), ("SCARD", "s"), ("EXEC",)]))[-1] == [1]


async def test_scripts_read_and_pop_sets_alike_on_every_node(replicas: Replicas) -> None:
    leader = Client(replicas.leader, replicas.config)
    await leader.call("SADD", "s", *(b"m%d" % i for i in range(50)))
    # A script runs at apply on every node: the members it reads come in one order, its pops
    # are the entry's, so the key it writes from them is the same everywhere.
    script = (
        "local all = redis.call('smembers', KEYS[1]) "
        "local popped = redis.call('spop', KEYS[1], 3) "
        "redis.call('set', KEYS[2], all[1] .. ':' .. table.concat(popped, ',')) "
        "return #all"
    )
    assert await leader.call("EVAL", script, "2", "s", "out") == 50
    written = await leader.call("GET", "out")
    assert isinstance(written, bytes) and written.count(b",") == 2
    follower = Client(replicas.follower, replicas.config)
    assert await follower.call("GET", "out") == written
    assert await follower.call("SMEMBERS", "s") == await leader.call("SMEMBERS", "s")
    assert await leader.call("SCARD", "s") == 47
