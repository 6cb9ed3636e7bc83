"""Blocking pops through the command layer, on a leader and a follower with real state
machines (replicas.py), on MockClock time: a client waits on its own node and is served by
a push sent to either node, in the order clients blocked; waiting writes nothing to the log;
the timeout is the waiting node's; errors and MULTI never block."""

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
        (("BLPOP", "empty", "q", "0"), [b"q", b"first"]),
        (("BRPOP", "q", "500"), [b"q", b"second"]),
        (("BLMPOP", "0", "2", "empty", "q", "RIGHT", "COUNT", "5"), [b"q", [b"second", b"first"]]),
        (("BLMOVE", "q", "dest", "LEFT", "RIGHT", "0"), b"first"),
        (("BRPOPLPUSH", "q", "dest", "0"), b"second"),
    ],
)  # fmt: skip
async def test_a_blocked_client_is_served_by_a_push_on_either_node(
    replicas: Replicas,
    autojump_clock: trio.testing.MockClock,
    blocked_on: str,
    command: tuple[str, ...],
    expected: object,
) -> None:
    waiting, pusher = clients(replicas, blocked_on)
    node = waiting.backend
    got: list[object] = []

    async def blocked() -> None:
        got.append(await waiting.call(*command))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(blocked)
        await trio.sleep(3)
        assert got == [] and len(node.waiters) == 1
        entries = replicas.index
        await trio.sleep(100)
        assert replicas.index == entries  # waiting is no log entry, however long
        assert await pusher.call("RPUSH", "q", "first", "second") == 2
    assert got == [expected]
    assert len(node.waiters) == 0
    if command[0] in ("BLMOVE", "BRPOPLPUSH"):
        assert await pusher.call("LRANGE", "dest", "0", "-1") == [expected]


@pytest.mark.parametrize("blocked_on", ["leader", "follower"])
async def test_clients_are_served_in_the_order_they_blocked(
    replicas: Replicas, autojump_clock: trio.testing.MockClock, blocked_on: str
) -> None:
    _, pusher = clients(replicas, blocked_on)
    served: list[tuple[int, object]] = []

    async def blocked(number: int) -> None:
        waiting, _ = clients(replicas, blocked_on)
        served.append((number, await waiting.call("BLPOP", "q", "0")))

    async with trio.open_nursery() as nursery:
        for number in range(4):
            nursery.start_soon(blocked, number)
            await trio.sleep(1)  # each one blocks before the next
        assert await pusher.call("RPUSH", "q", "a") == 1
        await trio.sleep(1)
        assert served == [(0, [b"q", b"a"])]
        assert await pusher.call("RPUSH", "q", "b", "c") == 2
        await trio.sleep(1)
        assert served[1:] == [(1, [b"q", b"b"]), (2, [b"q", b"c"])]
        assert await pusher.call("LPUSH", "q", "d") == 1
    assert served[3:] == [(3, [b"q", b"d"])]
    assert await pusher.call("EXISTS", "q") == 0


@pytest.mark.parametrize("blocked_on", ["leader", "follower"])
async def test_the_timeout_ends_the_wait_on_the_waiting_node(
    replicas: Replicas, autojump_clock: trio.testing.MockClock, blocked_on: str
) -> None:
    waiting, pusher = clients(replicas, blocked_on)
    entries = replicas.index
    started = trio.current_time()
    assert await waiting.call("BLPOP", "q", "2.5") is None  # a nil array
    assert trio.current_time() - started == pytest.approx(2.5)
    assert await waiting.call("BLMOVE", "q", "d", "LEFT", "LEFT", "0.01") is None  # a nil bulk
    assert await waiting.call("HELLO", "3") is not None
    assert await waiting.call("BLMPOP", "0.2", "1", "q", "LEFT") is None
    assert replicas.index == entries
    assert len(waiting.backend.waiters) == 0
    # A key another node filled before the command came is popped at once.
    await pusher.call("RPUSH", "q", "x")
    assert await waiting.call("BRPOP", "q", "1") == [b"q", b"x"]


