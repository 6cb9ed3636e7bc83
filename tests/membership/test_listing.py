"""Reading SESHAT.MEMBER LIST text: what joins and `seshat-trio member list` rely on."""

from __future__ import annotations

from seshat_trio.membership.admin import member_fields
from seshat_trio.membership.join import (
    client_addresses,
    groups_and_leaders,
    groups_with_progress,
    missing_group_lines,
    my_progress,
)
from seshat_trio.raft import ProgressState, Role
from seshat_trio.replication.driver import GroupStatus, PeerStatus

LISTING = """\
member 1 raft=127.0.0.1:7001 client=127.0.0.1:6001 live=1
member 4 raft=127.0.0.1:7004 client=- live=0
retired 3 forced=1
replication-factor 3
group 0 leader=1 term=2 commit=57 voters=1,2 learners=4
group 0 member 4 role=learner match=40 lag=17 bytes_behind=- state=snapshot snapshot_bytes_sent=4096
group 1 leader=0 term=2 commit=9 voters=1,2 learners=
"""


def test_listing_is_parsed_by_words() -> None:
    assert groups_and_leaders(LISTING) == {0: 1, 1: 0}
    assert client_addresses(LISTING) == {1: "127.0.0.1:6001", 4: "-"}
    assert groups_with_progress(LISTING.splitlines()) == [0]
    mine = my_progress(LISTING, 4)
    assert list(mine) == [0]
    assert mine[0].role == "learner"
    assert mine[0].fields["lag"] == "17" and mine[0].fields["snapshot_bytes_sent"] == "4096"
    assert my_progress(LISTING, 1) == {}


def test_group_lines_of_other_members_complete_a_partial_listing() -> None:
    other = """\
member 2 raft=127.0.0.1:7002 client=127.0.0.1:6002 live=1
group 0 leader=1 term=2 commit=57 voters=1,2 learners=4
group 2 leader=2 term=1 commit=5 voters=2,5,6 learners=
group 2 member 5 role=voter match=5 lag=0 bytes_behind=0 state=replicate snapshot=0
"""
    assert missing_group_lines(LISTING, other) == [
        "group 2 leader=2 term=1 commit=5 voters=2,5,6 learners="
    ]
    assert missing_group_lines(LISTING, LISTING) == []


def test_info_fields_show_learners_and_each_members_progress_on_the_leader() -> None:
    status = GroupStatus(
        node_id=1,
        group=2,
        role=Role.LEADER,
        term=3,
        leader_id=1,
        commit=50,
        applied=50,
        first_index=1,
        last_index=50,
        snapshot_index=0,
        voters=(1, 2),
        learners=(4,),
        peers={
            2: PeerStatus(50, 51, ProgressState.REPLICATE),
            4: PeerStatus(20, 21, ProgressState.SNAPSHOT),
        },
    )
    assert member_fields("group2", status) == [
        ("group2_learners", "4"),
        ("group2_member2", "role=voter,match=50,next=51,lag=0,state=replicate"),
        ("group2_member4", "role=learner,match=20,next=21,lag=30,state=snapshot"),
    ]
