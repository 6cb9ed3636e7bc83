"""Membership plans for the simulator: join, remove (the leader too), replace.

A plan is a short list of steps (add a learner, promote it, move leadership away, remove
a voter, kill a node for good) run one at a time through whichever node leads. A step
is retried every few milliseconds until the current leader's applied membership shows it
done: a proposal dies with a crashed or deposed leader, and the core refuses a change
while another is unapplied, before the leader committed in its term, for a learner that
is not caught up, or when the new voters would lack a live quorum.

Faults strike *inside* the steps, not only between them: after each proposal (or
transfer) a strike may crash, cut off or pause the leader, the node the change is about,
or any member, a few milliseconds later -- before the CONFIG entry commits, between its
commit and its apply, during the transfer -- and a learner that streams a snapshot may
lose its stream (or the leader may die) mid-transfer. Crashed nodes come back and cut-off
nodes reconnect after a while, so plans move on; the safety invariants hold throughout.

Rules:
- One plan at a time; a plan that does not finish within `plan_timeout_ms` is dropped
  (faults can stall it); the cluster must stay safe in whatever state it is left.
- Voters stay within [min_voters, max_voters]; new nodes take fresh ids (never reused).
- A node killed for good (the "replace" plan) stays down until its removal is applied
  or the nemesis heals; once removed it may come back unaware of it, as a zombie that
  must not disrupt the group.
- Every decision draws from the nemesis's generator.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import attrs

from seshat_trio.raft import (
    ChangeKind,
    ConfigChange,
    ConfigChangeRejected,
    LeadershipTransferInProgress,
    Membership,
    NotLeader,
)
from seshat_trio.testing.cluster import Cluster
from seshat_trio.testing.driver import SimNode


@attrs.frozen(slots=True)
class ReconfigParams:
    min_voters: int = 1
    max_voters: int = 7
    #: Nodes the group may have at once (members, zombies and killed nodes included).
    max_nodes: int = 9
    step_min_ms: float = 5.0
    step_max_ms: float = 30.0
    plan_timeout_ms: float = 3000.0
    #: Probability that a proposal or transfer is followed by a strike.
    strike_probability: float = 0.5
    #: Probability that a change skips the live-quorum guard (`force=True`).
    force_probability: float = 0.1
    #: Start the next plan as soon as one ends (membership campaigns).
    back_to_back: bool = False


@attrs.frozen(slots=True)
class _Change:
    """One membership change; `transfer_first`: move leadership off a leader to remove."""

    change: ConfigChange
    transfer_first: bool = False

    def done(self, membership: Membership) -> bool:
        return change_done(self.change, membership)


@attrs.frozen(slots=True)
class _Kill:
    """Crash `node` for good (a lost machine) until its removal or the final heal."""

    node: int


_Step = _Change | _Kill


@attrs.define
class _Plan:
    name: str
    steps: list[_Step]
    deadline: float
    struck_snapshot: bool = False


class Reconfigurer:
    """Runs membership plans against a simulated cluster, one at a time."""

    def __init__(self, cluster: Cluster, rng: random.Random, params: ReconfigParams) -> None:
        self.cluster = cluster
        self.rng = rng
        self.params = params
        self.plan: _Plan | None = None
        self.running = False
        #: Nodes killed for good: the nemesis must not restart them.
        self.dead: set[int] = set()
        self.completed: dict[str, int] = {}
        self.strikes = 0

    # --- lifecycle -----------------------------------------------------------------

    def run(self) -> None:
        """Start stepping (plans then start back to back if `params.back_to_back`)."""
        if not self.running:
            self.running = True
            self._schedule()

    def start_plan(self) -> str | None:
        """Start a plan fitting the current membership; None if busy or none fits."""
        if self.plan is not None:
            return None
        leader = self.cluster.leader()
        if leader is None or leader.core is None:
            return None
        plan = self._choose(leader, leader.core.membership)
        if plan is None:
            return None
        self.plan = plan
        self.run()
        return f"plan {plan.name}: {_describe(plan.steps)}"

    def stop(self) -> None:
        self.running = False
        self.plan = None

    def _schedule(self) -> None:
        p = self.params
        self.cluster.schedule(self.rng.uniform(p.step_min_ms, p.step_max_ms), self._step)

    # --- choosing a plan -------------------------------------------------------------

    def _choose(self, leader: SimNode, m: Membership) -> _Plan | None:
        p = self.params
        voters, learners = sorted(m.voters), sorted(m.learners)
        room = len(self.cluster.nodes) - self._gone() < p.max_nodes
        options: list[tuple[str, Callable[[], list[_Step]]]] = []
        if room and len(voters) < p.max_voters:
            options.append(("join", lambda: self._join(promote=True)))
        if room and not learners:
            options.append(("add-learner", lambda: self._join(promote=False)))
        if learners and len(voters) < p.max_voters:
            options.append(("promote", lambda: [_Change(_promote(learners[0]))]))
        if learners:
            options.append(("remove-learner", lambda: [_Change(_remove(learners[-1]))]))
        if len(voters) > p.min_voters:
            options.append(("remove", lambda: [self._removal(leader, voters)]))
        if room and len(voters) >= 3:
            options.append(("replace", lambda: self._replace(leader, voters)))
        if not options:
            return None
        name, build = self.rng.choice(options)
        return _Plan(name, build(), self.cluster.now + p.plan_timeout_ms)

    def _gone(self) -> int:
        return sum(1 for node in self.cluster.nodes.values() if node.removed)

    def _join(self, *, promote: bool) -> list[_Step]:
        joiner = self.cluster.add_node().id
        steps: list[_Step] = [_Change(ConfigChange(ChangeKind.ADD_LEARNER, joiner))]
        if promote:
            steps.append(_Change(_promote(joiner)))
        return steps

    def _pick_voter(self, leader: SimNode, voters: list[int], leader_odds: float) -> int:
        return leader.id if self.rng.random() < leader_odds else self.rng.choice(voters)

    def _removal(self, leader: SimNode, voters: list[int]) -> _Change:
        victim = self._pick_voter(leader, voters, 0.5)
        # Leaders usually hand over first; the rest remove themselves (and step down).
        return _Change(_remove(victim), transfer_first=self.rng.random() < 0.6)

    def _replace(self, leader: SimNode, voters: list[int]) -> list[_Step]:
        victim = self._pick_voter(leader, voters, 0.3)
        return [_Kill(victim), *self._join(promote=True), _Change(_remove(victim))]

    # --- running ---------------------------------------------------------------------

    def _step(self) -> None:
        if not self.running:
            return
        plan = self.plan
        if plan is not None:
            if self.cluster.now > plan.deadline:
                self.cluster.trace(0, f"reconfig: plan {plan.name} abandoned")
                self.completed["abandoned"] = self.completed.get("abandoned", 0) + 1
                self.plan = None
            else:
                self._advance(plan)
        elif self.params.back_to_back and (started := self.start_plan()) is not None:
            self.cluster.trace(0, f"reconfig: {started}")
        self._schedule()

    def _advance(self, plan: _Plan) -> None:
        step = plan.steps[0]
        if isinstance(step, _Kill):
            node = self.cluster.nodes[step.node]
            node.crash()
            self.dead.add(step.node)
            self.cluster.trace(0, f"reconfig: kill node {step.node} for good")
            self._next(plan)
            return
        leader = self.cluster.leader()
        if leader is None or leader.core is None:
            return
        core = leader.core
        if step.done(core.membership):
            self._next(plan)
            return
        self._maybe_strike_snapshot(plan, leader, step.change.node_id)
        change = step.change
        try:
            if (
                change.kind is ChangeKind.REMOVE
                and change.node_id == leader.id
                and (step.transfer_first)
            ):
                target = self._transfer_target(leader)
                if target is None:
                    return
                core.transfer_leadership(target)
                what = f"transfer leadership {leader.id} -> {target} before removing it"
            else:
                force = self.rng.random() < self.params.force_probability
                index = core.change_membership(change, force=force)
                what = f"propose {change.kind.value} {change.node_id} at {index}" + (
                    " (forced)" if force else ""
                )
        except (NotLeader, LeadershipTransferInProgress, ConfigChangeRejected, ValueError):
            return
        self.cluster.trace(leader.id, f"reconfig: {what}")
        leader.pump()
        if self.rng.random() < self.params.strike_probability:
            subject = change.node_id
            self.cluster.schedule(self.rng.uniform(0.0, 60.0), lambda: self._strike(subject))

    def _next(self, plan: _Plan) -> None:
        step = plan.steps.pop(0)
        if isinstance(step, _Change) and step.change.kind is ChangeKind.REMOVE:
            # Removed: it may come back (unaware, if it was down) and must do no harm.
            self.dead.discard(step.change.node_id)
        if not plan.steps:
            self.completed[plan.name] = self.completed.get(plan.name, 0) + 1
            self.cluster.trace(0, f"reconfig: plan {plan.name} done")
            self.plan = None

    def _transfer_target(self, leader: SimNode) -> int | None:
        assert leader.core is not None
        candidates = [
            p.node_id
            for p in leader.core.member_progress()
            if p.voter and p.node_id != leader.id and p.node_id not in self.dead
        ]
        return self.rng.choice(candidates) if candidates else None

    # --- strikes ---------------------------------------------------------------------

    def _maybe_strike_snapshot(self, plan: _Plan, leader: SimNode, subject: int) -> None:
        """Once per plan: a learner streaming a snapshot (or its leader) dies mid-stream."""
        if plan.struck_snapshot or subject not in leader.streams or self.rng.random() < 0.5:
            return
        plan.struck_snapshot = True
        victim = subject if self.rng.random() < 0.7 else leader.id
        self.cluster.trace(0, f"reconfig: strike node {victim} mid-snapshot to {subject}")
        self._crash_for_a_while(victim)

    def _strike(self, subject: int) -> None:
        if not self.running:
            return
        leader = self.cluster.leader()
        members = sorted(i for i, node in self.cluster.nodes.items() if not node.removed)
        roll = self.rng.random()
        if roll < 0.4 and leader is not None:
            target = leader.id
        elif roll < 0.8 and subject in members:
            target = subject
        else:
            target = self.rng.choice(members)
        node = self.cluster.nodes[target]
        if not node.up or target in self.dead:
            return
        self.strikes += 1
        action = self.rng.random()
        if action < 0.4:
            self.cluster.trace(0, f"reconfig: strike crashes node {target}")
            self._crash_for_a_while(target)
        elif action < 0.75:
            self.cluster.trace(0, f"reconfig: strike cuts node {target} off")
            self.cluster.network.isolate(target, self.cluster.nodes)
            self.cluster.schedule(
                self.rng.uniform(10.0, 300.0), lambda: self.cluster.network.reconnect(target)
            )
        else:
            duration = self.rng.uniform(5.0, 300.0)
            self.cluster.trace(0, f"reconfig: strike pauses node {target}")
            node.pause(duration)

    def _crash_for_a_while(self, target: int) -> None:
        node = self.cluster.nodes[target]
        node.crash()

        def restart() -> None:
            if not node.up and target not in self.dead and not node.removed:
                node.start()

        self.cluster.schedule(self.rng.uniform(10.0, 300.0), restart)


def change_done(change: ConfigChange, membership: Membership) -> bool:
    """Does `membership` show `change` done (a later promotion counts as added)?"""
    node = change.node_id
    if change.kind is ChangeKind.REMOVE:
        return node not in membership.members
    if change.kind is ChangeKind.ADD_LEARNER:
        return node in membership.members
    return node in membership.voters


def _promote(node: int) -> ConfigChange:
    return ConfigChange(ChangeKind.PROMOTE, node)


def _remove(node: int) -> ConfigChange:
    return ConfigChange(ChangeKind.REMOVE, node)


def _describe(steps: list[_Step]) -> str:
    parts = []
    for step in steps:
        if isinstance(step, _Kill):
            parts.append(f"kill {step.node}")
        else:
            first = "transfer away, " if step.transfer_first else ""
            parts.append(f"{first}{step.change.kind.value} {step.change.node_id}")
    return ", ".join(parts)
