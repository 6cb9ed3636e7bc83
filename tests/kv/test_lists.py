"""Lists on the state machine: nil bulk and nil array replies as Redis gives them, a command
costs the elements it touches, positions stay dense through inserts and removals, emptied
lists are deleted, WATCH sees every change, and keyspace events come in Redis's order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_collections import CountingStore, apply, data_records, sweep

from seshat_trio.kv.multi import exec_header, fingerprint
from seshat_trio.kv.state_machine import KvStateMachine
from seshat_trio.protocol import NULL_ARRAY, ErrorReply, SimpleString
from seshat_trio.pubsub import notify
from seshat_trio.storage import Store

GROUP = 1
OK = SimpleString("OK")


class Recorder:
    """Every keyspace event raised (classes KEA, as `notify-keyspace-events KEA`)."""

    def __init__(self) -> None:
        self.events: list[tuple[bytes, bytes]] = []

    def flags(self) -> int:
        return notify.parse_flags("KEA")

    def emit(self, flags: int, events: list[tuple[bytes, bytes]]) -> None:
        self.events.extend(events)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "db") as s:
        yield s


@pytest.fixture
def machine(store: Store) -> KvStateMachine:
    return KvStateMachine(store, GROUP)


def test_nil_bulk_and_nil_array_replies(machine: KvStateMachine) -> None:
    replies = apply(
        machine,
        (b"lpop", b"l"), (b"lpop", b"l", b"2"), (b"rpop", b"l", b"0"), (b"lindex", b"l", b"0"),
        (b"lmove", b"l", b"m", b"left", b"left"), (b"rpoplpush", b"l", b"m"),
        (b"lmpop", b"1", b"l", b"left"), (b"blpop", b"l", b"0"), (b"brpop", b"l", b"m", b"1"),
        (b"blmove", b"l", b"m", b"left", b"right", b"0"), (b"brpoplpush", b"l", b"m", b"0"),
        (b"blmpop", b"0", b"1", b"l", b"right"), (b"lpos", b"l", b"x"),
        (b"lpos", b"l", b"x", b"count", b"0"),
    )  # fmt: skip
    assert replies == (
        None, NULL_ARRAY, NULL_ARRAY, None, None, None, NULL_ARRAY, NULL_ARRAY, NULL_ARRAY,
        None, None, NULL_ARRAY, None, [],
    )  # fmt: skip


def test_push_and_pop_at_either_end_of_a_long_list_cost_one_record(
    machine: KvStateMachine, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    for start in range(0, 20_000, 5000):
        apply(machine, (b"rpush", b"big", *(b"%d" % i for i in range(start, start + 5000))))
    counter = CountingStore(store)
    counter.install(monkeypatch)
    records = data_records(store)
    assert apply(machine, (b"lpush", b"big", b"head"), (b"rpush", b"big", b"tail")) == (
        20_001, 20_002,
    )  # fmt: skip
    assert apply(machine, (b"lpop", b"big"), (b"rpop", b"big")) == (b"head", b"tail")
    assert apply(machine, (b"lindex", b"big", b"12345"), (b"lindex", b"big", b"-1")) == (
        b"12345", b"19999",
    )  # fmt: skip
    assert apply(machine, (b"lset", b"big", b"-2", b"x"), (b"llen", b"big")) == (OK, 20_000)
    assert apply(machine, (b"lmove", b"big", b"big", b"left", b"right")) == (b"0",)
    assert counter.scans == 0 and counter.gets <= 8
    assert data_records(store) == records
    # A range and a counted pop read the records they return, nothing else.
    assert apply(machine, (b"lrange", b"big", b"100", b"102")) == ([b"101", b"102", b"103"],)
    assert apply(machine, (b"rpop", b"big", b"2")) == ([b"0", b"19999"],)
    assert counter.scans == 2


def test_ltrim_deletes_only_what_it_removes_and_del_drops_the_rest_at_once(
    machine: KvStateMachine, store: Store
) -> None:
    apply(machine, (b"rpush", b"l", *(b"%d" % i for i in range(1000))))
    assert data_records(store) == 1 + 1000
    assert apply(machine, (b"ltrim", b"l", b"10", b"-11")) == (OK,)
    assert data_records(store) == 1 + 980
    assert apply(machine, (b"lrange", b"l", b"0", b"1"), (b"lindex", b"l", b"-1")) == (
        [b"10", b"11"], b"989",
    )  # fmt: skip
    assert apply(machine, (b"del", b"l")) == (1,)
    sweep(store)
    assert data_records(store) == 0


@pytest.mark.parametrize("where", [b"before", b"after"])
def test_linsert_and_lrem_keep_positions_dense(machine: KvStateMachine, where: bytes) -> None:
    model = [b"%d" % i for i in range(50)]
    apply(machine, (b"rpush", b"l", *model))
    for pivot in (b"0", b"49", b"10", b"40", b"25"):
        index = model.index(pivot) + (where == b"after")
        model.insert(index, b"new" + pivot)
        assert apply(machine, (b"linsert", b"l", where, pivot, b"new" + pivot)) == (len(model),)
    for count, element in ((1, b"new10"), (-1, b"new40"), (0, b"3")):
        apply(machine, (b"lrem", b"l", b"%d" % count, element))
        model.remove(element)
    replies = apply(
        machine, (b"lrange", b"l", b"0", b"-1"), (b"llen", b"l"),
        *((b"lindex", b"l", b"%d" % i) for i in range(-len(model), len(model))),
    )  # fmt: skip
    assert replies == (model, len(model), *model, *model)


def test_an_emptied_list_is_deleted_by_every_command_that_empties_it(
    machine: KvStateMachine,
) -> None:
    for command in (
        (b"lpop", b"l"), (b"rpop", b"l", b"5"), (b"lrem", b"l", b"0", b"a"),
        (b"ltrim", b"l", b"1", b"0"), (b"lmove", b"l", b"m", b"left", b"left"),
        (b"lmpop", b"1", b"l", b"left"), (b"blpop", b"l", b"0"),
    ):  # fmt: skip
        apply(machine, (b"del", b"l", b"m"), (b"rpush", b"l", b"a"))
        apply(machine, command)
        assert apply(machine, (b"exists", b"l"), (b"type", b"l")) == (0, SimpleString("none"))
    assert machine.key_count == 0


def test_watch_sees_every_write_to_a_list(machine: KvStateMachine) -> None:
    apply(machine, (b"rpush", b"l", b"a", b"b"))
    for command in (
        (b"lset", b"l", b"0", b"a"),  # the same value
        (b"ltrim", b"l", b"0", b"-1"),  # removes nothing
        (b"lmove", b"l", b"l", b"left", b"right"),
        (b"rpush", b"l", b"c"),
    ):
        seen = fingerprint(machine.get(b"l"))
        apply(machine, command)
        assert apply(machine, exec_header([(b"l", seen)]), (b"llen", b"l")) == (NULL_ARRAY,)
    seen = fingerprint(machine.get(b"l"))
    apply(machine, (b"lrange", b"l", b"0", b"-1"), (b"lpos", b"l", b"a"))  # reads: no change
    assert apply(machine, exec_header([(b"l", seen)]), (b"llen", b"l")) == ([3],)


def test_a_command_on_another_type_changes_nothing(machine: KvStateMachine) -> None:
    apply(machine, (b"set", b"s", b"x"), (b"rpush", b"l", b"a"))
    wrongtype = ErrorReply("WRONGTYPE Operation against a key holding the wrong kind of value")
    # LMOVE checks the destination before popping: the source keeps its element.
    assert apply(machine, (b"lmove", b"l", b"s", b"left", b"left")) == (wrongtype,)
    assert apply(machine, (b"blmpop", b"0", b"2", b"s", b"l", b"left")) == (wrongtype,)
    assert apply(machine, (b"lrange", b"l", b"0", b"-1"), (b"get", b"s")) == ([b"a"], b"x")


@pytest.mark.parametrize(
    ("setup", "command", "expected"),
    [
        ((), (b"lpush", b"l", b"a", b"b"), [(b"lpush", b"l")]),
        ((), (b"rpushx", b"l", b"a"), []),
        (((b"rpush", b"l", b"a"),), (b"rpushx", b"l", b"b"), [(b"rpush", b"l")]),
        (((b"rpush", b"l", b"a", b"b"),), (b"lpop", b"l"), [(b"lpop", b"l")]),
        (((b"rpush", b"l", b"a"),), (b"rpop", b"l", b"3"), [(b"rpop", b"l"), (b"del", b"l")]),
        (((b"rpush", b"l", b"a"),), (b"lpop", b"l", b"0"), []),
        (((b"rpush", b"l", b"a"),), (b"lset", b"l", b"0", b"b"), [(b"lset", b"l")]),
        (((b"rpush", b"l", b"a"),), (b"linsert", b"l", b"before", b"a", b"z"),
         [(b"linsert", b"l")]),
        (((b"rpush", b"l", b"a"),), (b"linsert", b"l", b"before", b"q", b"z"), []),
        (((b"rpush", b"l", b"a", b"b"),), (b"lrem", b"l", b"0", b"a"), [(b"lrem", b"l")]),
        (((b"rpush", b"l", b"a"),), (b"lrem", b"l", b"0", b"a"), [(b"lrem", b"l"), (b"del", b"l")]),
        (((b"rpush", b"l", b"a"),), (b"ltrim", b"l", b"0", b"-1"), [(b"ltrim", b"l")]),
        (((b"rpush", b"l", b"a"),), (b"ltrim", b"l", b"1", b"0"),
         [(b"ltrim", b"l"), (b"del", b"l")]),
        (((b"rpush", b"l", b"a"),), (b"lmove", b"l", b"m", b"left", b"right"),
         [(b"rpush", b"m"), (b"lpop", b"l"), (b"del", b"l")]),
        (((b"rpush", b"l", b"a", b"b"),), (b"rpoplpush", b"l", b"l"),
         [(b"lpush", b"l"), (b"rpop", b"l")]),
        (((b"rpush", b"l", b"a"),), (b"lmpop", b"2", b"x", b"l", b"right"),
         [(b"rpop", b"l"), (b"del", b"l")]),
        (((b"rpush", b"l", b"a", b"b"),), (b"blpop", b"l", b"0"), [(b"lpop", b"l")]),
    ],
)  # fmt: skip
def test_keyspace_events(
    machine: KvStateMachine,
    setup: tuple[tuple[bytes, ...], ...],
    command: tuple[bytes, ...],
    expected: list[tuple[bytes, bytes]],
) -> None:
    if setup:
        apply(machine, *setup)
    recorder = Recorder()
    machine.notifier = recorder
    apply(machine, command)
    assert recorder.events == expected
