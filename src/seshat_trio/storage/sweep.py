"""The garbage sweep: a node task that deletes garbage records in bounded steps.

Dropping a collection (DEL, expiry, an overwrite, RENAME) and clearing a group's values
(FLUSHALL, a snapshot install) only write a garbage record naming a LevelDB range
(docs/storage.md, "Garbage"); this task deletes those ranges, `step_keys` keys per write,
yielding to the event loop between steps, so no command waits for the deletion of a big
collection. It is purely local: the ranges hold records that no read can reach any more,
so when (or whether) a node sweeps changes no reply and no replica's state as any command
sees it.
"""

from __future__ import annotations

import trio

from seshat_trio.logs import get_logger
from seshat_trio.storage.errors import StorageError
from seshat_trio.storage.store import Store

log = get_logger(__name__)

STEP_KEYS = 1000
IDLE_S = 0.5


async def run_sweep(store: Store, step_keys: int = STEP_KEYS, idle_s: float = IDLE_S) -> None:
    """Run until cancelled: sweep while there is garbage, then look again every `idle_s`."""
    while True:
        try:
            swept = store.sweep_garbage(step_keys)
        except StorageError as exc:  # a full disk, say: garbage waits, nothing is lost
            log.warning("garbage_sweep_failed", error=str(exc))
            swept = 0
        await trio.sleep(0 if swept else idle_s)
