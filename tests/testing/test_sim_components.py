"""Building blocks of the Raft simulator: network, application, invariants, determinism."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seshat_trio.raft import Entry, EntryKind, HardState, Membership, MemoryLogStorage, Role
from seshat_trio.raft.messages import AppendResp, PreVote, Vote, VoteResp
from seshat_trio.testing.invariants import Invariants, InvariantViolation
from seshat_trio.testing.kvapp import Command, KvApp
from seshat_trio.testing.network import Network, NetworkFaults
from seshat_trio.testing.raftsim import SimConfig, main, run_simulation

# --- network --------------------------------------------------------------------


def test_network_is_deterministic_per_seed() -> None:
    faults = NetworkFaults(drop=0.2, duplicate=0.2, slow=0.1)
    a = Network(random.Random(7), faults)
    b = Network(random.Random(7), faults)
    runs_a = [a.delivery_delays(1, 2) for _ in range(200)]
    runs_b = [b.delivery_delays(1, 2) for _ in range(200)]
    assert runs_a == runs_b
    assert any(len(d) == 0 for d in runs_a)  # drops
    assert any(len(d) == 2 for d in runs_a)  # duplicates
    assert a.dropped == sum(len(d) == 0 for d in runs_a)


def test_partitions() -> None:
    net = Network(random.Random(1))
    net.split([[1, 2], [3, 4, 5]])
    assert net.connected(1, 2) and net.connected(3, 5)
    assert not net.connected(1, 3) and not net.connected(5, 2)
    assert net.delivery_delays(1, 3) == []
    net.heal()
    net.isolate(3, [1, 2, 3, 4])
    assert not net.connected(3, 1) and not net.connected(4, 3) and net.connected(1, 4)
    net.heal()
    net.block_one_way(1, 2)
    assert not net.connected(1, 2) and net.connected(2, 1)
    assert "1->2" in net.describe()


# --- application ----------------------------------------------------------------


@given(
    op_id=st.integers(0, 2**64 - 1),
    key=st.binary(max_size=300),
    value=st.none() | st.binary(max_size=300),
)
def test_command_round_trip(op_id: int, key: bytes, value: bytes | None) -> None:
    command = Command(op_id, key, value)
    assert Command.decode(command.encode()) == command


def test_command_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="too short"):
        Command.decode(b"S")
    with pytest.raises(ValueError, match="malformed"):
        Command.decode(b"X" + Command(1, b"k", b"v").encode()[1:])
    with pytest.raises(ValueError, match="trailing"):
        Command.decode(Command(1, b"k", None).encode() + b"x")


@settings(max_examples=50)
@given(st.lists(st.tuples(st.sampled_from([b"a", b"b", b"c"]), st.none() | st.binary())))
def test_app_snapshot_round_trip(commands: list[tuple[bytes, bytes | None]]) -> None:
    app = KvApp()
    for n, (key, value) in enumerate(commands, start=1):
        app.apply(n, Command(n, key, value))
    restored = KvApp.restore(app.snapshot())
    assert restored == app
    assert restored.state() == app.state()


def test_app_applies_in_order_only() -> None:
    app = KvApp()
    app.apply(1, None)
    with pytest.raises(ValueError, match="out of order"):
        app.apply(3, None)
    assert app.applied == 1


# --- invariants -----------------------------------------------------------------


def test_two_leaders_in_one_term_are_caught() -> None:
    inv = Invariants()
    inv.on_role(1, 3, Role.LEADER, lambda index: None, 0)
    with pytest.raises(InvariantViolation, match="election safety"):
        inv.on_role(2, 3, Role.LEADER, lambda index: None, 0)


def test_log_matching_is_checked_per_index_and_term() -> None:
    inv = Invariants()
    inv.on_entries_written(1, (Entry(1, 1, EntryKind.NORMAL, b"x"),), 0)
    inv.on_entries_written(2, (Entry(1, 1, EntryKind.NORMAL, b"x"),), 0)
    with pytest.raises(InvariantViolation, match="log matching"):
        inv.on_entries_written(3, (Entry(1, 1, EntryKind.NORMAL, b"y"),), 0)


def test_state_machines_must_agree() -> None:
    inv = Invariants()
    durable = {1: MemoryLogStorage(Membership(frozenset({1})))}
    durable[1].append([Entry(1, 1, EntryKind.NORMAL, b"x")])
    inv.on_commit(
        1,
        term=1,
        is_leader=True,
        commit=1,
        term_at=lambda i: 1,
        configs=[frozenset({1})],
        durable=durable,
    )
    inv.on_applied(1, 1, frozenset({(b"k", b"v")}))
    with pytest.raises(InvariantViolation, match="state machine safety"):
        inv.on_applied(2, 1, frozenset({(b"k", b"other")}))
    with pytest.raises(InvariantViolation, match="applied monotonicity"):
        inv.on_applied(1, 0, frozenset())


def test_commit_without_a_durable_quorum_is_caught() -> None:
    inv = Invariants()
    voters = frozenset({1, 2, 3})
    durable = {i: MemoryLogStorage(Membership(voters)) for i in voters}
    durable[1].append([Entry(1, 1, EntryKind.NOOP)])  # only the leader has it durably
    with pytest.raises(InvariantViolation, match="committed durability"):
        inv.on_commit(
            1,
            term=1,
            is_leader=True,
            commit=1,
            term_at=lambda i: 1,
            configs=[voters],
            durable=durable,
        )


def test_persistence_contract() -> None:
    inv = Invariants()
    disk = MemoryLogStorage(Membership(frozenset({1, 2, 3})))
    disk.set_hard_state(HardState(term=2, vote=3))
    common = {"group": 1, "src": 1}
    # Pre-votes speak of the next term without persisting it.
    inv.on_send(
        1, PreVote(**common, dst=2, term=3, last_log_index=0, last_log_term=0), disk, lambda i: None
    )
    with pytest.raises(InvariantViolation, match="durable term is 2"):
        inv.on_send(
            1,
            Vote(**common, dst=2, term=3, last_log_index=0, last_log_term=0),
            disk,
            lambda i: None,
        )
    with pytest.raises(InvariantViolation, match="grants its vote"):
        inv.on_send(1, VoteResp(**common, dst=2, term=2, granted=True), disk, lambda i: None)
    inv.on_send(1, VoteResp(**common, dst=3, term=2, granted=True), disk, lambda i: None)
    with pytest.raises(InvariantViolation, match="acknowledges index 1"):
        inv.on_send(
            1, AppendResp(**common, dst=3, term=2, success=True, index=1), disk, lambda i: 2
        )


# --- whole runs -----------------------------------------------------------------


def test_a_seed_replays_exactly() -> None:
    first = run_simulation(SimConfig.for_seed(42, 800))
    second = run_simulation(SimConfig.for_seed(42, 800))
    assert first.ok, first.report(800)
    assert first == second
    assert first.events > 800 and first.commit > 0 and first.leaders >= 1


def test_command_line_batch(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--seeds", "2", "--start", "5", "--steps", "300", "-v"]) == 0
    out = capsys.readouterr().out
    assert "seed 5: ok" in out and "seed 6: ok" in out
    assert "2 schedule(s), 0 failed" in out


def test_commit_may_count_the_config_before_an_advance() -> None:
    inv = Invariants()
    old, new = frozenset({1, 2, 3}), frozenset({1, 2, 3, 4})
    durable = {i: MemoryLogStorage(Membership(old)) for i in new}
    for i in (1, 2):
        durable[i].append([Entry(1, 1, EntryKind.NOOP)])
    # {1, 2} is a majority of the old voters only: fine if the old config counted.
    inv.on_commit(
        1,
        term=1,
        is_leader=True,
        commit=1,
        term_at=lambda i: 1,
        configs=[new, old],
        durable=durable,
    )
    with pytest.raises(InvariantViolation, match=r"\[1, 2\] of \[1, 2, 3, 4\]"):
        Invariants().on_commit(
            1,
            term=1,
            is_leader=True,
            commit=1,
            term_at=lambda i: 1,
            configs=[new],
            durable=durable,
        )
