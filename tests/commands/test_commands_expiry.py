"""Expiry commands and the expiry rules: deterministic absolute times from the leader's
operation time, lazy deletion proposed by the leader, active expiry, and followers that
never judge a key's life with their own (here 30 s fast) clock."""

from __future__ import annotations

import pytest
from replicas import Client, Replicas

from seshat_trio.commands.expiry import purge_once
from seshat_trio.kv.operations import Operation
from seshat_trio.protocol import ErrorReply as Err

NOT_INT = Err("ERR value is not an integer or out of range")


async def test_expire_family_sets_absolute_times_from_the_leader_clock(
    client: Client, replicas: Replicas
) -> None:
    now = replicas.leader.clock_ms
    await client.call("MSET", "a", "1", "b", "1", "c", "1", "d", "1")
    assert await client.pipeline(
        [
            ("EXPIRE", "a", "100"),
            ("PEXPIRE", "b", "1500"),
            ("EXPIREAT", "c", now // 1000 + 50),
            ("PEXPIREAT", "d", now + 2500),
            ("EXPIRE", "missing", "10"),
        ]
    ) == [1, 1, 1, 1, 0]
    assert await client.pipeline(
        [("PEXPIRETIME", "a"), ("PEXPIRETIME", "b"), ("EXPIRETIME", "c"), ("PTTL", "d")]
    ) == [now + 100_000, now + 1500, now // 1000 + 50, 2500]
    # Identical absolute expiries on every node, whatever their clocks.
    for key in (b"a", b"b", b"c", b"d"):
        values = {node.machine.get(key) for node in replicas.nodes}
        assert len(values) == 1


async def test_ttl_replies(client: Client, replicas: Replicas) -> None:
    await client.call("SET", "k", "v", "PX", "2600")
    await client.call("SET", "p", "v")
    assert await client.pipeline(
        [("TTL", "k"), ("PTTL", "k"), ("TTL", "p"), ("PTTL", "p"), ("TTL", "none")]
    ) == [3, 2600, -1, -1, -2]
    assert await client.pipeline([("EXPIRETIME", "p"), ("PEXPIRETIME", "none")]) == [-1, -2]
    replicas.advance(2400)
    assert await client.pipeline([("TTL", "k"), ("PTTL", "k")]) == [0, 200]


@pytest.mark.parametrize(
    ("setup_ttl", "option", "new", "expected"),
    [
        (None, "NX", 100, 1),
        (50, "NX", 100, 0),
        (None, "XX", 100, 0),
        (50, "XX", 100, 1),
        (None, "GT", 100, 0),
        (50, "GT", 100, 1),
        (50, "GT", 10, 0),
        (None, "LT", 100, 1),
        (50, "LT", 10, 1),
        (50, "LT", 100, 0),
    ],
)
async def test_expire_conditions(
    client: Client, setup_ttl: int | None, option: str, new: int, expected: int
) -> None:
    await client.call("SET", "k", "v")
    if setup_ttl is not None:
        await client.call("EXPIRE", "k", setup_ttl)
    assert await client.call("EXPIRE", "k", new, option) == expected
    assert await client.call("TTL", "k") == (new if expected else setup_ttl or -1)


async def test_expire_errors(client: Client) -> None:
    await client.call("SET", "k", "v")
    assert await client.pipeline(
        [
            ("EXPIRE", "k", "x"),
            ("EXPIRE", "k", "10", "NX", "XX"),
            ("EXPIRE", "k", "10", "GT", "LT"),
            ("EXPIRE", "k", "10", "NX", "GT"),
            ("EXPIRE", "k", "10", "FOO"),
            ("EXPIRE", "k", str(2**63 // 1000 + 1)),
            ("PEXPIRE", "k", str(2**63 - 1)),
            ("TTL", "k"),
        ]
    ) == [
        NOT_INT,
        Err("ERR NX and XX, GT or LT options at the same time are not compatible"),
        Err("ERR GT and LT options at the same time are not compatible"),
        Err("ERR NX and XX, GT or LT options at the same time are not compatible"),
        Err("ERR Unsupported option FOO"),
        Err("ERR invalid expire time in 'expire' command"),
        Err("ERR invalid expire time in 'pexpire' command"),
        -1,
    ]


async def test_expire_checks_its_options_before_its_number(client: Client) -> None:
    # Redis 7.0.15 parses the options first: a bad option is named even after a bad number.
    await client.call("SET", "k", "v")
    assert await client.pipeline(
        [
            ("EXPIRE", "k", "abc", "BOGUS"),
            ("PEXPIREAT", "k", "abc", "NX", "XX"),
            ("EXPIRE", "k", "abc", "GT", "LT"),
            ("EXPIRE", "k", str(2**63 - 1), "bogus"),
            ("EXPIRE", "k", "abc", "NX"),
            ("TTL", "k"),
        ]
    ) == [
        Err("ERR Unsupported option BOGUS"),
        Err("ERR NX and XX, GT or LT options at the same time are not compatible"),
        Err("ERR GT and LT options at the same time are not compatible"),
        Err("ERR Unsupported option bogus"),
        NOT_INT,
        -1,
    ]


async def test_expire_in_the_past_deletes_and_persist_clears(client: Client) -> None:
    await client.call("MSET", "a", "1", "b", "1")
    assert await client.call("EXPIRE", "a", "-1") == 1
    assert await client.call("EXISTS", "a") == 0
    assert await client.call("PERSIST", "b") == 0
    assert await client.call("EXPIRE", "b", "100") == 1
    assert await client.call("PERSIST", "b") == 1
    assert await client.call("TTL", "b") == -1
    assert await client.call("PERSIST", "missing") == 0


async def test_lazy_expiry_on_the_leader_proposes_the_deletion(
    client: Client, replicas: Replicas
) -> None:
    await client.call("SET", "k", "v", "PX", "1000")
    replicas.advance(999)
    assert await client.call("GET", "k") == b"v"
    replicas.advance(1)
    assert await client.call("GET", "k") is None
    assert [op.commands for op in replicas.leader.nowait] == [((b"purge", b"k"),)]
    assert all(node.machine.get(b"k") is None for node in replicas.nodes)
    assert all(node.machine.key_count == 0 for node in replicas.nodes)


async def test_follower_forwards_reads_of_keys_with_an_expiry(replicas: Replicas) -> None:
    follower = Client(replicas.follower, replicas.config)
    await follower.call("SET", "ttl", "v", "EX", "10")
    await follower.call("SET", "plain", "v")
    replicas.follower.forwarded.clear()
    replicas.follower.forwarded_alone.clear()
    # The follower's clock is 30 s ahead: judged locally, "ttl" would look expired.
    assert await follower.pipeline([("GET", "ttl"), ("TTL", "ttl"), ("GET", "plain")]) == [
        b"v",
        10,
        b"v",
    ]
    assert replicas.leader.nowait == []
    assert replicas.follower.forwarded == [[[b"GET", b"ttl"]], [[b"TTL", b"ttl"]]]
    # Reads are never merged with other connections' writes (their barrier would hold them).
    assert replicas.follower.forwarded_alone == [True, True]


async def test_a_key_set_again_survives_a_stale_purge(
    leader_client: Client, replicas: Replicas
) -> None:
    await leader_client.call("SET", "k", "v", "PX", "10")
    replicas.advance(20)
    due = replicas.leader.due_expiries(replicas.leader.clock_ms, 20)
    assert due == [b"k"]
    await leader_client.call("SET", "k", "new")  # set again before the purge applies
    assert (
        await purge_once(replicas.leader, replicas.leader.now_ms()) == 0
    )  # the index no longer lists it
    replicas.replicate(Operation(replicas.leader.clock_ms, ((b"purge", b"k"),)))
    assert await leader_client.call("GET", "k") == b"new"


async def test_active_expiry_purges_in_bounded_batches(
    leader_client: Client, replicas: Replicas
) -> None:
    await leader_client.call("MSET", *(part for i in range(45) for part in (f"k{i}", "v")))
    for i in range(45):
        await leader_client.call("PEXPIRE", f"k{i}", 100 + i)
    await leader_client.call("SET", "forever", "v")
    replicas.advance(1000)
    assert (
        await purge_once(replicas.follower, replicas.follower.now_ms()) == 0
    )  # followers never expire on their own
    assert [await purge_once(replicas.leader, replicas.leader.now_ms()) for _ in range(4)] == [
        20,
        20,
        5,
        0,
    ]
    assert all(node.machine.key_count == 1 for node in replicas.nodes)
    assert len(replicas.leader.machine.expiries) == 0
