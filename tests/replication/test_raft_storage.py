"""RaftLogStore over a real Store: Ready -> one WriteBatch, restart, truncation, compaction."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seshat_trio.raft import (
    CompactedError,
    Entry,
    EntryKind,
    HardState,
    Membership,
    Ready,
    SnapshotMeta,
    UnavailableError,
)
from seshat_trio.replication import log_storage
from seshat_trio.replication.log_storage import RaftLogStore, ready_batch
from seshat_trio.storage import Store

GROUP = 1
MEMBERS = Membership(voters=frozenset({1, 2, 3}))


def entries(lo: int, hi: int, term: int) -> tuple[Entry, ...]:
    return tuple(Entry(term, i, EntryKind.NORMAL, b"cmd%d" % i) for i in range(lo, hi + 1))


def persist(log: RaftLogStore, store: Store, ready: Ready) -> None:
    store.write(ready_batch(GROUP, ready), sync=False)
    log.persisted(ready)


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    with Store.open(tmp_path / "db") as s:
        yield s


def test_bootstrap_state_is_recorded_and_reloaded(store: Store) -> None:
    log = RaftLogStore(store, GROUP, MEMBERS)
    assert log.snapshot_meta() == SnapshotMeta(0, 0, MEMBERS)
    assert (log.first_index(), log.last_index(), log.term(0)) == (1, 0, 0)
    # A restart with another configured membership keeps the recorded one.
    again = RaftLogStore(store, GROUP, Membership())
    assert again.snapshot_meta().membership == MEMBERS


def test_entries_and_hard_state_survive_restart(store: Store) -> None:
    log = RaftLogStore(store, GROUP, MEMBERS)
    persist(log, store, Ready(entries=entries(1, 5, 1), hard_state=HardState(1, 2, 3)))
    again = RaftLogStore(store, GROUP, MEMBERS)
    assert again.hard_state() == HardState(1, 2, 3)
    assert again.last_index() == 5
    assert again.entries(1, 6, None) == list(entries(1, 5, 1))
    assert again.term(4) == 1
    # Byte budget: at least one entry, cut on the core's own measure (len(data) + 24).
    assert len(again.entries(1, 6, 1)) == 1
    assert len(again.entries(1, 6, 2 * (4 + 24))) == 2
    with pytest.raises(UnavailableError):
        again.entries(1, 7, None)
    with pytest.raises(UnavailableError):
        again.term(6)


def test_conflicting_suffix_is_replaced(store: Store) -> None:
    log = RaftLogStore(store, GROUP, MEMBERS)
    persist(log, store, Ready(entries=entries(1, 6, 1)))
    persist(log, store, Ready(entries=entries(4, 4, 2)))
    assert log.last_index() == 4
    assert [e.term for e in log.entries(1, 5, None)] == [1, 1, 1, 2]
    # The tail cache and LevelDB agree.
    again = RaftLogStore(store, GROUP, MEMBERS)
    assert again.entries(1, 5, None) == log.entries(1, 5, None)


def test_compaction_drops_prefix_and_records_meta(store: Store) -> None:
    log = RaftLogStore(store, GROUP, MEMBERS)
    persist(log, store, Ready(entries=entries(1, 10, 1)))
    meta = SnapshotMeta(6, 1, MEMBERS)
    persist(log, store, Ready(compact=meta))
    for view in (log, RaftLogStore(store, GROUP, MEMBERS)):
        assert view.snapshot_meta() == meta
        assert (view.first_index(), view.last_index(), view.term(6)) == (7, 10, 1)
        with pytest.raises(CompactedError):
            view.entries(6, 8, None)
        assert [e.index for e in view.entries(7, 11, None)] == [7, 8, 9, 10]
    assert store.first_log_index(GROUP) == 7


def test_snapshot_install_replaces_the_whole_log(store: Store) -> None:
    log = RaftLogStore(store, GROUP, MEMBERS)
    persist(log, store, Ready(entries=entries(1, 8, 1)))
    bigger = Membership(voters=frozenset({1, 2, 3}), learners=frozenset({4}))
    meta = SnapshotMeta(20, 3, bigger)
    persist(
        log,
        store,
        Ready(snapshot=meta, entries=entries(21, 22, 3), hard_state=HardState(3, 0, 20)),
    )
    again = RaftLogStore(store, GROUP, Membership())
    assert again.snapshot_meta() == meta
    assert (again.first_index(), again.last_index(), again.term(20)) == (21, 22, 3)
    assert again.entries(21, 23, None) == list(entries(21, 22, 3))
    assert again.hard_state() == HardState(3, 0, 20)


def test_install_of_snapshot_behind_the_log_tail_truncates_it(store: Store) -> None:
    log = RaftLogStore(store, GROUP, MEMBERS)
    persist(log, store, Ready(entries=entries(1, 30, 1)))
    meta = SnapshotMeta(10, 2, MEMBERS)  # our entry 10 has term 1: conflicting log
    persist(log, store, Ready(snapshot=meta))
    assert (log.first_index(), log.last_index()) == (11, 10)
    assert store.last_log_index(GROUP) == 10
    assert store.log_entries(GROUP, 1, 100) == []


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["append", "compact", "install"]), st.integers(0, 12)),
        max_size=12,
    )
)
def test_last_index_follows_every_write_as_a_reload_reads_it(
    tmp_path_factory: pytest.TempPathFactory,
    steps: list[tuple[str, int]],
) -> None:
    """The log's last index is kept in memory (followed in `persisted`): after appends,
    suffix replacements, compactions and snapshot installs (ahead of the log or behind its
    tail) it is what a reload from the store reads."""
    with Store.open(tmp_path_factory.mktemp("db") / "db") as store:
        log = RaftLogStore(store, GROUP, MEMBERS)
        term = 1
        for kind, n in steps:
            first, last = log.first_index(), log.last_index()
            if kind == "append":
                term += 1
                lo = max(first, last + 1 - n % 4)  # replaces up to 3 entries of the suffix
                ready = Ready(entries=entries(lo, lo + n % 5, term))
            elif kind == "compact" and last >= first:
                ready = Ready(compact=SnapshotMeta(first + n % (last - first + 1), 1, MEMBERS))
            elif kind == "install":
                term += 1
                ready = Ready(snapshot=SnapshotMeta(first + n, term, MEMBERS))
            else:
                continue
            persist(log, store, ready)
            assert log.last_index() == RaftLogStore(store, GROUP, MEMBERS).last_index()
            assert log.first_index() - 1 <= log.last_index()


def test_the_tail_cache_is_cut_to_seven_eighths_of_a_bound_once_past_it(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cut in steps, not by an entry or two per round (each cut moves the whole list)."""
    monkeypatch.setattr(log_storage, "TAIL_CACHE_ENTRIES", 8)
    log = RaftLogStore(store, GROUP, MEMBERS)
    sizes = []
    for index in range(1, 12):
        persist(log, store, Ready(entries=entries(index, index, 1)))
        sizes.append(len(log._tail))
    assert sizes == [1, 2, 3, 4, 5, 6, 7, 8, 7, 8, 7]
    assert log.entries(1, 12, None) == list(entries(1, 11, 1))  # the rest from LevelDB
    # The byte bound likewise (entries 12 on are 5 + 24 bytes on the core's measure).
    monkeypatch.setattr(log_storage, "TAIL_CACHE_ENTRIES", 100)
    monkeypatch.setattr(log_storage, "TAIL_CACHE_BYTES", 8 * 29)
    for index in range(12, 15):
        persist(log, store, Ready(entries=entries(index, index, 1)))
        sizes.append(len(log._tail))
    assert sizes[-3:] == [8, 7, 8]
