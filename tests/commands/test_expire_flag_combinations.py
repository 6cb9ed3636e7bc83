"""EXPIRE with several flags checks every one of them (answers taken from Redis 7.0.15),
and EXPIRETIME rounds like Redis."""

from __future__ import annotations

import pytest
from replicas import Client


@pytest.mark.parametrize(
    ("setup_ttl", "options", "new", "expected"),
    [
        (None, ("XX", "LT"), 100, 0),  # XX refuses: no TTL to lower
        (500, ("XX", "GT"), 100, 0),  # GT refuses: 100 is not greater
        (500, ("XX", "LT"), 100, 1),
        (50, ("XX", "GT"), 100, 1),
        (None, ("LT", "XX"), 100, 0),  # the order of the flags does not matter
        (500, ("GT", "XX"), 100, 0),
        (500, ("XX", "XX", "LT"), 100, 1),
    ],
)
async def test_every_flag_must_hold(
    client: Client, setup_ttl: int | None, options: tuple[str, ...], new: int, expected: int
) -> None:
    await client.call("SET", "k", "v")
    if setup_ttl is not None:
        await client.call("EXPIRE", "k", setup_ttl)
    assert await client.call("EXPIRE", "k", new, *options) == expected
    assert await client.call("TTL", "k") == (new if expected else setup_ttl or -1)


async def test_expiretime_rounds_to_the_nearest_second(client: Client) -> None:
    await client.call("SET", "up", "v", "PXAT", 1_999_999_999_999)
    await client.call("SET", "down", "v", "PXAT", 1_999_999_999_499)
    assert await client.call("EXPIRETIME", "up") == 2_000_000_000
    assert await client.call("EXPIRETIME", "down") == 1_999_999_999
    assert await client.call("PEXPIRETIME", "up") == 1_999_999_999_999
