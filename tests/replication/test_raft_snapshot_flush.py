"""A follower applies committed entries while a snapshot stream is being received.

The chunk receiver is a task of its own: it starts an install (`begin_install`) at the
stream's first chunk and stages each later one, while the Ready loop keeps applying the
committed entries the core hands out (heartbeats carry the commit index up to what the
follower holds, a newer leader replicates normally while an old stream is still staged, and a
Ready in progress applies its entries after its write). A FLUSHALL among them used to make
the store refuse the write (a clear during an install), which stopped the group.
"""

from __future__ import annotations

from pathlib import Path

import trio
import trio.testing
from tests.replication.raft_cluster import GROUP, Cluster, running, set_op, write

from seshat_trio.kv.operations import Operation, encode_operation
from seshat_trio.kv.state_machine import KvStateMachine
from seshat_trio.protocol import SimpleString
from seshat_trio.raft import SnapshotChunk
from seshat_trio.replication.snapshot import encode_header
from seshat_trio.storage import Store, encode_chunk, keys
from seshat_trio.storage.records import StoredValue, encode_stored_value


def op(*command: bytes) -> bytes:
    return encode_operation(Operation(time_ms=1_000, commands=(command,)))


async def test_follower_applies_flushall_while_a_snapshot_stream_is_staged(
    cluster: Cluster, clock: trio.testing.MockClock
) -> None:
    async with running(cluster, 30):
        leader = await cluster.leader()
        follower = cluster.other_than(leader)
        for i in range(5):
            last = await write(leader, b"k%d" % i, b"v")
        await cluster.wait_applied(last)
        # The first chunk of a stream reaches the follower; the rest is still on its way.
        meta = leader.driver._log_store.snapshot_meta()
        follower.driver.deliver(
            SnapshotChunk(
                group=GROUP,
                src=leader.node_id,
                dst=follower.node_id,
                term=leader.driver.status().term,
                meta=meta,
                offset=0,
                data=encode_header(leader.driver.applied_index),
                last=False,
            )
        )
        await trio.testing.wait_all_tasks_blocked()
        assert GROUP in follower.store._installing  # the install is staged
        assert await leader.driver.propose(op(b"flushall")) == (SimpleString("OK"),)
        last = await write(leader, b"after", b"flush")
        await cluster.wait_applied(last)  # the follower's group used to stop here
        assert GROUP in follower.store._installing  # still staged, untouched
        for node in cluster:
            assert node.data() == [(b"after", b"flush")]
            assert node.kv.key_count == 1
        # The group goes on replicating.
        last = await write(leader, b"later", b"x")
        await cluster.wait_applied(last)
        assert follower.kv.get(b"later") is not None


def test_state_machine_flush_during_install_then_finish_or_abort(tmp_path: Path) -> None:
    for finish in (False, True):
        store = Store.open(tmp_path / f"db{finish}")
        machine = KvStateMachine(store, GROUP)
        machine.apply([(1, set_op(b"k", b"v")), (2, set_op(b"j", b"w"))])
        with machine.begin_install() as installer:
            installer.add_chunk(
                encode_chunk(
                    [(keys.meta_suffix(b"snap"), encode_stored_value(StoredValue(0, b"s", 0)))]
                )
            )
            machine.apply([(3, op(b"flushall")), (4, set_op(b"n", b"1"))])
            assert machine.applied_index == 4
            assert [k for k, _ in store.iter_values(GROUP)] == [b"n"]
            assert machine.key_count == 1
            machine.apply([(5, op(b"flushdb")), (3, op(b"flushall"))])  # 3: no re-apply
            assert machine.applied_index == 5 and machine.key_count == 0
            if finish:
                installer.finish()
                machine.reload()
        expected = [b"snap"] if finish else []
        assert [k for k, _ in store.iter_values(GROUP)] == expected
        assert machine.key_count == len(expected)
        while store.sweep_garbage():
            pass
        stored = [k for k, _ in store._db.iterator(prefix=keys.values_prefix(GROUP))]
        assert len(stored) == len(expected)  # no generation left behind
        store.close()
