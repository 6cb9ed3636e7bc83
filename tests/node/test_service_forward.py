"""GroupService.forward: how a follower's forwarded request ends, for each transport outcome."""

from __future__ import annotations

from typing import Any, cast

import pytest
import trio
import trio.testing

from seshat_trio.config import Config, LimitsSection, NodeSection
from seshat_trio.errors import LeaderIsLocalError, OutcomeUnknownError, ServiceError
from seshat_trio.node.group_service import Forwarding, GroupService
from seshat_trio.transport import ForwardFailed, ForwardReply, ForwardRequest, PeerUnavailable

TIMEOUT_MS = 2_000


class FakeData:
    """The data group's driver as the service sees it: a leader id that may change."""

    group = 1
    transferee: int | None = None

    def __init__(self, leader_id: int | None) -> None:
        self.leader_id = leader_id
        self._changed = trio.Event()

    def elect(self, leader_id: int | None) -> None:
        self.leader_id = leader_id
        self._changed.set()
        self._changed = trio.Event()

    async def wait_changed(self) -> None:
        await self._changed.wait()


class FakeTransport:
    """Answers each forward with the next of `outcomes` (a reply payload or an exception)."""

    def __init__(self, *outcomes: bytes | BaseException) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[tuple[int, float]] = []

    async def forward(self, to: int, request: ForwardRequest, timeout: float) -> ForwardReply:
        self.calls.append((to, timeout))
        await trio.lowlevel.checkpoint()
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return ForwardReply(request.request_id, outcome)


async def make_service(
    nursery: trio.Nursery,
    data: FakeData,
    transport: FakeTransport,
) -> GroupService:
    config = Config(
        node=NodeSection(id=1),
        limits=LimitsSection(request_timeout_ms=TIMEOUT_MS),
    )
    forwarding = Forwarding(
        config, cast(Any, transport), lambda node, tls: f"127.0.0.1:{6378 + node}"
    )
    service = GroupService(
        config=config, driver=cast(Any, data), machine=cast(Any, None), forwarding=forwarding
    )
    await nursery.start(forwarding.batcher.run)  # sends the forwards (merged per pass)
    return service


SET = [(b"SET", b"k", b"v")]


async def test_a_known_leader_answers_directly(nursery: trio.Nursery) -> None:
    transport = FakeTransport(b"+OK\r\n")
    service = await make_service(nursery, FakeData(leader_id=2), transport)
    assert await service.forward(SET, 2) == b"+OK\r\n"
    ((to, timeout),) = transport.calls
    assert to == 2 and timeout == pytest.approx(TIMEOUT_MS / 1000, abs=0.1)


async def test_not_sent_waits_for_a_leader_change_then_retries(nursery: trio.Nursery) -> None:
    data = FakeData(leader_id=2)
    not_connected = PeerUnavailable(2, "not connected", maybe_delivered=False)
    transport = FakeTransport(not_connected, b"+OK\r\n")
    service = await make_service(nursery, data, transport)
    result: list[bytes] = []
    async with trio.open_nursery() as calls:

        async def run() -> None:
            result.append(await service.forward(SET, 2))

        calls.start_soon(run)
        await trio.testing.wait_all_tasks_blocked()
        assert result == []  # waiting for news about the leader
        data.elect(3)
    assert result == [b"+OK\r\n"]
    assert [to for to, _ in transport.calls] == [2, 3]
    assert transport.calls[1][1] <= TIMEOUT_MS / 1000  # the retry gets what is left


@pytest.mark.parametrize(
    ("failure", "error", "text"),
    [
        (PeerUnavailable(2, "broke", maybe_delivered=True), OutcomeUnknownError, "TIMEOUT"),
        (trio.TooSlowError(), OutcomeUnknownError, "TIMEOUT"),
        (ForwardFailed(2, "overloaded"), ServiceError, "ERR the leader could not execute"),
    ],
)
async def test_transport_failures_become_clear_errors(
    failure: BaseException, error: type[ServiceError], text: str, nursery: trio.Nursery
) -> None:
    service = await make_service(nursery, FakeData(leader_id=2), FakeTransport(failure))
    with pytest.raises(error) as info:
        await service.forward(SET, 2)
    assert info.value.message.startswith(text)


async def test_no_leader_within_the_deadline_is_an_error_never_a_hang(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    service = await make_service(nursery, FakeData(leader_id=None), FakeTransport())
    started = trio.current_time()
    with trio.fail_after(10), pytest.raises(ServiceError) as info:
        await service.forward(SET, 2)
    assert trio.current_time() - started == pytest.approx(TIMEOUT_MS / 1000)
    assert info.value.message.startswith(("NOLEADER", "TIMEOUT"))


MOVED = b"-TRYAGAIN leadership moved while the request was forwarded; it was not applied\r\n"


async def test_a_suffix_the_old_leader_did_not_run_goes_to_the_next_leader(
    nursery: trio.Nursery,
) -> None:
    data = FakeData(leader_id=2)
    transport = FakeTransport(b"+OK\r\n" + MOVED + MOVED, b":7\r\n+OK\r\n")
    service = await make_service(nursery, data, transport)
    commands = [(b"SET", b"a", b"1"), (b"INCR", b"n"), (b"SET", b"b", b"2")]
    result: list[bytes] = []
    async with trio.open_nursery() as calls:

        async def run() -> None:
            result.append(await service.forward(commands, 2))

        calls.start_soon(run)
        await trio.testing.wait_all_tasks_blocked()
        assert result == []  # the rest waits for the next leader
        data.elect(3)
    assert result == [b"+OK\r\n:7\r\n+OK\r\n"]
    assert [to for to, _ in transport.calls] == [2, 3]


async def test_leadership_coming_here_hands_back_what_ran(nursery: trio.Nursery) -> None:
    data = FakeData(leader_id=2)
    transport = FakeTransport(b"+OK\r\n" + MOVED)
    service = await make_service(nursery, data, transport)
    async with trio.open_nursery() as calls:

        async def run() -> None:
            with pytest.raises(LeaderIsLocalError) as info:
                await service.forward([(b"SET", b"a", b"1"), (b"SET", b"b", b"2")], 2)
            assert (info.value.payload, info.value.ran) == (b"+OK\r\n", 1)

        calls.start_soon(run)
        await trio.testing.wait_all_tasks_blocked()
        data.elect(1)  # this node
