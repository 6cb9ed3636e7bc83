"""The next membership change a group leader should make: a pure decision, one step at a time.

A group's leader compares the group's membership (as applied) with what the cluster wants
(the system group: its members, the nodes placement puts in this group, the nodes retired
from the cluster) and takes one step at a time, re-deciding after each applies:

1. a retired node still in the group is removed first (`force` when the operator forced
   its removal) -- a lost machine must leave every group promptly, live or dead;
2. a wanted node that is not a member joins as a learner;
3. a wanted learner is promoted once the core calls it caught up (`promotable`);
4. a member placement no longer wants (but still in the cluster) is removed, a learner at
   once, a voter only once every wanted node votes: add before remove, so a move never
   leaves the group with fewer voters than it should have.

When the node to remove is the leader itself, the step is a leadership transfer to the most
caught-up wanted voter that answered recently; the new leader then removes it (a leader can
remove itself, but handing over first keeps the group writable throughout).

Rules: no I/O and no clock; the core still refuses anything unsafe (one change at a time,
the live-quorum guard), so a refused step is simply retried later.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs

from seshat_trio.raft import ChangeKind, ConfigChange, MemberProgress, Membership


class StepKind(enum.Enum):
    CHANGE = "change"
    TRANSFER = "transfer"


@attrs.frozen(slots=True)
class Step:
    kind: StepKind
    change: ConfigChange | None = None  # for CHANGE
    target: int = 0  # for TRANSFER: the voter to hand leadership to
    force: bool = False
    why: str = ""

    def describe(self) -> str:
        if self.change is None:
            return f"transfer leadership to {self.target} ({self.why})"
        forced = ", forced" if self.force else ""
        return f"{self.change.kind.value} {self.change.node_id} ({self.why}{forced})"


@attrs.frozen(slots=True)
class _View:
    me: int
    membership: Membership
    progress: Mapping[int, MemberProgress]
    wanted: frozenset[int]
    live_ticks: int


def next_step(
    *,
    me: int,
    membership: Membership,
    progress: Mapping[int, MemberProgress],
    wanted: frozenset[int],
    retired: Mapping[int, bool],
    live_ticks: int,
) -> Step | None:
    """What leader `me` should do next; None when the group is as wanted (or must wait).

    `wanted`: the nodes that should vote in this group; `retired`: node -> forced, for
    nodes removed from the cluster; `live_ticks`: a member answered recently if within it.
    """
    view = _View(me, membership, progress, wanted, live_ticks)
    for node in sorted(membership.members & retired.keys()):
        return _remove(view, node, retired[node], "retired")
    for node in sorted(wanted - membership.members - retired.keys()):
        return _change(ChangeKind.ADD_LEARNER, node, "placed here")
    for node in sorted(membership.learners & wanted):
        pr = progress.get(node)
        if pr is not None and pr.promotable:
            return _change(ChangeKind.PROMOTE, node, "caught up")
    for node in sorted(membership.learners - wanted):
        return _remove(view, node, False, "not placed")
    if wanted <= membership.voters:
        for node in sorted(membership.voters - wanted):
            return _remove(view, node, False, "not placed")
    return None


def _change(kind: ChangeKind, node: int, why: str, force: bool = False) -> Step:
    return Step(StepKind.CHANGE, ConfigChange(kind, node), force=force, why=why)


def _remove(view: _View, node: int, force: bool, why: str) -> Step | None:
    if node != view.me:
        return _change(ChangeKind.REMOVE, node, why, force)
    target = successor(view.me, view.membership, view.progress, view.wanted, view.live_ticks)
    if target is None:
        # No voter to hand over to: remove ourselves (the core hands over on apply).
        others = view.membership.voters - {view.me}
        return _change(ChangeKind.REMOVE, node, why, force) if others else None
    return Step(StepKind.TRANSFER, target=target, why=f"before removing {view.me}: {why}")


def successor(
    me: int,
    membership: Membership,
    progress: Mapping[int, MemberProgress],
    wanted: frozenset[int],
    live_ticks: int,
) -> int | None:
    """The voter to hand leadership to: wanted ones first, recently heard, most caught up."""
    best: tuple[bool, int, int] | None = None
    choice = None
    for node in sorted(membership.voters - {me}):
        pr = progress.get(node)
        if pr is None or pr.heard_ticks_ago is None or pr.heard_ticks_ago >= live_ticks:
            continue
        rank = (node in wanted, pr.match, -node)
        if best is None or rank > best:
            best, choice = rank, node
    return choice
