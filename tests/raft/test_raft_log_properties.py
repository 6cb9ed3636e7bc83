"""Property tests for the log (unstable tail over storage), membership encoding and quorum."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from seshat_trio.raft import (
    Entry,
    EntryKind,
    Membership,
    MemoryLogStorage,
    SnapshotMeta,
    decode_membership,
    encode_membership,
)
from seshat_trio.raft.log import RaftLog
from seshat_trio.raft.progress import Inflights
from seshat_trio.raft.quorum import VoteResult, majority, quorum_value, vote_result

MEMBERS = Membership(frozenset({1, 2, 3}))


class LogMachine(RuleBasedStateMachine):
    """The RaftLog must always read like `model` (terms by index) above its snapshot."""

    def __init__(self) -> None:
        super().__init__()
        self.storage = MemoryLogStorage(MEMBERS)
        self.log = RaftLog(self.storage)
        self.model: list[int] = []  # model[i - 1] = term of index i
        self.snapshot_index = 0

    def _term(self, index: int) -> int:
        return 0 if index == 0 else self.model[index - 1]

    @rule(data=st.data(), count=st.integers(1, 5), bump=st.integers(0, 2), size=st.integers(0, 40))
    def append(self, data: st.DataObject, count: int, bump: int, size: int) -> None:
        at = data.draw(st.integers(self.log.committed + 1, len(self.model) + 1), label="at")
        term = self._term(at - 1) + bump
        entries = [Entry(term, at + i, EntryKind.NORMAL, b"x" * size) for i in range(count)]
        self.log.append(entries)
        self.model = self.model[: at - 1] + [term] * count

    @rule()
    def persist(self) -> None:
        entries = self.log.unstable_entries()
        self.storage.append(entries)
        if entries:
            self.log.stable_to(entries[-1].index, entries[-1].term)
        assert self.log.unstable_entries() == ()

    @rule(data=st.data())
    def commit(self, data: st.DataObject) -> None:
        target = data.draw(st.integers(self.log.committed, len(self.model)), label="commit")
        self.log.commit_to(target)
        assert self.log.committed == max(target, self.log.committed)

    @precondition(lambda self: self.storage.last_index() > self.snapshot_index)
    @rule(data=st.data())
    def compact(self, data: st.DataObject) -> None:
        # Like the core: only committed entries already durable (applied) are compacted.
        unstable = self.log.unstable_entries()
        stable_last = unstable[0].index - 1 if unstable else self.storage.last_index()
        top = min(self.log.committed, stable_last)
        if top <= self.snapshot_index:
            return
        index = data.draw(st.integers(self.snapshot_index + 1, top), label="compact")
        self.storage.compact(SnapshotMeta(index, self._term(index), MEMBERS))
        self.snapshot_index = index

    @invariant()
    def reads_like_model(self) -> None:
        log = self.log
        assert log.last_index() == len(self.model)
        assert log.first_index() == self.snapshot_index + 1
        for index in range(0, len(self.model) + 2):
            expected = (
                self._term(index) if self.snapshot_index <= index <= len(self.model) else None
            )
            assert log.term(index) == expected, index

    @invariant()
    def slices_are_contiguous_and_bounded(self) -> None:
        lo, hi = self.log.first_index(), self.log.last_index() + 1
        for max_bytes in (None, 1, 70):
            got = self.log.slice(lo, hi, max_bytes)
            assert [e.index for e in got] == list(range(lo, lo + len(got)))
            assert [e.term for e in got] == self.model[lo - 1 : lo - 1 + len(got)]
            if lo < hi:
                assert got
            if max_bytes is None:
                assert len(got) == hi - lo
            elif len(got) > 1:
                assert sum(e.size() for e in got) <= max_bytes

    @invariant()
    def conflict_search_is_sound(self) -> None:
        last = self.log.last_index()
        for term in range(0, 4):
            index, found = self.log.find_conflict_by_term(last, term)
            assert found <= term
            if index >= self.log.first_index() - 1:
                assert self.log.term(index) == found
            if index < last and self.log.term(index + 1) is not None:
                assert self.log.term(index + 1) > term

    @invariant()
    def committed_never_beyond_last(self) -> None:
        assert self.log.committed <= self.log.last_index()


TestLogMachine = LogMachine.TestCase
TestLogMachine.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)

ids = st.frozensets(st.integers(1, 2**63), max_size=6)


@given(voters=ids, learners=ids)
def test_membership_encoding_round_trips(voters: frozenset[int], learners: frozenset[int]) -> None:
    membership = Membership(voters, learners - voters)
    data = encode_membership(membership)
    assert decode_membership(data) == membership
    assert encode_membership(decode_membership(data)) == data  # deterministic


@given(data=st.binary(max_size=40))
def test_membership_decoding_rejects_garbage_cleanly(data: bytes) -> None:
    try:
        decoded = decode_membership(data)
    except ValueError:
        return
    assert encode_membership(decoded) == data  # only canonical encodings decode


@given(
    values=st.dictionaries(st.integers(1, 9), st.integers(0, 100), min_size=1, max_size=9),
)
def test_quorum_value_is_reached_by_a_majority(values: dict[int, int]) -> None:
    voters = frozenset(values)
    q = quorum_value(voters, values)
    assert sum(1 for v in voters if values[v] >= q) >= len(voters) // 2 + 1
    assert sum(1 for v in voters if values[v] > q) < len(voters) // 2 + 1


@given(voters=st.integers(1, 99))
def test_a_majority_is_the_smallest_count_two_of_which_always_meet(voters: int) -> None:
    # Any two quorums share a voter; one fewer would allow two disjoint halves.
    assert 2 * majority(voters) > voters
    assert 2 * (majority(voters) - 1) <= voters
    assert [majority(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]


@given(votes=st.dictionaries(st.integers(1, 5), st.booleans(), max_size=5))
def test_vote_result_matches_counts(votes: dict[int, bool]) -> None:
    voters = frozenset(range(1, 6))
    result = vote_result(voters, votes)
    granted = sum(votes.values())
    rejected = len(votes) - granted
    assert (result is VoteResult.WON) == (granted >= 3)
    assert (result is VoteResult.LOST) == (rejected >= 3)


def test_inflights_window():
    window = Inflights(3)
    for last in (5, 7, 9):
        window.add(last)
    assert window.full()
    window.free_le(7)
    assert window.count() == 1 and not window.full()
    window.free_first()
    assert window.count() == 0
