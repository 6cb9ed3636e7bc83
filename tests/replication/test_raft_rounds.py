"""`DriverSettings.one_round_in_flight` (nodes with several data groups): a leader holds new
proposals while its last round is uncommitted, and they share the next round's entry."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
import trio
import trio.testing
from tests.replication.raft_cluster import FAST, IDS, Cluster, running, set_op, write

from seshat_trio.errors import ServiceError
from seshat_trio.kv.operations import encode_batch
from seshat_trio.protocol import SimpleString
from seshat_trio.raft import AppendResp
from seshat_trio.replication.driver import PeerMessage

OK = (SimpleString("OK"),)


@pytest.mark.parametrize(("held", "entries"), [(True, 1), (False, 3)], ids=["held", "default"])
async def test_writes_behind_an_uncommitted_round_share_the_next_entry(
    tmp_path: Path, clock: trio.testing.MockClock, held: bool, entries: int
) -> None:
    cluster = Cluster(tmp_path, attrs.evolve(FAST, one_round_in_flight=held), merge=encode_batch)
    acks = {"lost": False}

    def drop(msg: PeerMessage) -> bool:
        return acks["lost"] and isinstance(msg, AppendResp)

    cluster.network.drop = drop
    async with running(cluster, 30):
        leader = await cluster.leader()
        await cluster.wait_applied(await write(leader, b"base", b"0"))
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
