"""A bounded queue of encoded frames for one connection, sans-IO.

Rules: bounded by frame count and bytes; pushing never blocks. When a push would exceed a
bound, victims are chosen by priority: HEARTBEAT frames first (oldest first, the incoming
frame counting as the newest), then PUBSUB frames (fire-and-forget messages), then RAFT
frames (oldest first: the freshest Raft traffic is the most useful), never RELIABLE frames
(forwarding: a client waits on them). A RELIABLE
push that cannot make room is refused. Every dropped frame is counted.
"""

from __future__ import annotations

import collections
import enum

import attrs


class Priority(enum.IntEnum):
    HEARTBEAT = 0  # Raft heartbeats: cheapest to lose, the next tick resends
    RAFT = 1  # other Raft messages: Raft tolerates loss, retries on its own
    RELIABLE = 2  # forwarding traffic: never evicted
    PUBSUB = 3  # pub/sub messages and counts: fire-and-forget, lost before Raft traffic


@attrs.define(slots=True)
class QueuedFrame:
    frame: bytes
    priority: Priority
    tag: int | None  # forward request id, so a waiting request can be found again


class Outbox:
    def __init__(self, max_frames: int, max_bytes: int) -> None:
        self._max_frames = max_frames
        self._max_bytes = max_bytes
        self._items: collections.deque[QueuedFrame] = collections.deque()
        self._bytes = 0
        self._counts = dict.fromkeys(Priority, 0)
        self.dropped = 0
        self.dropped_heartbeats = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def queued_bytes(self) -> int:
        return self._bytes

    def push(self, frame: bytes, priority: Priority, tag: int | None = None) -> bool:
        """Queue `frame`; False when it was dropped (or refused, for RELIABLE)."""
        size = len(frame)
        if size > self._max_bytes:
            self._count_drop(priority)
            return False
        while len(self._items) + 1 > self._max_frames or self._bytes + size > self._max_bytes:
            victim = self._victim_priority(priority)
            if victim is None:  # only RELIABLE frames queued and the newcomer is RELIABLE too
                return False
            if victim is priority and not self._counts[victim]:
                # The newcomer is the oldest (only) frame of the lowest evictable class.
                self._count_drop(priority)
                return False
            self._evict_oldest(victim)
        self._items.append(QueuedFrame(frame, priority, tag))
        self._bytes += size
        self._counts[priority] += 1
        return True

    def pop_batch(self, max_bytes: int) -> list[QueuedFrame]:
        """Oldest frames totalling at most `max_bytes` (always at least one if any)."""
        batch: list[QueuedFrame] = []
        total = 0
        while self._items and (not batch or total + len(self._items[0].frame) <= max_bytes):
            item = self._items.popleft()
            total += len(item.frame)
            self._bytes -= len(item.frame)
            self._counts[item.priority] -= 1
            batch.append(item)
        return batch

    def discard_tag(self, tag: int) -> bool:
        """Remove the queued RELIABLE frame tagged `tag` (a forward that gave up)."""
        for position, item in enumerate(self._items):
            if item.tag == tag:
                del self._items[position]
                self._bytes -= len(item.frame)
                self._counts[item.priority] -= 1
                return True
        return False

    def discard_reliable(self) -> list[int]:
        """Remove every RELIABLE frame (its connection broke); returns their tags."""
        kept = collections.deque(i for i in self._items if i.priority is not Priority.RELIABLE)
        tags = [i.tag for i in self._items if i.priority is Priority.RELIABLE and i.tag is not None]
        self._items = kept
        self._bytes = sum(len(i.frame) for i in kept)
        self._counts[Priority.RELIABLE] = 0
        return tags

    def _victim_priority(self, incoming: Priority) -> Priority | None:
        for candidate in (Priority.HEARTBEAT, Priority.PUBSUB, Priority.RAFT):
            if self._counts[candidate] or candidate is incoming:
                return candidate
        return None

    def _evict_oldest(self, priority: Priority) -> None:
        for position, item in enumerate(self._items):
            if item.priority is priority:
                del self._items[position]
                self._bytes -= len(item.frame)
                self._counts[priority] -= 1
                self._count_drop(priority)
                return

    def _count_drop(self, priority: Priority) -> None:
        self.dropped += 1
        if priority is Priority.HEARTBEAT:
            self.dropped_heartbeats += 1
