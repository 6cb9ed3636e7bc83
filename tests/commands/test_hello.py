"""HELLO's arguments are checked as Redis 7 checks them (the default user, nopass)."""

from __future__ import annotations

import pytest
from tests.commands.test_dispatch import make_ctx, run

from seshat_trio.protocol import ErrorReply


@pytest.mark.parametrize("version", [b"+3", b" 3", b"3.0", b"0x3", b"three"])
async def test_the_version_must_be_a_plain_integer(version: bytes) -> None:
    ctx = make_ctx()
    (reply,) = await run(ctx, [b"HELLO", version])
    assert reply == ErrorReply("ERR Protocol version is not an integer or out of range")
    assert ctx.client.protocol == 2


async def test_auth_accepts_only_a_known_user() -> None:
    ctx = make_ctx()
    refused, accepted = await run(
        ctx,
        [b"HELLO", b"3", b"AUTH", b"nouser", b"pw", b"SETNAME", b"x"],
        [b"HELLO", b"3", b"AUTH", b"default", b"any"],
    )
    assert refused == ErrorReply("WRONGPASS invalid username-password pair or user is disabled.")
    assert isinstance(accepted, dict) and accepted["proto"] == 3
    assert ctx.client.name == b""  # the refused HELLO changed nothing


async def test_a_negative_version_is_an_unsupported_one() -> None:
    (reply,) = await run(make_ctx(), [b"HELLO", b"-3"])
    assert reply == ErrorReply("NOPROTO unsupported protocol version")
