"""Leader balance: each data group is led by its preferred node while that node is able to.

A group's preferred leader is one of its voters, chosen by `system/placement.py` so that
preferences spread evenly over the nodes (with 3 nodes and 3 groups, one group each).
Every `interval` seconds this node looks at the groups it leads and hands each one it does
not prefer to the preferred node, if that node is connected and has replicated the whole
log (a leadership transfer to it then costs one round trip). So leaders spread out after
the first elections and move back when a failed node has healed and caught up. Transfers
only ever go to the preferred node: two nodes never pass a group back and forth.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import trio

from seshat_trio.logs import get_logger
from seshat_trio.node.group_service import GroupService
from seshat_trio.raft import NotLeader, Role
from seshat_trio.system.placement import preferred_leader

log = get_logger(__name__)

INTERVAL_S = 1.0


class LeaderBalancer:
    def __init__(
        self,
        node_id: int,
        groups: Sequence[GroupService],
        connected: Callable[[int], bool],
        interval: float = INTERVAL_S,
    ) -> None:
        self._node_id = node_id
        self._groups = groups
        self._connected = connected
        self._interval = interval

    async def run(self) -> None:
        while True:
            await trio.sleep(self._interval)
            self.balance_once()

    def balance_once(self) -> list[tuple[int, int]]:
        """Start the transfers due now; returns (group, target) of each one started."""
        started: list[tuple[int, int]] = []
        for group in self._groups:
            status = group.driver.status()
            if status.role is not Role.LEADER or group.driver.transferee is not None:
                continue
            target = preferred_leader(group.group, status.voters)
            if target is None or target == self._node_id or not self._connected(target):
                continue
            progress = status.peers.get(target)
            if progress is None or progress.match < status.last_index:
                continue
            try:
                group.driver.transfer_leadership(target)
            except (NotLeader, ValueError):  # lost leadership meanwhile, or not a voter
                continue
            log.info("leader_balance", group=group.group, term=status.term, target=target)
            started.append((group.group, target))
        return started
