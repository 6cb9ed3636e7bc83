"""Found cluster state once: the first leader of group 0 proposes it (layout, ACL users)."""

from __future__ import annotations

from collections.abc import Callable

from seshat_trio.errors import ServiceError
from seshat_trio.logs import get_logger
from seshat_trio.raft import NotLeader, Role
from seshat_trio.replication.driver import RaftGroupDriver
from seshat_trio.storage import SYSTEM_GROUP
from seshat_trio.system.layout import ClusterLayout, encode_bootstrap, layout_of
from seshat_trio.system.machine import SystemStateMachine
from seshat_trio.system.registry import SystemState

log = get_logger(__name__)


async def propose_until_applied(
    driver: RaftGroupDriver,
    machine: SystemStateMachine,
    applied: Callable[[SystemState], bool],
    op: bytes,
    event: str,
) -> None:
    """Propose `op` whenever this node leads group 0 and `applied(state)` is still false.

    Runs until it holds (by anyone's proposal); several nodes may race through a leadership
    change and propose twice, so `op` must apply as a no-op once its state exists.
    """
    while not applied(machine.state):
        if driver.role is Role.LEADER:
            try:
                await driver.read_barrier()  # everything committed before us is applied
                if not applied(machine.state):
                    replies = await driver.propose(op)
                    log.info(event, group=SYSTEM_GROUP, taken=replies)
            except (NotLeader, ServiceError) as exc:
                log.info(f"{event}_retry", reason=str(exc))
        await driver.wait_changed()


async def bootstrap_system_group(
    driver: RaftGroupDriver, machine: SystemStateMachine, layout: ClusterLayout
) -> None:
    """Propose the initial layout once this node leads group 0 and finds none applied."""
    await propose_until_applied(
        driver,
        machine,
        lambda state: layout_of(state) is not None,
        encode_bootstrap(layout),
        "system_bootstrap",
    )