@pytest.mark.parametrize("blocked_on", ["leader", "follower"])
async def test_errors_and_transactions_never_block(
    replicas: Replicas, autojump_clock: trio.testing.MockClock, blocked_on: str
) -> None:
    waiting, _ = clients(replicas, blocked_on)
    started = trio.current_time()
    await waiting.call("SET", "s", "x")
    assert await waiting.call("BLPOP", "empty", "s", "0") == WRONGTYPE
    assert await waiting.call("BLPOP", "q", "-1") == Err("ERR timeout is negative")
    assert await waiting.call("BLMOVE", "q", "d", "UP", "LEFT", "0") == Err("ERR syntax error")
    assert await waiting.call("BLMPOP", "x", "1", "q", "LEFT") == Err(
        "ERR timeout is not a float or out of range"
    )
    replies = await waiting.pipeline(
        [("MULTI",), ("BLPOP", "q", "0"), ("BRPOPLPUSH", "q", "d", "0"), ("EXEC",)]
    )
    assert replies == [b"OK", b"QUEUED", b"QUEUED", [None, None]]
    assert trio.current_time() == started


async def test_commands_pipelined_after_a_blocked_one_wait_for_it(
    replicas: Replicas, autojump_clock: trio.testing.MockClock
) -> None:
    waiting, pusher = clients(replicas, "follower")
    got: list[object] = []

    async def blocked() -> None:
        got.extend(await waiting.pipeline([("SET", "k", "1"), ("BLPOP", "q", "0"), ("GET", "k")]))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(blocked)
        await trio.sleep(2)
        assert got == [] and await pusher.call("GET", "k") == b"1"
        await pusher.call("SET", "k", "2")
        await pusher.call("RPUSH", "q", "v")
    assert got == [b"OK", [b"q", b"v"], b"2"]


async def test_a_cancelled_wait_leaves_no_waiter_and_pops_nothing(
    replicas: Replicas, autojump_clock: trio.testing.MockClock
) -> None:
    waiting, pusher = clients(replicas, "follower")
    with trio.move_on_after(5):
        await waiting.call("BLPOP", "q", "0")
    assert len(replicas.follower.waiters) == 0
    await pusher.call("RPUSH", "q", "kept")
    assert await pusher.call("LRANGE", "q", "0", "-1") == [b"kept"]


async def test_a_pop_that_finds_the_list_taken_or_another_type_blocks_again(
    replicas: Replicas, autojump_clock: trio.testing.MockClock
) -> None:
    waiting, pusher = clients(replicas, "follower")
    got: list[object] = []

    async def blocked() -> None:
        got.append(await waiting.call("BLPOP", "q", "0"))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(blocked)
        await trio.sleep(1)
        # One write pushes and pops: nothing is left to serve.
        assert await pusher.pipeline(
            [("MULTI",), ("RPUSH", "q", "gone"), ("LPOP", "q"), ("EXEC",)]
        ) == [b"OK", b"QUEUED", b"QUEUED", [1, b"gone"]]  # fmt: skip
        # Another type at the key wakes the waiter, which keeps waiting (Redis 7.0 too).
        await pusher.call("SET", "q", "string")
        await trio.sleep(1)
        await pusher.call("DEL", "q")
        await trio.sleep(1)
        assert got == [] and len(replicas.follower.waiters) == 1
        await pusher.call("LPUSH", "q", "later")
    assert got == [[b"q", b"later"]]
    await pusher.call("SET", "q", "string")
    assert await waiting.call("BLPOP", "q", "0") == WRONGTYPE  # at the start: at once


@pytest.mark.parametrize("blocked_on", ["leader", "follower"])
async def test_a_leader_change_leaves_blocked_clients_waiting_then_served(
    replicas: Replicas, autojump_clock: trio.testing.MockClock, blocked_on: str
) -> None:
    waiting, pusher = clients(replicas, blocked_on)
    got: list[object] = []

    async def blocked() -> None:
        got.append(await waiting.call("BLPOP", "q", "0"))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(blocked)
        await trio.sleep(1)
        # Leadership moves to the other node: the waiter has nothing to redo.
        old, new = replicas.leader, replicas.follower
        old.leading, new.leading = False, True
        replicas.leader, replicas.follower = new, old
        await trio.sleep(5)
        assert got == [] and len(waiting.backend.waiters) == 1
        assert await pusher.call("RPUSH", "q", "after") == 1
    assert got == [[b"q", b"after"]]
    assert await pusher.call("EXISTS", "q") == 0
