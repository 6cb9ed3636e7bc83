"""What the membership commands see of a node: its groups, the cluster's members, who is live.

`MembershipAdmin` is built by the runner (it reads the drivers, the system machine and the
transport) and handed to the node service; `SESHAT.MEMBER` uses it to check a removal and
to describe the cluster.

Liveness is this node's view: itself, and every peer its transport is connected to. A
removal is refused when, in some group the node votes in, the voters left would not
include a majority that is live by that view (unless forced), or when the group's current
voters lack a live majority: then the removal could not even commit (Raft needs a majority
of the configuration it changes), forced or not.

`describe()` renders `SESHAT.MEMBER LIST`: one line per fact, `key value key=value ...`,
like CLUSTER NODES, so that people read it in redis-cli and tools parse it by splitting:

    member 1 raft=127.0.0.1:7001 client=127.0.0.1:6001 live=1
    retired 3 forced=0
    replication-factor 3
    group 0 leader=1 term=2 commit=57 voters=1,2,4 learners=
    group 0 member 4 role=voter match=57 lag=0 bytes_behind=0 state=replicate snapshot=0
        snapshot_bytes_sent=- heard_ms=100   (one line)

Group lines cover the groups this node is a member of (with a replication factor below the
member count, not all). Progress lines (`group G member N ...`) come only from a group's
leader (only it knows); `seshat-trio member list` asks each group's leader for them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs

from seshat_trio.membership.state import replication_factor_of, retired_of
from seshat_trio.raft import MemberProgress, Role
from seshat_trio.raft.quorum import majority
from seshat_trio.replication.driver import GroupStatus, RaftGroupDriver
from seshat_trio.system.layout import NodeAddresses, layout_of
from seshat_trio.system.machine import SystemStateMachine
from seshat_trio.system.registry import SystemState
from seshat_trio.transport import Transport


@attrs.frozen(slots=True)
class RemovalProblem:
    group: int
    voters: int
    live: int
    # True: the group's current voters lack a live majority: no change can commit now.
    blocked: bool

    def describe(self) -> str:
        need = majority(self.voters)
        if self.blocked:
            return (
                f"group {self.group} has {self.live} live voter(s) of {self.voters} (a majority "
                f"needs {need}): no membership change can commit until voters come back"
            )
        return (
            f"group {self.group} would keep {self.live} live voter(s) of {self.voters} "
            f"(a majority needs {need})"
        )


class MembershipAdmin:
    def __init__(
        self,
        *,
        node_id: int,
        client_addr: str,
        machine: SystemStateMachine,
        groups: Callable[[], Mapping[int, RaftGroupDriver]],
        transport: Transport,
        tick_ms: int,
    ) -> None:
        self.node_id = node_id
        self._client_addr = client_addr
        self._machine = machine
        self._groups = groups
        self._transport = transport
        self._tick_ms = tick_ms

    def state(self) -> SystemState:
        return self._machine.state

    def members(self) -> tuple[NodeAddresses, ...]:
        layout = layout_of(self._machine.state)
        return () if layout is None else layout.members

    def is_member(self, node_id: int) -> bool:
        return any(m.node_id == node_id for m in self.members())

    def retired(self) -> dict[int, bool]:
        return retired_of(self._machine.state)

    def live(self) -> set[int]:
        states = self._transport.peer_states()
        return {self.node_id} | {peer for peer, state in states.items() if state.connected}

    def client_address(self, node_id: int) -> str | None:
        if node_id == self.node_id:
            return self._client_addr
        return self._transport.client_address(node_id)

    def member_groups(self) -> list[tuple[int, RaftGroupDriver]]:
        """The groups this node is a member of, by id (it has a driver of every data group:
        placement may put it in any; the others it knows nothing about)."""
        return [
            (group, driver)
            for group, driver in sorted(self._groups().items())
            if self.node_id in driver.membership.members and not driver.removed
        ]

    def removal_problems(self, node_id: int) -> list[RemovalProblem]:
        """Why removing `node_id` would stall some group (blocked ones first)."""
        live = self.live()
        problems = []
        for group, driver in self.member_groups():
            voters = driver.membership.voters
            if node_id not in voters:
                continue
            left = voters - {node_id}
            if len(voters & live) < majority(len(voters)):
                problems.append(RemovalProblem(group, len(voters), len(voters & live), True))
            elif left and len(left & live) < majority(len(left)):
                problems.append(RemovalProblem(group, len(left), len(left & live), False))
        return sorted(problems, key=lambda p: not p.blocked)

    def describe(self) -> str:
        state = self._machine.state
        live = self.live()
        lines = []
        for member in self.members():
            client = self.client_address(member.node_id) or "-"
            lines.append(
                f"member {member.node_id} raft={member.raft_addr} client={client} "
                f"live={int(member.node_id in live)}"
            )
        for node_id, forced in sorted(self.retired().items()):
            lines.append(f"retired {node_id} forced={int(forced)}")
        lines.append(f"replication-factor {replication_factor_of(state)}")
        for group, driver in self.member_groups():
            status = driver.status()
            lines.append(
                f"group {group} leader={status.leader_id or 0} term={status.term} "
                f"commit={status.commit} voters={_ids(status.voters)} "
                f"learners={_ids(status.learners)}"
            )
            if status.role is Role.LEADER:
                lines.extend(
                    self._progress_line(group, driver, p) for p in driver.member_progress()
                )
        return "\n".join(lines) + "\n"

    def _progress_line(self, group: int, driver: RaftGroupDriver, p: MemberProgress) -> str:
        behind = driver.log_bytes_after(p.match)
        heard = "-" if p.heard_ticks_ago is None else str(p.heard_ticks_ago * self._tick_ms)
        state = "leader" if p.node_id == driver.node_id else p.state.value
        sent = driver.snapshot_bytes_sent(p.node_id)
        return (
            f"group {group} member {p.node_id} role={'voter' if p.voter else 'learner'} "
            f"match={p.match} lag={p.lag} bytes_behind={'-' if behind is None else behind} "
            f"state={state} snapshot={p.snapshot_index} "
            f"snapshot_bytes_sent={'-' if sent is None else sent} heard_ms={heard}"
        )


def member_fields(name: str, status: GroupStatus) -> list[tuple[str, str]]:
    """INFO raft fields of a group's membership: its learners, and on its leader one
    `<name>_member<id>` line per member (role, match index, the next index it will be sent,
    entries behind commit, state)."""
    fields = [(f"{name}_learners", _ids(status.learners))]
    for peer, progress in sorted(status.peers.items()):
        role = "voter" if peer in status.voters else "learner"
        lag = max(0, status.commit - progress.match)
        fields.append(
            (
                f"{name}_member{peer}",
                f"role={role},match={progress.match},next={progress.next},lag={lag},"
                f"state={progress.state.value}",
            )
        )
    return fields


def _ids(ids: tuple[int, ...]) -> str:
    return ",".join(map(str, ids))
