"""Leadership transfer: catch-up, TimeoutNow, abort, proposals refused meanwhile."""

from __future__ import annotations

import pytest

from seshat_trio.raft import (
    LeadershipTransferInProgress,
    NotLeader,
    Role,
    TimeoutNow,
    TransferResult,
)


def test_transfer_to_caught_up_follower(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.propose(1, b"a")
    c.core(1).transfer_leadership(2)
    c.stabilize()
    assert c.leader() == 2
    assert c.core(2).term == 2
    assert c.nodes[1].transfer_results == [TransferResult(2, succeeded=True)]
    c.propose(2, b"b")
    c.replicate_commit()
    assert c.core(1).commit == c.core(2).commit == 4


def test_transfer_catches_up_lagging_target_first(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.isolate(3)
    c.propose(1, b"a", b"b", b"c")
    c.heal()
    c.core(1).transfer_leadership(3)
    with pytest.raises(LeadershipTransferInProgress):
        c.core(1).propose([b"refused"])
    c.stabilize()
    timeouts = [m for m in c.sent if isinstance(m, TimeoutNow)]
    assert len(timeouts) == 1 and timeouts[0].dst == 3
    assert c.leader() == 3
    # The new leader holds every entry the old one had, plus its own no-op.
    assert c.core(3).last_index == 5 and c.core(3).commit == 5


def test_transfer_aborts_after_election_timeout(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.isolate(3)
    c.core(1).transfer_leadership(3)
    c.tick([1, 2], times=c.core(1)._cfg.election_ticks_min)
    assert c.core(1).role is Role.LEADER
    assert c.core(1).transferee is None
    assert c.nodes[1].transfer_results == [TransferResult(3, succeeded=False)]
    assert c.propose(1, b"accepted again") == [2]


def test_transfer_argument_checks(make_cluster):
    c = make_cluster([1, 2, 3], learners=[4])
    with pytest.raises(NotLeader):
        c.core(1).transfer_leadership(2)
    c.elect(1)
    with pytest.raises(ValueError):
        c.core(1).transfer_leadership(1)
    with pytest.raises(ValueError):
        c.core(1).transfer_leadership(4)  # learners cannot lead


def test_forced_campaign_overrides_stickiness(make_cluster):
    c = make_cluster([1, 2, 3])
    c.elect(1)
    c.tick([1], times=1)  # everyone heard from the leader just now
    c.core(1).transfer_leadership(3)
    c.stabilize()
    assert c.leader() == 3
