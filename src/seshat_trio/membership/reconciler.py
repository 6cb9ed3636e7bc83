"""Every group this node leads follows the membership the cluster wants, one change at a time.

The reconciler runs on every node. Each pass it looks at the groups this node leads, asks
`plan.next_step` for the next change (from the system group's members, retired ids and
placement) and makes it: `change_membership` on the group's driver, or a leadership transfer
when the leader itself must go. The core refuses anything unsafe (one change at a time, a
learner not caught up, no live quorum); a refused step is retried on a later pass.

A pass runs every `interval_s`, and at once when the system group's state changes (then
`after_pass`: the transport's peers follow the groups' memberships). While a
learner catches up, the leader logs its progress (entries and bytes behind, or the snapshot
being streamed) every `progress_every_s`.

Rules: only leaders act (a follower's view of the group may be stale); one step per group
per pass; a log line for every step taken and for every new reason a step is refused, never
one per pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import trio

from seshat_trio.errors import ServiceError
from seshat_trio.logs import get_logger
from seshat_trio.membership.plan import Step, StepKind, next_step
from seshat_trio.raft import (
    ConfigChangeRejected,
    LeadershipTransferInProgress,
    NotLeader,
    Role,
)
from seshat_trio.replication.driver import RaftGroupDriver
from seshat_trio.system.registry import SystemState

log = get_logger(__name__)

# The voters a group should have; None while the cluster's layout is unknown (a new
# cluster before its bootstrap applied): then nothing is changed.
Wanted = Callable[[int], frozenset[int] | None]


class MembershipReconciler:
    def __init__(
        self,
        *,
        groups: Callable[[], Mapping[int, RaftGroupDriver]],
        wanted: Wanted,
        retired: Callable[[], Mapping[int, bool]],
        live_ticks: int,
        interval_s: float,
        progress_every_s: float = 2.0,
        after_pass: Callable[[], None] | None = None,
    ) -> None:
        self._groups = groups
        self._wanted = wanted
        self._retired = retired
        self._live_ticks = live_ticks
        self._interval_s = interval_s
        self._progress_every_s = progress_every_s
        self._after_pass = after_pass
        self._wakeup = trio.Event()
        self._refusals: dict[int, str] = {}  # group -> the last refusal logged
        self._last_progress_log = 0.0

    def on_system_state(self, state: SystemState, changed: frozenset[str]) -> None:
        """System machine subscriber: re-plan at once."""
        self._wakeup.set()

    async def run(self) -> None:
        while True:
            self.reconcile_once()
            with trio.move_on_after(self._interval_s):
                await self._wakeup.wait()
            self._wakeup = trio.Event()

    def reconcile_once(self) -> None:
        now = trio.current_time()
        report = now - self._last_progress_log >= self._progress_every_s
        retired = self._retired()
        for group, driver in sorted(self._groups().items()):
            if driver.role is not Role.LEADER:
                continue
            self._step(group, driver, retired)
            if report:
                self._log_catch_up(group, driver)
        if report:
            self._last_progress_log = now
        if self._after_pass is not None:
            self._after_pass()

    def _step(self, group: int, driver: RaftGroupDriver, retired: Mapping[int, bool]) -> None:
        wanted = self._wanted(group)
        if not wanted:
            return
        membership = driver.membership
        if (
            membership.voters == wanted
            and not membership.learners
            and not membership.voters & retired.keys()
        ):
            # As wanted: what `next_step` answers without looking at progress. The common
            # case, checked for every led group every tick, so kept cheap.
            self._refusals.pop(group, None)
            return
        step = next_step(
            me=driver.node_id,
            membership=membership,
            progress={p.node_id: p for p in driver.member_progress()},
            wanted=wanted,
            retired=retired,
            live_ticks=self._live_ticks,
        )
        if step is None or (step.kind is StepKind.TRANSFER and driver.transferee == step.target):
            self._refusals.pop(group, None)
            return
        try:
            what = self._take(driver, step)
        except (ConfigChangeRejected, NotLeader, LeadershipTransferInProgress, ValueError) as exc:
            self._refused(group, step, str(exc))
        except ServiceError as exc:
            self._refused(group, step, exc.message)
        else:
            self._refusals.pop(group, None)
            log.info("membership_step", group=group, step=step.describe(), index=what)

    @staticmethod
    def _take(driver: RaftGroupDriver, step: Step) -> int:
        if step.kind is StepKind.TRANSFER:
            driver.transfer_leadership(step.target)
            return 0
        assert step.change is not None
        return driver.change_membership(step.change, force=step.force)

    def _refused(self, group: int, step: Step, reason: str) -> None:
        key = f"{step.describe()}: {reason}"
        if self._refusals.get(group) != key:
            self._refusals[group] = key
            log.info("membership_step_waits", group=group, step=step.describe(), reason=reason)

    def _log_catch_up(self, group: int, driver: RaftGroupDriver) -> None:
        for member in driver.member_progress():
            if member.voter:
                continue
            log.info(
                "member_catch_up",
                group=group,
                member=member.node_id,
                entries_behind=member.lag,
                bytes_behind=driver.log_bytes_after(member.match),
                state=member.state.value,
                snapshot_index=member.snapshot_index,
                snapshot_bytes_sent=driver.snapshot_bytes_sent(member.node_id),
                promotable=member.promotable,
            )
