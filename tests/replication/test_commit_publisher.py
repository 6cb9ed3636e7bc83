"""Commit publication (docs/raft.md, "Commit publication"): a leader does not broadcast a
commit move on its own; followers learn it from the next Append or heartbeat, or from the
node's CommitPublisher once the leader's Ready loop stayed idle for its delay."""

from __future__ import annotations

from pathlib import Path

import attrs
import trio
import trio.testing
from tests.replication.raft_cluster import FAST, Cluster, running, write

from seshat_trio.replication.commit_publisher import COMMIT_PUBLISH_DELAY_S, CommitPublisher

# Heartbeats once a second: within a test step only an Append or the publisher can carry
# a commit index to the followers.
SLOW_TICKS = attrs.evolve(FAST, tick_seconds=1.0)


@attrs.define(eq=False)
class FakeGroup:
    commit_publisher: CommitPublisher | None = None
    published_at: list[float] = attrs.field(factory=list)

    def publish_owed_commit(self) -> None:
        self.published_at.append(trio.current_time())


async def test_publishes_after_the_delay_unless_the_group_got_busy(
    clock: trio.testing.MockClock,
) -> None:
    publisher = CommitPublisher(delay=0.01)
    idle, busy = FakeGroup(), FakeGroup()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(publisher.run)
        start = trio.current_time()
        publisher.due(idle)
        publisher.due(busy)
        await trio.sleep(0.005)
        publisher.busy(busy)  # a Ready: its Append carried the commit
        await trio.sleep(0.05)
        assert idle.published_at == [start + 0.01]
        assert busy.published_at == []
        # A group that goes idle again later is published after its own delay.
        publisher.due(busy)
        again = trio.current_time()
        await trio.sleep(0.05)
        assert busy.published_at == [again + 0.01]
        assert len(idle.published_at) == 1
        nursery.cancel_scope.cancel()


async def test_the_delay_counts_from_not_before_when_that_is_later(
    clock: trio.testing.MockClock,
) -> None:
    publisher = CommitPublisher(delay=0.01)
    held, past = FakeGroup(), FakeGroup()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(publisher.run)
        start = trio.current_time()
        publisher.due(held, not_before=start + 0.03)  # a leader's hold ends then
        publisher.due(past, not_before=start - 1.0)
        await trio.sleep(0.1)
        assert held.published_at == [start + 0.04]
        assert past.published_at == [start + 0.01]
        nursery.cancel_scope.cancel()


async def test_followers_apply_a_write_within_the_delay_not_at_the_next_heartbeat(
    tmp_path: Path, clock: trio.testing.MockClock
) -> None:
    cluster = Cluster(tmp_path, SLOW_TICKS)
    async with running(cluster, 60):
        leader = await cluster.leader()
        await trio.sleep(1.5)  # past the first heartbeats; the NOOP is applied everywhere
        written_at = trio.current_time()
        index = await write(leader, b"k", b"v")
        followers = [n for n in cluster if n is not leader]
        await cluster.wait_applied(index, followers)
        assert trio.current_time() - written_at < 10 * COMMIT_PUBLISH_DELAY_S < 1.0


async def test_without_publication_the_next_append_or_heartbeat_carries_the_commit(
    tmp_path: Path, clock: trio.testing.MockClock
) -> None:
    cluster = Cluster(tmp_path, SLOW_TICKS, publish_commits=False)
    async with running(cluster, 60):
        leader = await cluster.leader()
        await trio.sleep(1.5)
        first = await write(leader, b"a", b"1")
        followers = [n for n in cluster if n is not leader]
        await trio.sleep(0.2)  # no heartbeat yet, no publisher: the followers hold `first`
        assert all(n.driver.applied_index == first - 1 for n in followers)
        second = await write(leader, b"b", b"2")  # its Append tells them `first` committed
        await cluster.wait_applied(first, followers)
        assert all(n.driver.applied_index < second for n in followers)
        await cluster.wait_applied(second, followers)  # the next heartbeat
