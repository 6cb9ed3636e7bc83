"""CLIENT REPLY ON|OFF|SKIP as Redis 7.0: OFF and SKIP answer nothing themselves, SKIP
silences the next command only, ON answers OK; silenced commands still run."""

from __future__ import annotations

from replicas import Client

from seshat_trio.protocol import ErrorReply


async def test_client_reply_off_skip_on(client: Client) -> None:
    replies = await client.pipeline(
        [
            ("client", "reply", "off"),
            ("set", "a", "1"),
            ("get", "a"),
            ("client", "reply", "on"),
            ("get", "a"),
            ("client", "reply", "skip"),
            ("set", "b", "2"),
            ("get", "b"),
            ("client", "reply", "skip"),
            ("client", "reply", "skip"),
            ("get", "a"),
            ("client", "reply", "bogus"),
        ]
    )
    # Two SKIPs in a row: the second, silenced itself, silences the GET after it (as Redis).
    assert replies == [b"OK", b"1", b"2", ErrorReply("ERR syntax error")]
    # Across reads too.
    assert await client.pipeline([("client", "reply", "skip")]) == []
    assert await client.pipeline([("incr", "n")]) == []
    assert await client.pipeline([("get", "n")]) == [b"1"]
    assert await client.pipeline([("client", "reply", "off")]) == []
    assert await client.pipeline([("incr", "n"), ("client", "reply", "skip")]) == []
    assert await client.pipeline([("client", "reply", "on"), ("get", "n")]) == [b"OK", b"2"]
