"""Health and readiness of a node, decided from its data groups' status (pure functions).

A node is healthy (ready) when every data group it replicates is; the body lists each
group's verdict. Healthy (`/health`): the group can serve writes through this node now.
- No leader known: unhealthy (an election is running, or this node is cut off).
- This node leads: its outbound links must reach enough voters that, with itself, they
  form a majority. (With check-quorum the core also steps down when a majority has not
  answered within an election timeout, so a leader never outlives its quorum for long.)
- Another node leads: the link to that leader must be up, when the transport has one
  (a follower keeps a leader only while it hears from it within an election timeout).

Ready (`/ready`): healthy enough to take reads without long waits: a leader is known and
this node has applied all but at most `READY_MAX_LAG` of the entries it knows committed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from seshat_trio.raft import Role
from seshat_trio.raft.quorum import majority
from seshat_trio.replication.driver import GroupStatus

# Committed entries a ready node may still have to apply (a few group-commit rounds).
READY_MAX_LAG = 100


@attrs.frozen(slots=True)
class Verdict:
    ok: bool
    body: dict[str, object]


def _base(status: GroupStatus) -> dict[str, object]:
    return {
        "role": status.role.value,
        "leader": status.leader_id,
        "term": status.term,
        "group": status.group,
    }


def _verdict(status: GroupStatus, reason: str | None, **extra: object) -> Verdict:
    if reason is None:
        return Verdict(True, {"status": "ok", **_base(status), **extra})
    return Verdict(False, {"status": "unavailable", "reason": reason, **_base(status), **extra})


def health(status: GroupStatus, connected: Mapping[int, bool]) -> Verdict:
    """`connected`: peer id -> whether the transport's outbound link to it is up."""
    if status.leader_id is None:
        return _verdict(status, "no leader known")
    if status.role is Role.LEADER:
        voters = set(status.voters)
        reachable = sorted(v for v in voters if v == status.node_id or connected.get(v, False))
        quorum = majority(len(voters))
        reason = None
        if len(reachable) < quorum:
            reason = f"leader reaches {len(reachable)} of {len(voters)} voters, needs {quorum}"
        return _verdict(status, reason, reachable_voters=reachable, quorum=quorum)
    if not connected.get(status.leader_id, True):
        return _verdict(status, f"no connection to leader {status.leader_id}")
    return _verdict(status, None)


def readiness(status: GroupStatus, max_lag: int = READY_MAX_LAG) -> Verdict:
    lag = max(0, status.commit - status.applied)
    fields = {"commit": status.commit, "applied": status.applied}
    if status.leader_id is None:
        return _verdict(status, "no leader known", **fields)
    if lag > max_lag:
        return _verdict(status, f"applying: {lag} committed entries behind", **fields)
    return _verdict(status, None, **fields)


def node_verdict(groups: Sequence[Verdict]) -> Verdict:
    """The node's verdict: ok when every group's is; the first failure's reason."""
    failed = [verdict for verdict in groups if not verdict.ok]
    body: dict[str, object] = {"status": "unavailable" if failed else "ok"}
    if failed:
        body["reason"] = failed[0].body["reason"]
    body["groups"] = [verdict.body for verdict in groups]
    return Verdict(not failed, body)
