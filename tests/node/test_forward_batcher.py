"""ForwardBatcher: runs forwarded in one scheduler pass travel as one request, and each
caller gets exactly its own replies or its own copy of the failure."""

from __future__ import annotations

import itertools
import traceback

import pytest
import trio
import trio.testing

from seshat_trio.errors import OutcomeUnknownError
from seshat_trio.node.forward_batcher import ForwardBatcher
from seshat_trio.protocol import encode_replies
from seshat_trio.transport import ForwardReply, ForwardRequest, PeerUnavailable


class EchoLeader:
    """Answers each command with its key as a status reply; records every request."""

    def __init__(self) -> None:
        self.requests: list[tuple[int, ForwardRequest, float]] = []
        self.fail_with: Exception | None = None
        self.payload: bytes | None = None

    async def send(self, to: int, request: ForwardRequest, timeout: float) -> ForwardReply:
        self.requests.append((to, request, timeout))
        await trio.lowlevel.checkpoint()
        if self.fail_with is not None:
            raise self.fail_with
        payload = self.payload
        if payload is None:
            payload = b"".join(b"+%s\r\n" % command[1] for command in request.commands)
        return ForwardReply(request.request_id, payload)


def set_run(*keys: str) -> list[list[bytes]]:
    return [[b"SET", key.encode(), b"v"] for key in keys]


async def forward_all(
    batcher: ForwardBatcher,
    calls: list[tuple[int, list[list[bytes]], int]],
    timeout: float = 5,
    group: int = 1,
) -> list[bytes | Exception]:
    """Forward every call from its own task, all in the same scheduler pass."""
    results: list[bytes | Exception] = [b""] * len(calls)

    async def one(index: int, leader: int, run: list[list[bytes]], protocol: int) -> None:
        try:
            results[index] = await batcher.forward(leader, group, run, protocol, timeout)
        except Exception as exc:
            results[index] = exc

    async with trio.open_nursery() as nursery:
        for index, (leader, run, protocol) in enumerate(calls):
            nursery.start_soon(one, index, leader, run, protocol)
    return results


async def start_batcher(
    nursery: trio.Nursery, max_batch_commands: int = 64, max_batch_bytes: int = 1 << 20
) -> tuple[EchoLeader, ForwardBatcher]:
    leader = EchoLeader()
    batcher = ForwardBatcher(
        leader.send,
        itertools.count(1),
        max_batch_commands=max_batch_commands,
        max_batch_bytes=max_batch_bytes,
    )
    await nursery.start(batcher.run)
    return leader, batcher


@pytest.fixture
async def leader_and_batcher(nursery: trio.Nursery) -> tuple[EchoLeader, ForwardBatcher]:
    return await start_batcher(nursery)


async def test_runs_of_one_pass_share_one_request_and_get_their_own_replies(
    leader_and_batcher: tuple[EchoLeader, ForwardBatcher],
) -> None:
    leader, batcher = leader_and_batcher
    runs = [set_run("a", "b"), set_run("c"), set_run("d", "e", "f")]
    results = await forward_all(batcher, [(2, run, 2) for run in runs])
    assert results == [b"+a\r\n+b\r\n", b"+c\r\n", b"+d\r\n+e\r\n+f\r\n"]
    ((to, request, _),) = leader.requests
    assert to == 2
    # The runs go back to back, each in its own order (the tasks' start order may vary).
    sent = [command[1] for command in request.commands]
    assert sorted(sent) == [b"a", b"b", b"c", b"d", b"e", b"f"]
    for run in runs:
        keys = [command[1] for command in run]
        start = sent.index(keys[0])
        assert sent[start : start + len(keys)] == keys


async def test_leaders_and_protocols_are_never_mixed(
    leader_and_batcher: tuple[EchoLeader, ForwardBatcher],
) -> None:
    leader, batcher = leader_and_batcher
    calls = [(2, set_run("a"), 2), (3, set_run("b"), 2), (2, set_run("c"), 3), (2, set_run("d"), 2)]
    results = await forward_all(batcher, calls)
    assert results == [b"+a\r\n", b"+b\r\n", b"+c\r\n", b"+d\r\n"]
    groups = sorted(
        (to, request.protocol, sorted(c[1] for c in request.commands))
        for to, request, _ in leader.requests
    )
    assert groups == [(2, 2, [b"a", b"d"]), (2, 3, [b"c"]), (3, 2, [b"b"])]


async def test_data_groups_are_never_mixed(nursery: trio.Nursery) -> None:
    leader, batcher = await start_batcher(nursery)

    async def one(group: int, key: str) -> None:
        await batcher.forward(2, group, set_run(key), 2, 5)

    async with trio.open_nursery() as calls:
        for group, key in ((1, "a"), (2, "b"), (1, "c")):
            calls.start_soon(one, group, key)
    requests = sorted((r.group, sorted(c[1] for c in r.commands)) for _, r, _ in leader.requests)
    assert requests == [(1, [b"a", b"c"]), (2, [b"b"])]


