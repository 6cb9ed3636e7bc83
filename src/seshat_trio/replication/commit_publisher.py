"""The node's one commit publisher: a leader's commit index reaches idle followers late, not never.

A leader does not broadcast a commit move on its own (docs/raft.md, "Commit publication"):
the next Append or heartbeat carries it. When a group's Ready loop goes idle while its
followers are owed a commit index, the driver says so here (`due`); if the loop stays idle
for `delay` seconds, this task asks it to publish (`publish_owed_commit`). A Ready handled
meanwhile (`busy`) withdraws the request: under load the next Append carries the commit
and no message of its own is sent. A leader holding writes after a round
(`hold_after_round` in replication/driver.py) has the delay counted from the hold's end:
its writers are expected back by then, and the next round's Appends carry the commit.
One task serves every group of the node, and wakes at most once per `delay` while writes
go on, not once per write; the timing is on `trio.sleep_until`, so a MockClock drives it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import trio

# Followers of a group that stopped taking writes apply its last ones this much later.
COMMIT_PUBLISH_DELAY_S = 0.01


class Publishes(Protocol):
    commit_publisher: CommitPublisher | None

    def publish_owed_commit(self) -> None: ...


class CommitPublisher:
    def __init__(self, delay: float = COMMIT_PUBLISH_DELAY_S) -> None:
        self._delay = delay
        self._due: dict[Publishes, float] = {}  # group -> when its loop went idle owing
        self._wakeup = trio.Event()

    def due(self, group: Publishes, not_before: float | None = None) -> None:
        """`group`'s Ready loop went idle with a commit index owed to a follower; with
        `not_before`, the delay counts from then if that is later."""
        now = trio.current_time()
        self._due[group] = now if not_before is None else max(now, not_before)
        self._wakeup.set()

    def busy(self, group: Publishes) -> None:
        """`group` handles a Ready: what it sends carries the commit, or it asks again."""
        self._due.pop(group, None)

    async def run(self) -> None:
        """Publish for every group idle for `delay` with a commit owed, until cancelled."""
        while True:
            await self._wakeup.wait()
            self._wakeup = trio.Event()
            while self._due:
                await trio.sleep_until(min(self._due.values()) + self._delay)
                now = trio.current_time()
                for group, since in list(self._due.items()):
                    if now >= since + self._delay:
                        del self._due[group]
                        group.publish_owed_commit()


def commit_publisher_for(groups: Iterable[Publishes]) -> CommitPublisher:
    """One publisher for the node's groups (their drivers), wired into each; run its `run`."""
    publisher = CommitPublisher()
    for group in groups:
        group.commit_publisher = publisher
    return publisher
