"""`DriverSettings.one_round_in_flight` (nodes with several data groups): a leader holds new
proposals while its last round is uncommitted, and they share the next round's entry; with
`hold_after_round` it keeps gathering for the committed round's duration (up to half a
tick) when writes were queued behind it or the round carried several."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import attrs
import pytest
import trio
import trio.testing
from tests.replication.raft_cluster import FAST, IDS, Cluster, Node, running, set_op, write

from seshat_trio.errors import ServiceError
from seshat_trio.kv.operations import encode_batch
from seshat_trio.protocol import SimpleString
from seshat_trio.raft import Append, AppendResp
from seshat_trio.replication.commit_publisher import COMMIT_PUBLISH_DELAY_S
from seshat_trio.replication.driver import DriverSettings, PeerMessage

OK = (SimpleString("OK"),)
# A multi-group node's leader: one round in flight, then a hold as long as that round.
HOLDING = attrs.evolve(FAST, one_round_in_flight=True, hold_after_round=1.0)


def _lost_acks(cluster: Cluster) -> dict[str, bool]:
    """A switch: while on, every AppendResp is dropped (the leader's round stays open)."""
    acks = {"lost": False}
    cluster.network.drop = lambda msg: acks["lost"] and isinstance(msg, AppendResp)
    return acks


@asynccontextmanager
async def _leader_with_lost_acks(
    tmp_path: Path, settings: DriverSettings
) -> AsyncIterator[tuple[Cluster, Node, dict[str, bool]]]:
    """A running cluster whose leader applied one write, and its `_lost_acks` switch."""
    cluster = Cluster(tmp_path, settings, merge=encode_batch)
    acks = _lost_acks(cluster)
    async with running(cluster, 30):
        leader = await cluster.leader()
        await cluster.wait_applied(await write(leader, b"base", b"0"))
        yield cluster, leader, acks


@pytest.mark.parametrize(("held", "entries"), [(True, 1), (False, 3)], ids=["held", "default"])
async def test_writes_behind_an_uncommitted_round_share_the_next_entry(
    tmp_path: Path, clock: trio.testing.MockClock, held: bool, entries: int
) -> None:
    settings = attrs.evolve(FAST, one_round_in_flight=held)
    async with _leader_with_lost_acks(tmp_path, settings) as (cluster, leader, acks):
        acks["lost"] = True  # the next round stays uncommitted
        first = leader.driver.propose(set_op(b"a", b"1"))
        await trio.testing.wait_all_tasks_blocked()
        in_flight = leader.driver.status().last_index
        later = []
        for i in range(3):  # each in a Ready loop pass of its own
            later.append(leader.driver.propose(set_op(b"b%d" % i, b"2")))
            await trio.testing.wait_all_tasks_blocked()
        assert leader.driver.status().last_index == in_flight + (0 if held else 3)
        assert not first.done and not any(pending.done for pending in later)
        acks["lost"] = False
        assert await first == OK
        assert [await pending for pending in later] == [OK] * 3
        assert leader.driver.status().last_index == in_flight + entries
        await cluster.wait_applied(leader.driver.applied_index)
        assert all(dict(node.data())[b"b2"] == b"2" for node in cluster)


async def test_held_writes_fail_as_not_proposed_when_leadership_is_lost(
    tmp_path: Path, clock: trio.testing.MockClock
) -> None:
    cluster = Cluster(tmp_path, attrs.evolve(FAST, one_round_in_flight=True), merge=encode_batch)
    async with running(cluster, 60):
        old = await cluster.leader()
        await cluster.wait_applied(await write(old, b"base", b"0"))
        cluster.network.isolated.add(old.node_id)
        in_flight = old.driver.propose(set_op(b"lost", b"x"))
        await trio.testing.wait_all_tasks_blocked()
        held = old.driver.propose(set_op(b"held", b"x"))
        new = await cluster.leader(set(IDS) - {old.node_id})
        await write(new, b"won", b"y")
        cluster.network.isolated.clear()
        for pending in (in_flight, held):
            with pytest.raises(ServiceError):
                await pending
        await cluster.wait_applied(new.driver.applied_index)
        assert all({k for k, _ in node.data()} == {b"base", b"won"} for node in cluster)


@pytest.mark.parametrize("factor", [1.0, 0.0], ids=["hold", "no-hold"])
async def test_writes_queued_behind_a_round_wait_its_duration_again(
    tmp_path: Path, clock: trio.testing.MockClock, factor: float
) -> None:
    settings = attrs.evolve(
        FAST, one_round_in_flight=True, hold_after_round=factor, tick_seconds=0.1
    )
    async with _leader_with_lost_acks(tmp_path, settings) as (_, leader, acks):
        acks["lost"] = True
        started = trio.current_time()
        first = leader.driver.propose(set_op(b"a", b"1"))
        await trio.testing.wait_all_tasks_blocked()
        in_flight = leader.driver.status().last_index
        later = [leader.driver.propose(set_op(b"b%d" % i, b"2")) for i in range(3)]
        await trio.sleep(0.02)  # the round lasts until the next heartbeat tick retries it
        acks["lost"] = False
        assert await first == OK
        committed = trio.current_time()
        while leader.driver.status().last_index == in_flight:
            await trio.sleep(0.001)
        proposed = trio.current_time()
        assert [await pending for pending in later] == [OK] * 3
        assert leader.driver.status().last_index == in_flight + 1  # one entry for all three
        round_s = committed - started
        assert round_s >= 0.02
        if factor:  # held for the round's duration, at most half a tick
            assert proposed - committed == pytest.approx(min(round_s, 0.05), abs=0.002)
        else:
            assert proposed - committed < 0.002


@pytest.mark.parametrize("writers", [1, 2], ids=["lone-client", "two-clients"])
async def test_a_round_with_nothing_queued_behind_it_is_held_after_unless_it_had_one_write(
    tmp_path: Path, clock: trio.testing.MockClock, writers: int
) -> None:
    """A lone client's next write comes after the reply: no hold. A round of several
    writes that commits with nothing queued carried every writer: the first one back
    waits for the others (the hold), instead of going alone in a round of one."""
    settings = attrs.evolve(HOLDING, tick_seconds=0.1)
    async with _leader_with_lost_acks(tmp_path, settings) as (_, leader, acks):
        acks["lost"] = True
        started = trio.current_time()
        firsts = [leader.driver.propose(set_op(b"a%d" % i, b"1")) for i in range(writers)]
        await trio.sleep(0.02)
        acks["lost"] = False
        assert [await pending for pending in firsts] == [OK] * writers
        at = trio.current_time()
        index = leader.driver.status().last_index
        second = leader.driver.propose(set_op(b"b", b"2"))
        await trio.testing.wait_all_tasks_blocked()
        if writers == 1:
            assert leader.driver.status().last_index == index + 1
            assert trio.current_time() == at
        else:
            assert leader.driver.status().last_index == index  # held
            while leader.driver.status().last_index == index:
                await trio.sleep(0.001)
            held = trio.current_time() - at
            assert held == pytest.approx(min(at - started, 0.05), abs=0.002)
        assert await second == OK


async def test_a_hold_ends_once_the_rounds_writers_are_queued_again(
    tmp_path: Path, clock: trio.testing.MockClock
) -> None:
    """The hold gathers the writers known to be active (the committed round's and those
    queued behind it): once that many writes are queued, they are proposed at once."""
    settings = attrs.evolve(HOLDING, tick_seconds=0.1)
    async with _leader_with_lost_acks(tmp_path, settings) as (_, leader, acks):
        acks["lost"] = True
        firsts = [leader.driver.propose(set_op(b"a%d" % i, b"1")) for i in range(2)]
        await trio.testing.wait_all_tasks_blocked()
        queued = leader.driver.propose(set_op(b"q", b"1"))  # behind the open round
        await trio.sleep(0.02)
        acks["lost"] = False
        assert [await pending for pending in firsts] == [OK, OK]
        at = trio.current_time()
        index = leader.driver.status().last_index
        back = [leader.driver.propose(set_op(b"b0", b"2"))]
        await trio.testing.wait_all_tasks_blocked()
        assert leader.driver.status().last_index == index  # 2 of the 3 known writers
        back.append(leader.driver.propose(set_op(b"b1", b"2")))
        await trio.testing.wait_all_tasks_blocked()
        assert leader.driver.status().last_index == index + 1  # all 3 in one entry
        assert trio.current_time() == at
        assert [await pending for pending in [queued, *back]] == [OK] * 3


@pytest.mark.parametrize("back", [False, True], ids=["nobody-back", "one-back"])
async def test_no_commit_is_published_during_the_hold_after_a_round(
    tmp_path: Path, clock: trio.testing.MockClock, back: bool
) -> None:
    """The round's writers are expected back within the hold, and the next round's Appends
    carry the commit: the publisher sends none meanwhile, whether a writer is queued yet or
    not. With nobody back by the hold's end, it publishes (the delay counted from then)."""
    settings = attrs.evolve(HOLDING, tick_seconds=0.1)
    async with _leader_with_lost_acks(tmp_path, settings) as (cluster, leader, acks):
        acks["lost"] = True
        started = trio.current_time()
        firsts = [leader.driver.propose(set_op(b"a%d" % i, b"1")) for i in range(2)]
        await trio.sleep(0.04)
        published: list[float] = []

        def record(msg: PeerMessage) -> bool:
            if isinstance(msg, Append) and msg.src == leader.node_id and not msg.entries:
                published.append(trio.current_time())
            return False

        cluster.network.drop = record  # and the acks get through
        assert [await pending for pending in firsts] == [OK, OK]
        committed = trio.current_time()
        hold = min(committed - started, 0.05)
        assert hold >= 0.04  # the next heartbeat tick is 0.1 s after the commit
        published.clear()  # the round's own retries (a tick's probes)
        later = leader.driver.propose(set_op(b"b", b"2")) if back else None
        await trio.sleep(0.035)  # past the publisher's delay, within the hold
        assert published == []
        if later is not None:
            assert await later == OK  # proposed at the hold's end, its Appends carry the commit
            assert published == []
        else:
            followers = [node for node in cluster if node is not leader]
            await cluster.wait_applied(leader.driver.applied_index, followers)
            assert published[0] == pytest.approx(
                committed + hold + COMMIT_PUBLISH_DELAY_S, abs=0.002
            )


async def test_a_leadership_transfer_proposes_the_held_writes_first(
    tmp_path: Path, clock: trio.testing.MockClock
) -> None:
    async with _leader_with_lost_acks(tmp_path, HOLDING) as (cluster, leader, acks):
        acks["lost"] = True
        first = leader.driver.propose(set_op(b"a", b"1"))
        await trio.testing.wait_all_tasks_blocked()
        in_flight = leader.driver.status().last_index
        held = leader.driver.propose(set_op(b"b", b"2"))  # behind the open round
        leader.driver.transfer_leadership(cluster.other_than(leader).node_id)
        assert leader.driver.status().last_index == in_flight + 1
        acks["lost"] = False
        assert (await first, await held) == (OK, OK)


class _LoopSteps(trio.abc.Instrument):
    """Counts the scheduler steps of the drivers' tasks (`run`: the Ready loop)."""

    def __init__(self) -> None:
        self.steps = 0

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        if task.name.endswith("RaftGroupDriver.run"):
            self.steps += 1


async def test_writes_held_behind_a_round_do_not_wake_the_ready_loop(
    tmp_path: Path, clock: trio.testing.MockClock
) -> None:
    """The first held write wakes the loop (into its hold); the ones after it wait for the
    round's commit without a Ready-loop pass each."""
    settings = attrs.evolve(FAST, one_round_in_flight=True)
    async with _leader_with_lost_acks(tmp_path, settings) as (_, leader, acks):
        acks["lost"] = True
        first = leader.driver.propose(set_op(b"a", b"1"))
        await trio.testing.wait_all_tasks_blocked()
        later = [leader.driver.propose(set_op(b"b", b"0"))]
        await trio.testing.wait_all_tasks_blocked()
        counter = _LoopSteps()
        trio.lowlevel.add_instrument(counter)
        try:
            for i in range(5):
                later.append(leader.driver.propose(set_op(b"b", b"%d" % (i + 1))))
                await trio.testing.wait_all_tasks_blocked()
        finally:
            trio.lowlevel.remove_instrument(counter)
        assert counter.steps == 0
        acks["lost"] = False
        assert await first == OK
        assert [await pending for pending in later] == [OK] * 6
