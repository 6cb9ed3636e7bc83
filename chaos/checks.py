"""Assertions every chaos scenario ends with: final reads of every key through the given
nodes, then the linearizability verdict of the whole history and no unexpected replies."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from chaos.workload import Record, Workload, groups_of
from seshat_trio.testing.history import OpKind, OpStatus

# The answers a node without a quorum may give. TRYAGAIN is "certainly not applied, retry": a
# cut-off leader gives it to the reads and writes it held when it stepped down.
NO_QUORUM_CODES = {"NOLEADER", "TIMEOUT", "TRYAGAIN", "client", "connection", "ERR"}


def assert_nothing_succeeded(records: Sequence[Record]) -> None:
    """No operation in `records` (all sent while their node had no quorum) answered OK, and
    every failure is one a node without a quorum may give."""
    ok = [r for r in records if r.op.status is OpStatus.OK]
    assert not ok, "a node without a quorum answered OK:\n" + "\n".join(
        r.op.describe() for r in ok[:10]
    )
    codes = {(r.error or "").split(" ", 1)[0] for r in records}
    assert codes <= NO_QUORUM_CODES, f"unexpected replies without a quorum: {codes}"


async def final_check(
    workload: Workload,
    nodes: Sequence[int],
    *,
    others: Sequence[Workload] = (),
    timeout: float = 40.0,
) -> str:
    """Read every key through `nodes`, assert the history is linearizable and every reply
    was understood; `others` are workloads sharing `workload`'s recorder. Returns a
    one-line summary for the test's output."""
    covered = groups_of(workload.keys, workload.groups)
    assert len(covered) == min(len(workload.keys), workload.groups), (
        f"the keys cover only groups {sorted(covered)} of {workload.groups}"
    )
    values = await workload.final_reads(nodes, timeout=timeout)
    everyone = [workload, *others]
    failed_values = {
        r.op.value
        for w in everyone
        for r in w.records
        if r.op.kind is OpKind.WRITE and r.op.status is OpStatus.FAIL
    }
    resurrected = {k: v for k, v in values.items() if v is not None and v in failed_values}
    assert not resurrected, f"final values written only by writes reported as failed: {resurrected}"
    for w in everyone:
        assert not w.unexpected_errors, f"unexpected replies: {w.unexpected_errors}"
    verdict = workload.check()
    assert verdict.ok, verdict.explanation
    summary = " + ".join(w.summary() for w in everyone) + f" | {verdict.explanation}"
    print(summary)
    return summary


def ok_writes_after(workload: Workload, start: float, nodes: Sequence[int] | None = None) -> int:
    """OK writes invoked at or after `start` (optionally only through `nodes`)."""
    return sum(
        1
        for r in workload.between(start, float("inf"), nodes)
        if r.op.kind is not OpKind.READ and r.op.status is OpStatus.OK
    )


def max_gap_between_ok_writes(workload: Workload, start: float, end: float) -> float:
    """The longest time in [start, end] without an OK write completing."""
    times = sorted(
        r.op.complete
        for r in workload.between(start, end)
        if r.op.kind is OpKind.WRITE and r.op.status is OpStatus.OK and r.op.complete is not None
    )
    points = [start, *times, end]
    return max(b - a for a, b in itertools.pairwise(points))
