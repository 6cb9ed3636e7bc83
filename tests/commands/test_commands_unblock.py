"""Blocked clients as Redis 7.0.15 shows and ends them, through the command layer on a
leader and a follower (replicas.py), on MockClock time: CLIENT UNBLOCK id [TIMEOUT|ERROR]
for every blocking command, the `b` flag of CLIENT LIST/INFO, and what a blocked client
does when a key it waits on gets another type. Every expected reply was taken from
redis-server 7.0.15."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from replicas import Client, Replicas, clients

from seshat_trio.commands.context import ClientState
from seshat_trio.protocol import ErrorReply as Err

WRONGTYPE = Err("WRONGTYPE Operation against a key holding the wrong kind of value")
UNBLOCKED = Err("UNBLOCKED client unblocked via CLIENT UNBLOCK")

BLOCKING = [
    ("BLPOP", "q", "0"),
    ("BRPOP", "q", "0"),
    ("BLMOVE", "q", "d", "LEFT", "RIGHT", "0"),
    ("BRPOPLPUSH", "q", "d", "0"),
    ("BLMPOP", "0", "1", "q", "LEFT"),
    ("BZPOPMIN", "z", "0"),
    ("BZPOPMAX", "z", "0"),
    ("BZMPOP", "0", "1", "z", "MIN"),
]


class Listener:
    """The node's connections as CLIENT LIST/KILL/UNBLOCK see them (server/listener.py)."""

    def __init__(self, *members: Client) -> None:
        self.members = members
        for member in members:
            member.ctx.registry = self

    def clients(self) -> list[ClientState]:
        return [member.ctx.client for member in self.members]

    def kill(self, client_id: int) -> bool:
        raise AssertionError("not used here")


async def blocked_reply(
    waiting: Client, command: tuple[str, ...], then: object
) -> tuple[object, object]:
    """Block `waiting` on `command`, run `then` (an awaitable factory) once it waits;
    return (`then`'s result, the blocked command's reply)."""
    got: list[object] = []

    async def blocked() -> None:
        got.append(await waiting.call(*command))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(blocked)
        await trio.sleep(1)
        assert got == []
        result = await then()  # type: ignore[operator]
        await trio.sleep(1)
    return result, got[0]


@pytest.mark.parametrize("blocked_on", ["leader", "follower"])
@pytest.mark.parametrize("command", BLOCKING, ids=lambda c: c[0])
async def test_client_unblock_ends_every_blocking_command(
    replicas: Replicas,
    autojump_clock: trio.testing.MockClock,
    blocked_on: str,
    command: tuple[str, ...],
) -> None:
    waiting, other = clients(replicas, blocked_on)
    admin = Client(waiting.backend, replicas.config)
    Listener(waiting, admin)
    target = waiting.ctx.client.id
    entries = replicas.index

    def unblock(*how: str) -> object:
        return lambda: admin.call("CLIENT", "UNBLOCK", target, *how)

    # TIMEOUT (the default) answers as the timeout does: a nil array, BLMOVE's too.
    assert await blocked_reply(waiting, command, unblock()) == (1, None)
    assert await blocked_reply(waiting, command, unblock("timeout")) == (1, None)
    assert await blocked_reply(waiting, command, unblock("ERROR")) == (1, UNBLOCKED)
    assert replicas.index == entries  # no attempt was made: the keys are empty
    assert len(waiting.backend.waiters) == 0
    # A client that is not blocked (itself, another, an unknown one) answers 0.
    assert await admin.call("CLIENT", "UNBLOCK", target) == 0
    assert await admin.call("CLIENT", "UNBLOCK", admin.ctx.client.id) == 0
    assert await admin.call("CLIENT", "UNBLOCK", "99999", "ERROR") == 0
    assert await admin.call("CLIENT", "UNBLOCK", "-1") == 0
    # The waiter still works: it blocks again and is served.
    push = ("ZADD", "z", "1", "m") if command[0].startswith("BZ") else ("RPUSH", "q", "m")
    result, reply = await blocked_reply(waiting, command, lambda: other.call(*push))
    assert result == 1 and reply not in (None, UNBLOCKED)


async def test_client_unblock_errors_as_redis(
    replicas: Replicas, autojump_clock: trio.testing.MockClock
) -> None:
    admin, _ = clients(replicas, "leader")
    assert await admin.call("CLIENT", "UNBLOCK", "x") == Err(
        "ERR value is not an integer or out of range"
    )
    assert await admin.call("CLIENT", "UNBLOCK", "1.5") == Err(
        "ERR value is not an integer or out of range"
    )
    # The reason is checked before the id.
    assert await admin.call("CLIENT", "UNBLOCK", "x", "foo") == Err(
        "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"
    )
    assert await admin.call("CLIENT", "UNBLOCK", "1", "timeout", "x") == Err(
        "ERR unknown subcommand or wrong number of arguments for 'unblock'. Try CLIENT HELP."
    )
    assert await admin.call("CLIENT", "UNBLOCK") == Err(
        "ERR wrong number of arguments for 'client|unblock' command"
    )


