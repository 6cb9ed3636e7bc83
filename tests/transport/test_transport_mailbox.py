"""Mailbox over real loopback TCP: direct writes while the sender task is parked, and the
order of frames when the socket takes only part of one."""

from __future__ import annotations

import socket

import trio
import trio.testing
from tests.test_plain_socket import connected, receive_exactly

from seshat_trio.transport.connection import FramedStream, Mailbox
from seshat_trio.transport.outbox import Priority


def mailbox() -> Mailbox:
    return Mailbox(max_frames=1000, max_bytes=64 << 20, max_batch_bytes=1 << 20)


async def test_push_while_sender_parked_writes_without_a_scheduler_pass() -> None:
    async with connected() as (server, client), trio.open_nursery() as nursery:
        box = mailbox()
        nursery.start_soon(box.pump, FramedStream(server, 1 << 20), lambda batch: None)
        await trio.testing.wait_all_tasks_blocked()
        assert box.push(b"frame-1", Priority.RAFT)
        # Already on the wire: the peer reads it before this task ever yields.
        with socket.fromfd(client.socket.fileno(), socket.AF_INET, socket.SOCK_STREAM) as raw:
            assert raw.recv(100, socket.MSG_DONTWAIT) == b"frame-1"
        assert not len(box.outbox)
        # A tagged frame (a forward request a client waits on) goes through the queue.
        assert box.push(b"tagged", Priority.RELIABLE, tag=7)
        assert len(box.outbox) == 1
        assert await receive_exactly(client, 6) == b"tagged"
        nursery.cancel_scope.cancel()


async def test_a_direct_write_cut_short_keeps_push_order() -> None:
    frames = [b"A" * (8 << 20), b"small-1", b"B" * 100_000, b"small-2"]
    async with connected() as (server, client), trio.open_nursery() as nursery:
        box = mailbox()
        nursery.start_soon(box.pump, FramedStream(server, 1 << 20), lambda batch: None)
        await trio.testing.wait_all_tasks_blocked()
        for frame in frames:  # the first fills the socket buffer; the rest must queue behind
            assert box.push(frame, Priority.RAFT)
        assert len(box.outbox) == 3
        received = await receive_exactly(client, sum(map(len, frames)))
        nursery.cancel_scope.cancel()
    assert received == b"".join(frames)


async def test_a_failed_direct_write_queues_the_frame_for_the_sender_task() -> None:
    async with connected() as (server, _client):
        box = mailbox()
        failures: list[BaseException] = []

        async def pump() -> None:
            try:
                await box.pump(FramedStream(server, 1 << 20), lambda batch: None)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                failures.append(exc)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(pump)
            await trio.testing.wait_all_tasks_blocked()
            server._sock.close()  # the connection is gone under the parked sender
            assert box.push(b"lost?", Priority.RAFT)
            assert len(box.outbox) == 1  # queued: the sender task meets the failure
        assert failures
