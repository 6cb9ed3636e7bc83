"""Sans-IO parts of the sender: the bounded outbox's drop policy and the reconnect backoff."""

import random

from hypothesis import given
from hypothesis import strategies as st

from seshat_trio.transport.backoff import Backoff
from seshat_trio.transport.outbox import Outbox, Priority

HB, RAFT, REL = Priority.HEARTBEAT, Priority.RAFT, Priority.RELIABLE


def _frames(outbox: Outbox) -> list[bytes]:
    return [item.frame for item in outbox.pop_batch(1 << 30)]


def test_full_queue_drops_heartbeats_first_then_oldest_raft() -> None:
    box = Outbox(max_frames=3, max_bytes=1000)
    assert box.push(b"a1", RAFT)
    assert box.push(b"h1", HB)
    assert box.push(b"a2", RAFT)
    assert box.push(b"a3", RAFT)  # evicts h1
    assert (box.dropped, box.dropped_heartbeats) == (1, 1)
    assert not box.push(b"h2", HB)  # the newcomer is the only heartbeat: it goes
    assert box.push(b"a4", RAFT)  # evicts the oldest Raft frame, a1
    assert (box.dropped, box.dropped_heartbeats) == (3, 2)
    assert _frames(box) == [b"a2", b"a3", b"a4"]


def test_pubsub_frames_go_after_heartbeats_and_before_raft_frames() -> None:
    box = Outbox(max_frames=3, max_bytes=1000)
    assert box.push(b"p1", Priority.PUBSUB)
    assert box.push(b"h1", HB)
    assert box.push(b"a1", RAFT)
    assert box.push(b"a2", RAFT)  # evicts h1
    assert box.push(b"a3", RAFT)  # evicts p1: a message is worth less than Raft traffic
    assert not box.push(b"p2", Priority.PUBSUB)  # never evicts Raft traffic itself
    assert _frames(box) == [b"a1", b"a2", b"a3"]


def test_reliable_frames_are_never_evicted_and_refused_when_no_room() -> None:
    box = Outbox(max_frames=2, max_bytes=1000)
    assert box.push(b"f1", REL, tag=1)
    assert box.push(b"a1", RAFT)
    assert box.push(b"f2", REL, tag=2)  # evicts a1
    assert not box.push(b"a2", RAFT)  # nothing evictable but itself
    assert not box.push(b"f3", REL, tag=3)  # refused, not counted as a drop
    assert box.dropped == 2
    assert box.discard_tag(1)
    assert not box.discard_tag(1)
    assert _frames(box) == [b"f2"]


def test_byte_bound_and_oversized_frame() -> None:
    box = Outbox(max_frames=100, max_bytes=10)
    assert not box.push(b"x" * 11, RAFT)
    assert box.push(b"x" * 6, RAFT)
    assert box.push(b"y" * 6, RAFT)  # evicts the first to stay within 10 bytes
    assert box.queued_bytes == 6
    assert box.dropped == 2


def test_discard_reliable_returns_tags_and_keeps_raft() -> None:
    box = Outbox(max_frames=10, max_bytes=1000)
    box.push(b"f1", REL, tag=7)
    box.push(b"a1", RAFT)
    box.push(b"f2", REL, tag=8)
    assert box.discard_reliable() == [7, 8]
    assert box.queued_bytes == 2
    assert _frames(box) == [b"a1"]


def test_pop_batch_respects_max_bytes_but_returns_at_least_one() -> None:
    box = Outbox(max_frames=10, max_bytes=1000)
    for frame in (b"x" * 50, b"y" * 30, b"z" * 30):
        box.push(frame, RAFT)
    assert [len(i.frame) for i in box.pop_batch(20)] == [50]
    assert [len(i.frame) for i in box.pop_batch(60)] == [30, 30]
    assert box.pop_batch(60) == []


ops = st.lists(st.tuples(st.sampled_from(Priority), st.integers(1, 40)), max_size=60)


@given(ops, st.integers(1, 8), st.integers(40, 200))
def test_bounds_and_accounting_hold_for_any_sequence(
    pushes: list[tuple[Priority, int]], max_frames: int, max_bytes: int
) -> None:
    box = Outbox(max_frames, max_bytes)
    refused_reliable = 0
    for n, (priority, size) in enumerate(pushes):
        accepted = box.push(bytes([n % 256]) * size, priority, tag=n)
        refused_reliable += not accepted and priority is REL
        assert len(box) <= max_frames
        assert box.queued_bytes <= max_bytes
    remaining = box.pop_batch(1 << 30)
    assert len(remaining) + box.dropped + refused_reliable == len(pushes)
    # Reliable frames are never evicted: any accepted one is still queued.
    kept_tags = {item.tag for item in remaining}
    assert sum(p is REL for p, _ in pushes) == refused_reliable + sum(
        item.priority is REL for item in remaining
    )
    assert len(kept_tags) == len(remaining)


def test_backoff_doubles_to_the_cap_with_jitter_and_resets() -> None:
    backoff = Backoff(random.Random(7), initial=0.05, maximum=1.0)
    ceilings = [0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    delays = [backoff.next_delay() for _ in ceilings]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling
    assert len(set(delays)) == len(delays)  # jittered, not a fixed schedule
    backoff.reset()
    assert backoff.next_delay() <= 0.05


def test_backoff_is_deterministic_for_a_seed() -> None:
    first = Backoff(random.Random(3), 0.05, 1.0)
    second = Backoff(random.Random(3), 0.05, 1.0)
    assert [first.next_delay() for _ in range(5)] == [second.next_delay() for _ in range(5)]
