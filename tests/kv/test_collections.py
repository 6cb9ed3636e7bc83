"""Collections on the state machine: element records live exactly as long as their version,
garbage is swept without changing what any read sees, a command costs what it touches,
WATCH sees every write, and the overlay of one apply run behaves like separate writes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from seshat_trio.kv import registry
from seshat_trio.kv.collections import member_suffix
from seshat_trio.kv.multi import exec_header, fingerprint
from seshat_trio.kv.operations import Operation, encode_operation
from seshat_trio.kv.state_machine import INTERNAL_ERROR, KvStateMachine
from seshat_trio.kv.view import WritableView
from seshat_trio.protocol import NULL_ARRAY, Reply, SimpleString
from seshat_trio.storage import Store, keys

GROUP = 1
OK = SimpleString("OK")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "db") as s:
        yield s


@pytest.fixture
def machine(store: Store) -> KvStateMachine:
    return KvStateMachine(store, GROUP)


def entry(*commands: tuple[bytes, ...], time_ms: int = 1000) -> bytes:
    return encode_operation(Operation(time_ms, commands))


def apply(
    sm: KvStateMachine, *commands: tuple[bytes, ...], time_ms: int = 1000
) -> tuple[Reply, ...]:
    (result,) = sm.apply([(sm.applied_index + 1, entry(*commands, time_ms=time_ms))])
    return result.replies


def data_records(store: Store) -> int:
    return sum(1 for _ in store._db.iterator(prefix=keys.values_prefix(GROUP)))


def sweep(store: Store) -> None:
    while store.sweep_garbage(7):
        pass


def hset(key: bytes, count: int, tag: bytes = b"v") -> tuple[bytes, ...]:
    return (b"hset", key, *(part for i in range(count) for part in (b"f%d" % i, tag)))


def test_deleted_expired_and_overwritten_hashes_leave_garbage_the_sweep_removes(
    machine: KvStateMachine, store: Store
) -> None:
    apply(machine, hset(b"a", 50), hset(b"b", 50), hset(b"c", 50), hset(b"d", 50))
    apply(machine, (b"pexpire", b"c", b"10"))
    assert data_records(store) == 4 + 200
    assert apply(machine, (b"del", b"a"), (b"set", b"b", b"string")) == (1, OK)
    assert apply(machine, (b"purge", b"c"), time_ms=2000) == (1,)  # the leader's expiry
    assert apply(machine, (b"rename", b"d", b"e")) == (OK,)
    assert machine.key_count == 2
    assert data_records(store) > 2 + 50  # garbage, unreachable by any read
    assert apply(machine, (b"hgetall", b"e"))[0] == {b"f%d" % i: b"v" for i in range(50)}
    sweep(store)
    assert data_records(store) == 2 + 50  # b (a string) and e's 50 fields
    assert apply(machine, (b"hlen", b"e"), (b"get", b"b")) == (50, b"string")


def test_one_run_that_creates_deletes_and_recreates_stores_only_the_last_version(
    machine: KvStateMachine, store: Store
) -> None:
    first = entry(hset(b"k", 10, b"old"), (b"del", b"k"))
    second = entry(hset(b"k", 3, b"new"), (b"hdel", b"k", b"f0"), (b"hlen", b"k"))
    results = machine.apply([(1, first), (2, second)])
    assert [r.replies for r in results] == [(10, 1), (3, 1, 2)]
    assert data_records(store) == 1 + 2  # nothing of the first version reached LevelDB
    assert not store.garbage_pending or store.sweep_garbage() == 0
    assert apply(machine, (b"hgetall", b"k"))[0] == {b"f1": b"new", b"f2": b"new"}


def test_flushall_drops_every_collection_at_once(machine: KvStateMachine, store: Store) -> None:
    apply(machine, hset(b"a", 100), hset(b"b", 100))
    assert apply(machine, (b"flushall",), hset(b"c", 2), (b"dbsize",)) == (OK, 2, 1)
    assert machine.key_count == 1
    sweep(store)
    assert data_records(store) == 1 + 2


def test_a_failing_command_rolls_back_element_writes(machine: KvStateMachine) -> None:
    def explode(view: WritableView, args: registry.Args) -> Reply:
        version = view.new_version()
        view.put_element(b"h", version, member_suffix(b"x"), b"half")
        raise ZeroDivisionError

    apply(machine, hset(b"h", 2))
    registry.write("explode-hash", registry.args_as_is, explode, None)
    try:
        replies = apply(
            machine, (b"hset", b"h", b"f0", b"changed", b"f9", b"new"), (b"explode-hash",)
        )
    finally:
        del registry.WRITES[b"explode-hash"]
    assert replies == (INTERNAL_ERROR, INTERNAL_ERROR)
    assert apply(machine, (b"hgetall", b"h"))[0] == {b"f0": b"v", b"f1": b"v"}


def test_watch_sees_every_write_to_a_hash(machine: KvStateMachine) -> None:
    apply(machine, (b"hset", b"h", b"f", b"same"))
    seen = fingerprint(machine.get(b"h"))
    # The same value written again: the metadata's stamp changes, so WATCH aborts EXEC.
    apply(machine, (b"hset", b"h", b"f", b"same"))
    assert apply(machine, exec_header([(b"h", seen)]), (b"hget", b"h", b"f")) == (NULL_ARRAY,)
    seen = fingerprint(machine.get(b"h"))
    apply(machine, (b"hget", b"h", b"f"), (b"hexists", b"h", b"f"))  # reads change nothing
    assert apply(machine, exec_header([(b"h", seen)]), (b"hlen", b"h")) == ([1],)
    apply(machine, (b"expire", b"h", b"100"))
    apply(machine, (b"persist", b"h"))  # back to no expiry: still a change
    assert apply(machine, exec_header([(b"h", seen)]), (b"hlen", b"h")) == (NULL_ARRAY,)


class CountingStore:
    """Counts the element reads a store serves (a command must cost what it touches)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.gets = 0
        self.scans = 0

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        get, scan = self.store.get_element, self.store.iter_elements

        def counted_get(*args: object) -> object:
            self.gets += 1
            return get(*args)  # type: ignore[arg-type]

        def counted_scan(*args: object, **kwargs: object) -> object:
            self.scans += 1
            return scan(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(self.store, "get_element", counted_get)
        monkeypatch.setattr(self.store, "iter_elements", counted_scan)


def test_a_hash_command_costs_what_it_touches(
    machine: KvStateMachine, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    for start in range(0, 20_000, 5000):
        fields = (part for i in range(start, start + 5000) for part in (b"f%d" % i, b"v"))
        apply(machine, (b"hset", b"big", *fields))
    counter = CountingStore(store)
    counter.install(monkeypatch)
    writes_before = data_records(store)
    assert apply(machine, (b"hset", b"big", b"new", b"1", b"f7", b"2")) == (1,)
    assert apply(machine, (b"hincrby", b"big", b"new", b"5"), (b"hdel", b"big", b"f8")) == (6, 1)
    assert apply(machine, (b"hget", b"big", b"f9"), (b"hlen", b"big")) == (b"v", 20_000)
    assert counter.scans == 0 and counter.gets <= 6
    assert data_records(store) == writes_before  # one field added, one deleted


def test_the_machine_counts_keys_after_a_reload(store: Store) -> None:
    machine = KvStateMachine(store, GROUP)
    apply(machine, hset(b"h", 30), (b"set", b"s", b"1"), (b"pexpire", b"h", b"500"))
    reloaded = KvStateMachine(store, GROUP)
    assert reloaded.key_count == 2  # metadata records only, not fields
    assert reloaded.due_expiries(2000, 10) == [b"h"]
