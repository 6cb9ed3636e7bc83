"""Found the cluster's layout: the first leader of group 0 proposes it once."""

from __future__ import annotations

from seshat_trio.errors import ServiceError
from seshat_trio.logs import get_logger
from seshat_trio.raft import NotLeader, Role
from seshat_trio.replication.driver import RaftGroupDriver
from seshat_trio.storage import SYSTEM_GROUP
from seshat_trio.system.layout import ClusterLayout, encode_bootstrap, layout_of
from seshat_trio.system.machine import SystemStateMachine

log = get_logger(__name__)


async def bootstrap_system_group(
    driver: RaftGroupDriver, machine: SystemStateMachine, layout: ClusterLayout
) -> None:
    """Propose the initial layout once this node leads group 0 and finds none applied.

    Runs until the layout is applied (by anyone); several nodes may race through a
    leadership change and propose it twice, which applies as a no-op the second time.
    """
    while layout_of(machine.state) is None:
        if driver.role is Role.LEADER:
            try:
                await driver.read_barrier()  # everything committed before us is applied
                if layout_of(machine.state) is None:
                    replies = await driver.propose(encode_bootstrap(layout))
                    log.info("system_bootstrap", group=SYSTEM_GROUP, taken=replies)
            except (NotLeader, ServiceError) as exc:
                log.info("system_bootstrap_retry", reason=str(exc))
        await driver.wait_changed()