@pytest.mark.parametrize("blocked_on", ["leader", "follower"])
async def test_a_blocked_client_has_the_b_flag(
    replicas: Replicas, autojump_clock: trio.testing.MockClock, blocked_on: str
) -> None:
    waiting, _ = clients(replicas, blocked_on)
    admin = Client(waiting.backend, replicas.config)
    Listener(waiting, admin)
    target = waiting.ctx.client.id

    async def flags() -> tuple[str, object]:
        listed = await admin.call("CLIENT", "LIST", "ID", target)
        assert isinstance(listed, bytes)
        (flag,) = [f for f in listed.decode().split() if f.startswith("flags=")]
        keys = waiting.backend.waiters.key_count
        await admin.call("CLIENT", "UNBLOCK", target)
        return flag, keys

    command = ("BLPOP", "a", "b", "a", "0")
    assert await blocked_reply(waiting, command, flags) == (("flags=b", 2), None)
    assert "flags=N " in str(await waiting.call("CLIENT", "INFO"))
    assert waiting.backend.waiters.key_count == 0


@pytest.mark.parametrize("blocked_on", ["leader", "follower"])
@pytest.mark.parametrize(
    ("command", "changes", "reply", "left"),
    [
        # Redis 7.0.15: `a` turning into a string or a set does not wake the client...
        (("BLPOP", "a", "b", "0"), [("SET", "a", "s")], None, None),
        (("BLPOP", "a", "b", "0"), [("SADD", "a", "m")], None, None),
        # ...and a later key that gets elements serves it, the string skipped.
        (("BLPOP", "a", "b", "0"), [("SET", "a", "s"), ("RPUSH", "b", "x")], [b"b", b"x"], None),
        (("BRPOP", "a", "b", "0"), [("MULTI",), ("SET", "a", "s"), ("RPUSH", "b", "x"),
                                     ("EXEC",)], [b"b", b"x"], None),
        (("BLMPOP", "0", "3", "a", "c", "b", "RIGHT", "COUNT", "2"),
         [("SET", "a", "s"), ("RPUSH", "b", "x", "y")], [b"b", [b"y", b"x"]], None),
        (("BZPOPMIN", "z", "y", "0"), [("SET", "z", "s"), ("ZADD", "y", "1", "m")],
         [b"y", b"m", b"1"], None),
        (("BZMPOP", "0", "2", "z", "y", "MAX"), [("SADD", "z", "s"), ("ZADD", "y", "1", "m")],
         [b"y", [[b"m", b"1"]]], None),
        # A push followed by a SET in one transaction leaves a string: still waiting.
        (("BLPOP", "a", "b", "0"), [("MULTI",), ("RPUSH", "a", "q"), ("SET", "a", "s"),
                                     ("EXEC",)], None, None),
        # BLMOVE's destination of another type is answered, and the element stays.
        (("BLMOVE", "a", "d", "LEFT", "RIGHT", "0"), [("SET", "d", "s"), ("RPUSH", "a", "x")],
         WRONGTYPE, [b"x"]),
        (("BRPOPLPUSH", "a", "d", "0"), [("HSET", "d", "f", "v"), ("RPUSH", "a", "x")],
         WRONGTYPE, [b"x"]),
    ],
)  # fmt: skip
async def test_a_key_that_changes_type_while_a_client_waits(
    replicas: Replicas,
    autojump_clock: trio.testing.MockClock,
    blocked_on: str,
    command: tuple[str, ...],
    changes: list[tuple[str, ...]],
    reply: object,
    left: list[bytes] | None,
) -> None:
    waiting, writer = clients(replicas, blocked_on)
    admin = Client(waiting.backend, replicas.config)
    Listener(waiting, admin)

    async def change() -> int:
        await writer.pipeline(changes)
        await trio.sleep(1)
        # Still blocked (when `reply` is None): CLIENT UNBLOCK finds it waiting.
        return await admin.call("CLIENT", "UNBLOCK", waiting.ctx.client.id)  # type: ignore[return-value]

    unblocked, got = await blocked_reply(waiting, command, change)
    assert (got, unblocked) == (reply, 1 if reply is None else 0)
    if left is not None:
        assert await writer.call("LRANGE", "a", "0", "-1") == left
    assert len(waiting.backend.waiters) == 0


@pytest.mark.parametrize(
    ("timeout", "waited"), [("0x10", 16.0), ("1e3", 1000.0), ("0.0001", 0.001), ("0x1p-3", 0.125)]
)
async def test_odd_timeouts_wait_as_long_as_in_redis(
    replicas: Replicas, autojump_clock: trio.testing.MockClock, timeout: str, waited: float
) -> None:
    waiting, _ = clients(replicas, "follower")
    started = trio.current_time()
    assert await waiting.call("BLPOP", "q", timeout) is None
    assert trio.current_time() - started == pytest.approx(waited)
    assert await waiting.call("BLPOP", "q", "inf") == Err("ERR timeout is negative")


async def test_a_client_unblocked_when_its_turn_came_passes_the_turn_on(
    replicas: Replicas, autojump_clock: trio.testing.MockClock
) -> None:
    first, _ = clients(replicas, "leader")
    second, _ = clients(replicas, "leader")
    admin = Client(first.backend, replicas.config)
    Listener(first, second, admin)
    got: dict[str, object] = {}

    async def blocked(name: str, client: Client) -> None:
        got[name] = await client.call("BLPOP", "q", "100")  # a lost turn: nil at 100 s

    async with trio.open_nursery() as nursery:
        nursery.start_soon(blocked, "first", first)
        await trio.sleep(1)
        nursery.start_soon(blocked, "second", second)
        await trio.sleep(1)
        # The push wakes the first client; it is unblocked before it takes its turn.
        replies = await admin.pipeline(
            [("RPUSH", "q", "x"), ("CLIENT", "UNBLOCK", first.ctx.client.id)]
        )
        assert replies == [1, 1]
    assert got == {"first": None, "second": [b"q", b"x"]}