async def test_merged_requests_stop_at_the_byte_budget(nursery: trio.Nursery) -> None:
    leader, batcher = await start_batcher(nursery, max_batch_bytes=170)
    big = [[b"SET", b"k%d" % i, b"v" * 20] for i in range(4)]  # 81 wire bytes each, budget 170
    results = await forward_all(batcher, [(2, [command], 2) for command in big])
    assert sorted(results) == sorted(b"+k%d\r\n" % i for i in range(4))  # type: ignore[type-var]
    assert sorted(len(request.commands) for _, request, _ in leader.requests) == [2, 2]


async def test_a_failed_request_fails_every_run_in_it(
    leader_and_batcher: tuple[EchoLeader, ForwardBatcher],
) -> None:
    leader, batcher = leader_and_batcher
    leader.fail_with = PeerUnavailable(2, "broke", maybe_delivered=True)
    results = await forward_all(batcher, [(2, set_run("a"), 2), (2, set_run("b"), 2)])
    assert len(leader.requests) == 1
    assert all(isinstance(r, PeerUnavailable) and r.maybe_delivered for r in results)


async def test_a_reply_that_does_not_match_is_an_unknown_outcome_for_all(
    leader_and_batcher: tuple[EchoLeader, ForwardBatcher],
) -> None:
    leader, batcher = leader_and_batcher
    leader.payload = encode_replies([1])  # one reply for two runs
    results = await forward_all(batcher, [(2, set_run("a"), 2), (2, set_run("b"), 2)])
    for result in results:
        assert isinstance(result, OutcomeUnknownError)
        assert result.message.startswith("TIMEOUT")


async def test_the_request_is_bounded_by_its_earliest_deadline(
    autojump_clock: trio.testing.MockClock, leader_and_batcher: tuple[EchoLeader, ForwardBatcher]
) -> None:
    leader, batcher = leader_and_batcher
    async with trio.open_nursery() as nursery:
        nursery.start_soon(batcher.forward, 2, 1, set_run("a"), 2, 5.0)
        nursery.start_soon(batcher.forward, 2, 1, set_run("b"), 2, 1.5)
    ((_, _, timeout),) = leader.requests
    assert timeout == pytest.approx(1.5)


async def test_merged_requests_stop_at_the_command_cap(nursery: trio.Nursery) -> None:
    # Replies may carry values: a batch holds at most LimitsSection.max_forward_commands.
    leader, batcher = await start_batcher(nursery, max_batch_commands=4)
    results = await forward_all(batcher, [(2, set_run(f"k{i}"), 2) for i in range(6)])
    assert sorted(results) == sorted(b"+k%d\r\n" % i for i in range(6))  # type: ignore[type-var]
    assert sorted(len(request.commands) for _, request, _ in leader.requests) == [2, 4]


async def test_empty_arguments_are_not_free(nursery: trio.Nursery) -> None:
    leader, batcher = await start_batcher(nursery, max_batch_bytes=60)
    results = await forward_all(batcher, [(2, [[b"SET", b"", b""]], 2) for _ in range(2)])
    assert results == [b"+\r\n", b"+\r\n"]
    assert len(leader.requests) == 2  # 3 x 16 + 8 = 56 wire bytes each, budget 60


async def test_each_caller_raises_the_failure_afresh(
    leader_and_batcher: tuple[EchoLeader, ForwardBatcher],
) -> None:
    leader, batcher = leader_and_batcher
    leader.fail_with = PeerUnavailable(2, "broke", maybe_delivered=True)
    depths: list[int] = []

    async def call(key: str) -> None:
        try:
            await batcher.forward(2, 1, set_run(key), 2, 5)
        except PeerUnavailable as exc:
            depths.append(len(traceback.extract_tb(exc.__traceback__)))

    async with trio.open_nursery() as nursery:
        for key in "abcde":
            nursery.start_soon(call, key)
    assert len(leader.requests) == 1
    assert len(set(depths)) == 1  # no caller's traceback carries the others' frames


async def test_stopping_fails_queued_and_in_flight_runs_with_their_true_outcome() -> None:
    sent = trio.Event()

    async def hangs(to: int, request: ForwardRequest, timeout: float) -> ForwardReply:
        sent.set()
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    batcher = ForwardBatcher(hangs, itertools.count(1), max_batch_commands=64)
    outcomes: list[Exception] = []

    async def call(key: str) -> None:
        try:
            await batcher.forward(2, 1, set_run(key), 2, 5)
        except Exception as exc:
            outcomes.append(exc)

    async with trio.open_nursery() as outer, trio.open_nursery() as inner:
        await inner.start(batcher.run)
        outer.start_soon(call, "in-flight")
        await sent.wait()

        async def queue_while_stopping() -> None:
            inner.cancel_scope.cancel()  # the batcher stops at its next checkpoint...
            await call("queued")  # ...after this run was queued (before any checkpoint)

        outer.start_soon(queue_while_stopping)
    in_flight = [o for o in outcomes if isinstance(o, OutcomeUnknownError)]
    queued = [o for o in outcomes if isinstance(o, PeerUnavailable)]
    assert len(in_flight) == 1 and in_flight[0].message.startswith("TIMEOUT")
    assert len(queued) == 1 and not queued[0].maybe_delivered
    # Stopped: nothing waits forever on a batcher that no longer runs.
    with pytest.raises(PeerUnavailable) as info:
        await batcher.forward(2, 1, set_run("late"), 2, 5)
    assert not info.value.maybe_delivered
