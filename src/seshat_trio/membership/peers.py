"""The transport follows the cluster's members: new ones are dialled, removed ones dropped.

The transport's peer set is every member but this node, at its recorded internal address,
plus every retired node that some group on this node still counts as a member: the
removal of a node from a group is a Raft change that may need its acknowledgement (a group
of two), and a retired leader hands over first, so peers keep talking to it until every
local group applied its removal. A member that this node's configuration lists in
`cluster.initial_members` keeps the configured address (operators and harnesses may route
a node's links their own way, e.g. through a relay).

The peer set is recomputed when the system group's members or retired nodes change and
after every reconciler pass (`refresh`, when a group applied a removal). The transport
accepts connections only from its peers, so a node is let in as soon as its addition
applies and cut off once no local group needs it.

A node that learns it was removed (its id is retired) says so in its log: it keeps
answering its groups (a member that missed the removal may need its vote) until stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from seshat_trio.config import Address, Config
from seshat_trio.logs import get_logger
from seshat_trio.membership.state import RETIRED, retired_addresses
from seshat_trio.replication.driver import RaftGroupDriver
from seshat_trio.system.layout import MEMBERS, layout_of
from seshat_trio.system.registry import SystemState
from seshat_trio.transport import Transport

log = get_logger(__name__)


class PeersFollower:
    def __init__(
        self,
        config: Config,
        transport: Transport,
        groups: Callable[[], Mapping[int, RaftGroupDriver]],
    ) -> None:
        self._node_id = config.node.id
        self._configured = {m.id: m.address for m in config.cluster.initial_members}
        self._transport = transport
        self._groups = groups
        self._members: dict[int, Address] | None = None
        self._retired: dict[int, Address] = {}
        self._peers: dict[int, Address] | None = None
        self._told_removed = False

    def __call__(self, state: SystemState, changed: frozenset[str]) -> None:
        """System machine subscriber."""
        if MEMBERS in changed:
            layout = layout_of(state)
            if layout is not None:
                self._members = {
                    m.node_id: self._configured.get(m.node_id) or Address.parse(m.raft_addr)
                    for m in layout.members
                }
        if RETIRED in changed:
            self._retired = retired_addresses(state)
            if self._node_id in self._retired and not self._told_removed:
                self._told_removed = True
                log.warning(
                    "node_removed",
                    detail="this node was removed from the cluster: its clients get errors "
                    "and it can be stopped (its id is never reused)",
                )
        self.refresh()

    def refresh(self) -> None:
        """Adopt the current peer set (a no-op when nothing changed)."""
        if self._members is None:
            return  # a joining node keeps the members its join returned until it knows
        in_groups: set[int] = set()
        for driver in self._groups().values():
            in_groups |= driver.membership.members
        peers = dict(self._members)
        for node_id, address in self._retired.items():
            if node_id in in_groups:
                peers[node_id] = self._configured.get(node_id) or address
        peers.pop(self._node_id, None)
        if peers == self._peers:
            return
        before = self._peers or {}
        self._peers = peers
        self._transport.update_peers(peers)
        added, dropped = sorted(peers.keys() - before.keys()), sorted(before.keys() - peers.keys())
        if before and (added or dropped):
            log.info("peers_changed", added=added, dropped=dropped, peers=sorted(peers))
