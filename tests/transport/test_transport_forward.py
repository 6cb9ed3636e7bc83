"""Forwarding RPC: request ids match replies under concurrency; failures are prompt and typed."""

import random

import pytest
import trio

from seshat_trio.transport import (
    ForwardFailed,
    ForwardReply,
    ForwardRequest,
    PeerUnavailable,
    TransportLimits,
)


def _request(rid: int) -> ForwardRequest:
    return ForwardRequest(rid, 2, ((b"SET", b"key%d" % rid, b"v"),), 1)


async def test_concurrent_forwards_get_their_own_replies(net) -> None:
    rng = random.Random(42)

    async def slow_echo(sender: int, request: ForwardRequest) -> ForwardReply:
        await trio.sleep(rng.uniform(0, 0.05))
        key = request.commands[0][1]
        return ForwardReply(request.request_id, b"%d:%s" % (sender, key))

    with trio.fail_after(15):
        nodes = await net.start_cluster([1, 2], on_forward=slow_echo)
        await net.wait_until(lambda: nodes[1].transport.peer_states()[2].connected)
        replies: dict[int, ForwardReply] = {}

        async def one(rid: int) -> None:
            replies[rid] = await nodes[1].transport.forward(2, _request(rid), timeout=5)

        async with trio.open_nursery() as nursery:
            for rid in range(100):
                nursery.start_soon(one, rid)
        assert replies == {rid: ForwardReply(rid, b"1:key%d" % rid) for rid in range(100)}


async def test_forward_to_a_dead_peer_fails_at_once(net) -> None:
    with trio.fail_after(10):
        nodes = await net.start_cluster([1, 2])
        nodes[2].stop()
        await net.wait_until(lambda: not nodes[1].transport.peer_states()[2].connected)
        start = trio.current_time()
        with pytest.raises(PeerUnavailable) as failure:
            await nodes[1].transport.forward(2, _request(1), timeout=5)
        assert not failure.value.maybe_delivered
        assert trio.current_time() - start < 0.5


async def test_pending_forward_fails_when_its_connection_breaks(net) -> None:
    entered = trio.Event()

    async def never_answers(sender: int, request: ForwardRequest) -> ForwardReply:
        entered.set()
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    with trio.fail_after(10):
        nodes = await net.start_cluster([1, 2], on_forward=never_answers)
        await net.wait_until(lambda: nodes[1].transport.peer_states()[2].connected)
        failure: list[PeerUnavailable] = []

        async def call() -> None:
            with pytest.raises(PeerUnavailable) as info:
                await nodes[1].transport.forward(2, _request(7), timeout=5)
            failure.append(info.value)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(call)
            await entered.wait()
            start = trio.current_time()
            nodes[2].stop()
        assert trio.current_time() - start < 1.0
        assert failure[0].maybe_delivered  # the request was written: outcome unknown


async def test_forward_timeout_raises_too_slow_and_late_reply_is_ignored(net) -> None:
    release = trio.Event()

    async def waits(sender: int, request: ForwardRequest) -> ForwardReply:
        if request.request_id == 1:
            await release.wait()
        return ForwardReply(request.request_id, b"r%d" % request.request_id)

    with trio.fail_after(10):
        nodes = await net.start_cluster([1, 2], on_forward=waits)
        await net.wait_until(lambda: nodes[1].transport.peer_states()[2].connected)
        with pytest.raises(trio.TooSlowError):
            await nodes[1].transport.forward(2, _request(1), timeout=0.1)
        release.set()
        # The late reply to request 1 must not be taken for anyone else's.
        reply = await nodes[1].transport.forward(2, _request(2), timeout=5)
        assert reply == ForwardReply(2, b"r2")
        # The same id may be reused once its first attempt is over.
        assert await nodes[1].transport.forward(2, _request(1), timeout=5) == ForwardReply(1, b"r1")


async def test_each_forward_times_out_at_its_own_deadline(net) -> None:
    # A later forward with a shorter timeout must not wait for an earlier one's deadline.
    async def never_answers(sender: int, request: ForwardRequest) -> ForwardReply:
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    with trio.fail_after(10):
        nodes = await net.start_cluster([1, 2], on_forward=never_answers)
        await net.wait_until(lambda: nodes[1].transport.peer_states()[2].connected)
        elapsed: dict[int, float] = {}

        async def call(rid: int, timeout: float) -> None:
            start = trio.current_time()
            with pytest.raises(trio.TooSlowError):
                await nodes[1].transport.forward(2, _request(rid), timeout=timeout)
            elapsed[rid] = trio.current_time() - start

        async with trio.open_nursery() as nursery:
            nursery.start_soon(call, 1, 1.5)
            await trio.sleep(0.05)
            nursery.start_soon(call, 2, 0.2)
        assert 0.2 <= elapsed[2] < 1.0
        assert elapsed[1] >= 1.5


