"""The system group's operation registry and state machine: apply, refuse, persist, snapshot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from seshat_trio.protocol import ErrorReply
from seshat_trio.storage import SYSTEM_GROUP, Store, WriteBatch
from seshat_trio.system.layout import (
    NodeAddresses,
    encode_bootstrap,
    initial_layout,
    layout_of,
)
from seshat_trio.system.machine import SystemStateMachine
from seshat_trio.system.registry import (
    OperationRefused,
    SystemState,
    UnknownOperation,
    dumps,
    encode_operation,
    register_operation,
)


def _put(state: SystemState, op: Any) -> tuple[dict[str, Any], int]:
    """A test operation: sets section `name` to `value` (None deletes); refuses name "no"."""
    if op["name"] == "no":
        raise OperationRefused("ERR refused on purpose")
    return {op["name"]: op["value"]}, 1


def _crash(state: SystemState, op: Any) -> tuple[dict[str, Any], int]:
    raise KeyError("a bug")


register_operation("test_put", _put)
register_operation("test_crash", _crash)


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with Store.open(tmp_path / "db") as s:
        yield s


def put(name: str, value: Any) -> bytes:
    return encode_operation("test_put", name=name, value=value)


def test_operations_change_sections_and_notify_subscribers(store: Store) -> None:
    machine = SystemStateMachine(store)
    seen: list[frozenset[str]] = []
    machine.subscribe(lambda state, changed: seen.append(changed))
    assert seen == [frozenset()]
    applied = machine.apply([(1, put("a", {"x": 1})), (2, None), (3, put("b", [1, 2]))])
    assert [a.replies for a in applied] == [(1,), (), (1,)]
    assert machine.state.section("a") == {"x": 1}
    assert seen[-1] == {"a", "b"}
    assert machine.applied_index == 3
    # Deleting a section removes its record.
    machine.apply([(4, put("a", None))])
    assert machine.state.section("a") is None
    assert store.get_system(SYSTEM_GROUP, "a") is None
    assert seen[-1] == {"a"}
    # Replayed entries are skipped (idempotent by index).
    assert machine.apply([(3, put("b", "other"))]) == []
    assert machine.state.section("b") == [1, 2]


def test_sections_are_copies(store: Store) -> None:
    machine = SystemStateMachine(store)
    machine.apply([(1, put("a", {"x": [1]}))])
    section = machine.state.section("a")
    section["x"].append(2)
    assert machine.state.section("a") == {"x": [1]}


def test_refused_and_failing_operations_change_nothing(store: Store) -> None:
    machine = SystemStateMachine(store)
    applied = machine.apply(
        [(1, put("no", 1)), (2, encode_operation("test_crash")), (3, put("ok", 1))]
    )
    assert applied[0].replies == (ErrorReply("ERR refused on purpose"),)
    assert isinstance(applied[1].replies[0], ErrorReply)
    assert "internal error" in str(applied[1].replies[0])
    assert machine.state.names() == {"ok"}
    assert machine.applied_index == 3


def test_unknown_operations_stop_the_apply(store: Store) -> None:
    machine = SystemStateMachine(store)
    with pytest.raises(UnknownOperation):
        encode_operation("no_such_operation")
    with pytest.raises(RuntimeError, match="unknown system operation"):
        machine.apply([(1, dumps({"v": 1, "op": "from_the_future"}))])
    with pytest.raises(RuntimeError, match="unsupported format"):
        machine.apply([(1, dumps({"v": 2, "op": "test_put"}))])
    assert machine.applied_index == 0


def test_state_survives_a_restart(tmp_path: Path) -> None:
    with Store.open(tmp_path / "db") as store:
        SystemStateMachine(store).apply([(1, put("a", "x")), (2, put("b", 2))])
        store.write(WriteBatch(), sync=True)
    with Store.open(tmp_path / "db") as store:
        machine = SystemStateMachine(store)
        assert machine.applied_index == 2
        assert dict(machine.state.raw) == {"a": b'"x"', "b": b"2"}


def test_snapshot_round_trip_in_bounded_chunks(tmp_path: Path) -> None:
    with Store.open(tmp_path / "a") as source, Store.open(tmp_path / "b") as target:
        leader = SystemStateMachine(source)
        leader.apply([(i + 1, put(f"s{i}", "v" * 100)) for i in range(10)])
        follower = SystemStateMachine(target)
        follower.apply([(1, put("stale", 1))])
        notified: list[frozenset[str]] = []
        follower.subscribe(lambda state, changed: notified.append(changed))
        chunks = list(leader.open_snapshot().chunks(250))
        assert len(chunks) == 5  # two ~100-byte sections per 250-byte chunk
        installer = follower.begin_install()
        for chunk in chunks:
            installer.add_chunk(chunk)
        batch = WriteBatch()
        batch.put_applied(SYSTEM_GROUP, 10)
        installer.finish(batch)
        follower.reload()
        assert follower.state == leader.state
        assert follower.applied_index == 10
        assert target.get_system(SYSTEM_GROUP, "stale") is None
        assert "stale" in notified[-1] and "s0" in notified[-1]


def test_an_older_builds_snapshot_chunk_installs(store: Store) -> None:
    layout = initial_layout([NodeAddresses(1, "127.0.0.1:7001")], 1)
    machine = SystemStateMachine(store)
    installer = machine.begin_install()
    installer.add_chunk(encode_bootstrap(layout))  # what the one-operation build sent
    installer.finish()
    machine.reload()
    assert layout_of(machine.state) == layout


def test_bootstrap_is_taken_once(store: Store) -> None:
    first = initial_layout([NodeAddresses(1, "127.0.0.1:7001")], 1)
    second = initial_layout([NodeAddresses(2, "127.0.0.1:7002")], 1)
    machine = SystemStateMachine(store)
    applied = machine.apply([(1, encode_bootstrap(first)), (2, encode_bootstrap(second))])
    assert [a.replies for a in applied] == [(1,), (0,)]
    assert layout_of(machine.state) == first
    # The records are the ones earlier builds wrote: {"v": 1, "items": [...]}.
    assert store.get_system(SYSTEM_GROUP, "members") == (
        b'{"items":[{"node_id":1,"raft_addr":"127.0.0.1:7001"}],"v":1}'
    )
