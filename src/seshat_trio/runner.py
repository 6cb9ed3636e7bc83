"""The composition root: build one node from its configuration and run it until stopped.

The node is one Trio nursery that owns every task: the storage group committer, the
replication loop and the RESP listener (which owns one task per client). SIGINT/SIGTERM
stop it gracefully: stop accepting, finish requests in progress, flush, close the store.
"""

from __future__ import annotations

import signal
import time

import trio

from seshat_trio.config import Config
from seshat_trio.kv.state_machine import KvStateMachine
from seshat_trio.logs import get_logger
from seshat_trio.node.local_log import LocalLog
from seshat_trio.node.service import NodeService
from seshat_trio.node.stats import NodeStats
from seshat_trio.server.listener import RespListener
from seshat_trio.storage import GroupCommitter, StorageError, Store, WriteBatch

log = get_logger(__name__)

DATA_GROUP = 1
# In-flight requests get this long to finish after a stop signal.
DRAIN_SECONDS = 10.0


def run_node(config: Config) -> int:
    """Run a node in the foreground; returns the process exit code."""
    try:
        trio.run(serve_node, config)
    except StorageError as exc:
        # The store refused to open or to write: the message says why (disk full, a store
        # written by a newer version, ...); a traceback would only bury it.
        log.error("storage_error", error=str(exc))  # noqa: TRY400
        return 1
    return 0


async def serve_node(
    config: Config, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
) -> None:
    """Run until SIGINT/SIGTERM (or cancellation); reports the client port when serving."""
    data_dir = config.node.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    with Store.open(data_dir / "db") as store:
        stats = NodeStats(started_at=time.monotonic())
        machine = KvStateMachine(store, DATA_GROUP)
        committer = GroupCommitter(store)
        local_log = LocalLog(store, committer, machine, DATA_GROUP, config.raft.snapshot_entries)
        replayed = local_log.recover()
        log.info("recovered", applied=machine.applied_index, replayed=replayed)
        service = NodeService(config, machine, local_log, stats)
        listener = RespListener(config, service, stats)
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(committer.run)
                nursery.start_soon(local_log.run)
                port = await nursery.start(listener.run)
                task_status.started(port)
                async for signum in signals:
                    log.info("stopping", signal=signal.Signals(signum).name)
                    break
                listener.stop()
                with trio.move_on_after(DRAIN_SECONDS):
                    await listener.drained()
                nursery.cancel_scope.cancel()
        # Make every applied write durable before the store closes.
        store.write(WriteBatch(), sync=True)
    log.info("stopped")
