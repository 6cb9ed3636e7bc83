"""The blocking sorted-set pops (BZPOPMIN, BZPOPMAX, BZMPOP) through the command layer, on
a leader and a follower (replicas.py), on MockClock time: a client waits on its own node,
is served by a ZADD sent to either node in the order clients blocked, and the timeout is
the waiting node's; errors and MULTI never block. Replies checked against redis-server
7.0.15."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from replicas import Replicas, clients

from seshat_trio.protocol import ErrorReply as Err

WRONGTYPE = Err("WRONGTYPE Operation against a key holding the wrong kind of value")


@pytest.mark.parametrize("blocked_on", ["leader", "follower"])
@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (("BZPOPMIN", "empty", "z", "0"), [b"z", b"low", b"1"]),
        (("BZPOPMAX", "z", "500"), [b"z", b"high", b"2.5"]),
        (("BZMPOP", "0", "2", "empty", "z", "MAX", "COUNT", "5"),
         [b"z", [[b"high", b"2.5"], [b"low", b"1"]]]),
    ],
)  # fmt: skip
async def test_a_blocked_client_is_served_by_a_zadd_on_either_node(
    replicas: Replicas,
    autojump_clock: trio.testing.MockClock,
    blocked_on: str,
    command: tuple[str, ...],
    expected: object,
) -> None:
    waiting, writer = clients(replicas, blocked_on)
    got: list[object] = []

    async def blocked() -> None:
        got.append(await waiting.call(*command))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(blocked)
        await trio.sleep(3)
        assert got == [] and len(waiting.backend.waiters) == 1
        entries = replicas.index
        await trio.sleep(100)
        assert replicas.index == entries  # waiting is no log entry, however long
        assert await writer.call("ZADD", "z", "1", "low", "2.5", "high") == 2
    assert got == [expected]
    assert len(waiting.backend.waiters) == 0


@pytest.mark.parametrize("blocked_on", ["leader", "follower"])
async def test_clients_are_served_in_the_order_they_blocked(
    replicas: Replicas, autojump_clock: trio.testing.MockClock, blocked_on: str
) -> None:
    _, writer = clients(replicas, blocked_on)
    served: list[tuple[int, object]] = []

    async def blocked(number: int) -> None:
        waiting, _ = clients(replicas, blocked_on)
        served.append((number, await waiting.call("BZPOPMIN", "z", "0")))

    async with trio.open_nursery() as nursery:
        for number in range(3):
            nursery.start_soon(blocked, number)
            await trio.sleep(1)  # each one blocks before the next
        assert await writer.call("ZADD", "z", "3", "c", "1", "a") == 2
        await trio.sleep(1)
        assert served == [(0, [b"z", b"a", b"1"]), (1, [b"z", b"c", b"3"])]
        assert await writer.call("ZADD", "z", "2", "b") == 1
    assert served[2:] == [(2, [b"z", b"b", b"2"])]
    assert await writer.call("EXISTS", "z") == 0


@pytest.mark.parametrize("blocked_on", ["leader", "follower"])
async def test_the_timeout_ends_the_wait_and_errors_never_block(
    replicas: Replicas, autojump_clock: trio.testing.MockClock, blocked_on: str
) -> None:
    waiting, writer = clients(replicas, blocked_on)
    entries = replicas.index
    started = trio.current_time()
    assert await waiting.call("BZPOPMIN", "z", "2.5") is None  # a nil array
    assert trio.current_time() - started == pytest.approx(2.5)
    assert await waiting.call("BZMPOP", "0.2", "1", "z", "MIN") is None
    assert replicas.index == entries
    started = trio.current_time()
    await writer.call("SET", "s", "x")
    assert await waiting.call("BZPOPMAX", "empty", "s", "0") == WRONGTYPE
    assert await waiting.call("BZPOPMIN", "z", "-1") == Err("ERR timeout is negative")
    assert await waiting.call("BZPOPMIN", "z", "x") == Err(
        "ERR timeout is not a float or out of range"
    )
    assert await waiting.call("BZMPOP", "x", "0", "z", "MIN") == Err(
        "ERR numkeys should be greater than 0"
    )
    assert await waiting.call("BZMPOP", "x", "1", "z", "MIN") == Err(
        "ERR timeout is not a float or out of range"
    )
    assert await waiting.call("BZMPOP", "0", "1", "z", "MIN", "COUNT", "0") == Err(
        "ERR count should be greater than 0"
    )
    replies = await waiting.pipeline(
        [("MULTI",), ("BZPOPMIN", "z", "0"), ("BZMPOP", "0", "1", "z", "MAX"), ("EXEC",)]
    )
    assert replies == [b"OK", b"QUEUED", b"QUEUED", [None, None]]
    assert trio.current_time() == started
    # Data already there is popped at once; RESP3 keeps BZPOPMIN's reply flat.
    await writer.call("ZADD", "z", "1.5", "m")
    assert await waiting.call("HELLO", "3") is not None
    assert await waiting.call("BZPOPMIN", "z", "1") == [b"z", b"m", 1.5]