async def test_handler_error_becomes_forward_failed(net) -> None:
    async def broken(sender: int, request: ForwardRequest) -> ForwardReply:
        raise RuntimeError("state machine exploded")

    with trio.fail_after(10):
        nodes = await net.start_cluster([1, 2], on_forward=broken)
        await net.wait_until(lambda: nodes[1].transport.peer_states()[2].connected)
        with pytest.raises(ForwardFailed, match="state machine exploded"):
            await nodes[1].transport.forward(2, _request(1), timeout=5)
        # The connection survives a failing handler.
        assert nodes[1].transport.peer_states()[2].reconnects == 0


async def test_duplicate_in_flight_request_id_is_refused(net) -> None:
    release = trio.Event()

    async def waits(sender: int, request: ForwardRequest) -> ForwardReply:
        await release.wait()
        return ForwardReply(request.request_id, b"")

    with trio.fail_after(10):
        nodes = await net.start_cluster([1, 2], on_forward=waits)
        await net.wait_until(lambda: nodes[1].transport.peer_states()[2].connected)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(nodes[1].transport.forward, 2, _request(5), 5)
            await trio.sleep(0.05)
            with pytest.raises(ValueError, match="already in flight"):
                await nodes[1].transport.forward(2, _request(5), timeout=5)
            release.set()


async def test_forward_to_a_non_peer_is_value_error(net) -> None:
    with trio.fail_after(5):
        node = await net.start_node(1)
        with pytest.raises(ValueError, match="not a peer"):
            await node.transport.forward(9, _request(1), timeout=1)


async def test_too_many_inflight_forwards_are_answered_busy(net) -> None:
    release = trio.Event()

    async def waits(sender: int, request: ForwardRequest) -> ForwardReply:
        await release.wait()
        return ForwardReply(request.request_id, b"done")

    limits = TransportLimits(max_inflight_forwards=2, backoff_initial=0.01, backoff_max=0.2)
    with trio.fail_after(10):
        nodes = await net.start_cluster([1, 2], on_forward=waits, limits=limits)
        await net.wait_until(lambda: nodes[1].transport.peer_states()[2].connected)
        results: dict[int, ForwardReply] = {}

        async def one(rid: int) -> None:
            results[rid] = await nodes[1].transport.forward(2, _request(rid), timeout=5)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(one, 1)
            nursery.start_soon(one, 2)
            await trio.sleep(0.05)
            with pytest.raises(ForwardFailed, match="too many"):
                await nodes[1].transport.forward(2, _request(3), timeout=5)
            release.set()
        assert results == {1: ForwardReply(1, b"done"), 2: ForwardReply(2, b"done")}


async def test_a_reply_above_the_frame_limit_fails_that_forward_and_keeps_the_link(net) -> None:
    limits = TransportLimits(max_frame_bytes=4_096, max_queue_bytes=1 << 20)

    async def echo_size(sender: int, request: ForwardRequest) -> ForwardReply:
        size = int(request.commands[0][1])
        return ForwardReply(request.request_id, b"x" * size)

    def sized(rid: int, size: int) -> ForwardRequest:
        return ForwardRequest(rid, 2, ((b"GET", b"%d" % size),), 1)

    with trio.fail_after(10):
        nodes = await net.start_cluster([1, 2], on_forward=echo_size, limits=limits)
        await net.wait_until(lambda: nodes[1].transport.peer_states()[2].connected)
        fits = limits.max_forward_payload_bytes
        assert (await nodes[1].transport.forward(2, sized(1, fits), timeout=5)).payload == (
            b"x" * fits
        )
        with pytest.raises(ForwardFailed, match="exceeds the frame limit"):
            await nodes[1].transport.forward(2, sized(2, 5_000), timeout=5)
        # The link was not dropped by a frame its receiver would refuse.
        assert (await nodes[1].transport.forward(2, sized(3, 10), timeout=5)).payload == b"x" * 10
        assert nodes[1].transport.peer_states()[2].reconnects == 0
