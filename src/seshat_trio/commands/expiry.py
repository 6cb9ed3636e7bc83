"""Active expiry: the leader deletes expired keys in the background, a bounded batch a time.

Every `interval` seconds, for each data group it leads, a node takes up to `batch` keys whose
expiry has passed by its clock (from the state machine's index, earliest first) and
proposes one operation deleting them; the apply re-checks each key at the operation's time,
so a key set again meanwhile survives. The task waits for that operation before the next
cycle, so a slow log never accumulates duplicate proposals. Followers do nothing here: a
node's own clock never decides on its own that a key is gone.
"""

from __future__ import annotations

import trio

from seshat_trio.commands.context import Backend, GroupBackend
from seshat_trio.commands.data import PURGE
from seshat_trio.errors import ServiceError
from seshat_trio.kv.operations import Operation
from seshat_trio.logs import get_logger

log = get_logger(__name__)

INTERVAL_S = 0.1
BATCH = 20
PURGE_TIMEOUT_S = 5.0


async def purge_once(group: GroupBackend, now_ms: int, batch: int = BATCH) -> int:
    """One cycle for one group: propose the deletion of up to `batch` keys due at `now_ms`
    (this node's clock); returns how many."""
    if not group.is_leader():
        return 0
    keys = group.due_expiries(now_ms, batch)
    if not keys:
        return 0
    # A leader cut off from its quorum may never learn the fate of the proposal: give up
    # after a while and let the next cycle (or the next leader) try again.
    with trio.move_on_after(PURGE_TIMEOUT_S):
        try:
            await group.submit(Operation(now_ms, ((PURGE, *keys),)))
        except ServiceError as exc:  # leadership moved, or the outcome is unknown
            log.debug("active_expiry_failed", group=group.group, error=exc.message)
            return 0
        return len(keys)
    log.debug(
        "active_expiry_failed", group=group.group, error="the purge was not confirmed in time"
    )
    return 0


async def run_active_expiry(
    backend: Backend, interval: float = INTERVAL_S, batch: int = BATCH
) -> None:
    """Run forever (until cancelled): every `interval` seconds, one `purge_once` per data
    group this node replicates (one task for all groups)."""
    while True:
        await trio.sleep(interval)
        for group in backend.data_groups():
            await purge_once(group, backend.now_ms(), batch)
