"""The membership planner: one safe step at a time towards what the cluster wants."""

from __future__ import annotations

from seshat_trio.membership.plan import Step, StepKind, next_step, successor
from seshat_trio.raft import ChangeKind, MemberProgress, Membership, ProgressState

LIVE = 5


def progress(
    node: int,
    *,
    match: int = 10,
    heard: int | None = 0,
    promotable: bool = False,
    voter: bool = True,
) -> MemberProgress:
    return MemberProgress(
        node_id=node,
        voter=voter,
        match=match,
        next=match + 1,
        state=ProgressState.REPLICATE,
        lag=0,
        heard_ticks_ago=heard,
        snapshot_index=0,
        promotable=promotable,
    )


def m(voters: set[int], learners: set[int] = frozenset()) -> Membership:  # type: ignore[assignment]
    return Membership(frozenset(voters), frozenset(learners))


def plan(
    me: int,
    membership: Membership,
    wanted: set[int],
    retired: dict[int, bool] | None = None,
    **prs: MemberProgress,
) -> Step | None:
    table = {pr.node_id: pr for pr in prs.values()}
    for node in membership.members:
        table.setdefault(node, progress(node, voter=node in membership.voters))
    return next_step(
        me=me,
        membership=membership,
        progress=table,
        wanted=frozenset(wanted),
        retired=retired or {},
        live_ticks=LIVE,
    )


def change(step: Step | None) -> tuple[ChangeKind, int, bool] | None:
    assert step is not None and step.kind is StepKind.CHANGE and step.change is not None
    return step.change.kind, step.change.node_id, step.force


def test_nothing_to_do_when_the_group_is_as_wanted() -> None:
    assert plan(1, m({1, 2, 3}), {1, 2, 3}) is None


def test_a_new_node_joins_as_learner_then_is_promoted_when_caught_up() -> None:
    assert change(plan(1, m({1, 2, 3}), {1, 2, 3, 4})) == (ChangeKind.ADD_LEARNER, 4, False)
    lagging = progress(4, voter=False, promotable=False)
    assert plan(1, m({1, 2, 3}, {4}), {1, 2, 3, 4}, p4=lagging) is None
    ready = progress(4, voter=False, promotable=True)
    assert change(plan(1, m({1, 2, 3}, {4}), {1, 2, 3, 4}, p4=ready)) == (
        ChangeKind.PROMOTE,
        4,
        False,
    )


def test_a_retired_node_leaves_first_even_before_its_replacement_votes() -> None:
    step = plan(1, m({1, 2, 3}), {1, 2, 4}, retired={3: False})
    assert change(step) == (ChangeKind.REMOVE, 3, False)
    assert change(plan(1, m({1, 2, 3}), {1, 2}, retired={3: True})) == (ChangeKind.REMOVE, 3, True)


def test_a_node_placement_moves_away_leaves_only_after_the_wanted_ones_vote() -> None:
    waiting = progress(4, voter=False, promotable=False)
    assert plan(1, m({1, 2, 3}, {4}), {1, 2, 4}, p4=waiting) is None
    assert change(plan(1, m({1, 2, 3, 4}), {1, 2, 4})) == (ChangeKind.REMOVE, 3, False)
    assert change(plan(1, m({1, 2}, {5}), {1, 2})) == (ChangeKind.REMOVE, 5, False)


def test_the_leader_hands_over_before_its_own_removal() -> None:
    step = plan(
        1,
        m({1, 2, 3}),
        {2, 3},
        retired={1: False},
        p2=progress(2, match=9),
        p3=progress(3, match=10),
    )
    assert step is not None and step.kind is StepKind.TRANSFER and step.target == 3


def test_the_successor_is_a_recently_heard_wanted_voter() -> None:
    prs = {
        2: progress(2, match=50, heard=None),  # never answered this term
        3: progress(3, match=40, heard=LIVE),  # too long ago
        4: progress(4, match=10),
        5: progress(5, match=30),
    }
    assert successor(1, m({1, 2, 3, 4, 5}), prs, frozenset({1, 4}), LIVE) == 4
    assert successor(1, m({1, 2, 3, 4, 5}), prs, frozenset({1}), LIVE) == 5
    assert successor(1, m({1, 2, 3}), prs, frozenset({1}), LIVE) is None


def test_a_lone_leader_with_no_live_successor_removes_itself_or_waits() -> None:
    dead = progress(2, heard=None)
    assert change(plan(1, m({1, 2}), {2}, retired={1: False}, p2=dead)) == (
        ChangeKind.REMOVE,
        1,
        False,
    )
    assert plan(1, m({1}), set(), retired={1: False}) is None
