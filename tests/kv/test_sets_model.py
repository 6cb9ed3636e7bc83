"""Sets on the state machine against a Python model (hypothesis), and what a set command
costs.

Random set and key commands are grouped into entries, entries into apply runs (so later
entries read earlier ones through the transaction's overlay), with garbage sweeps and
reloads of the machine between runs; every reply and the final contents must match a
dict-of-sets model. Random picks (SPOP, SRANDMEMBER) are checked against the model and the
model then follows the machine's choice; a second machine applying the same entries must
make the same choices (SPOP is decided by the entry, not by the node)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from keyspace_model import key_command
from test_collections import CountingStore, data_records

from seshat_trio.kv.operations import Operation, encode_operation
from seshat_trio.kv.state_machine import KvStateMachine
from seshat_trio.protocol import ErrorReply, OrderedSet, Reply
from seshat_trio.storage import Store

GROUP = 1
WRONGTYPE = ErrorReply("WRONGTYPE Operation against a key holding the wrong kind of value")

keys = st.sampled_from([b"a", b"b", b"c"])
members = st.sampled_from([b"m0", b"m1", b"m2", b"3", b""])
counts = st.sampled_from([b"0", b"1", b"2", b"5"])
commands = st.one_of(
    st.tuples(st.just(b"sadd"), keys, members),
    st.tuples(st.just(b"sadd"), keys, members, members, members),
    st.tuples(st.just(b"srem"), keys, members),
    st.tuples(st.just(b"srem"), keys, members, members),
    st.tuples(st.just(b"scard"), keys),
    st.tuples(st.just(b"sismember"), keys, members),
    st.tuples(st.just(b"smismember"), keys, members, members),
    st.tuples(st.just(b"smembers"), keys),
    st.tuples(st.just(b"spop"), keys),
    st.tuples(st.just(b"spop"), keys, counts),
    st.tuples(st.just(b"srandmember"), keys, st.sampled_from([b"2", b"-3", b"9"])),
    st.tuples(st.just(b"smove"), keys, keys, members),
    st.tuples(st.sampled_from([b"sinter", b"sunion", b"sdiff"]), keys, keys),
    st.tuples(st.sampled_from([b"sinterstore", b"sunionstore", b"sdiffstore"]), keys, keys, keys),
    st.tuples(st.just(b"sintercard"), st.just(b"2"), keys, keys),
    st.tuples(st.just(b"del"), keys),
    st.tuples(st.just(b"set"), keys, members),
    st.tuples(st.just(b"rename"), keys, keys),
    st.tuples(st.just(b"copy"), keys, keys),
    st.tuples(st.just(b"type"), keys),
    st.tuples(st.just(b"flushall")),
)
# An apply run: entries of commands, applied together.
runs = st.lists(st.lists(st.lists(commands, min_size=1, max_size=3), min_size=1, max_size=4))
UNORDERED = {b"smembers", b"sinter", b"sunion", b"sdiff", b"spop", b"srandmember"}


class Model:
    def __init__(self) -> None:
        self.data: dict[bytes, set[bytes] | bytes] = {}

    def set(self, key: bytes) -> set[bytes]:
        value = self.data.get(key, set())
        if isinstance(value, bytes):
            raise TypeError
        return value

    def store(self, key: bytes, members: set[bytes]) -> None:
        if members:
            self.data[key] = members
        else:
            self.data.pop(key, None)

    def run(self, command: tuple[bytes, ...], got: Reply) -> Reply:
        """The model's reply; `got` is the machine's, whose random picks the model follows."""
        try:
            return self._run(command[0], command[1:], got)
        except TypeError:
            return WRONGTYPE

    def _run(self, name: bytes, args: tuple[bytes, ...], got: Reply) -> Reply:
        if name == b"sadd":
            s = self.set(args[0])
            before = len(s)
            s.update(args[1:])
            self.store(args[0], s)
            return len(s) - before
        if name == b"srem":
            s = self.set(args[0])
            removed = len(s & set(args[1:]))
            self.store(args[0], s - set(args[1:]))
            return removed
        if name == b"scard":
            return len(self.set(args[0]))
        if name == b"sismember":
            return int(args[1] in self.set(args[0]))
        if name == b"smismember":
            s = self.set(args[0])
            return [int(m in s) for m in args[1:]]
        if name == b"smembers":
            return sorted(self.set(args[0]))
        if name == b"spop":
            s = self.set(args[0])
            if len(args) == 1:
                if not s:
                    return None
                assert isinstance(got, bytes) and got in s
                self.store(args[0], s - {got})
                return got
            count = int(args[1])
            assert isinstance(got, list) and len(got) == min(count, len(s))
            assert set(got) <= s and len(set(got)) == len(got)
            self.store(args[0], s - set(got))
            return sorted(got)
        if name == b"srandmember":
            s, count = self.set(args[0]), int(args[1])
            assert isinstance(got, list) and set(got) <= s
            assert len(got) == (0 if not s else -count if count < 0 else min(count, len(s)))
            return sorted(got)
        if name == b"smove":
            if args[0] not in self.data:
                return 0
            src, dst = self.set(args[0]), self.set(args[1])
            if args[0] == args[1]:
                return int(args[2] in src)
            if args[2] not in src:
                return 0
            self.store(args[0], src - {args[2]})
            self.store(args[1], dst | {args[2]})
            return 1
        if name in (b"sinter", b"sunion", b"sdiff", b"sintercard"):
            return self._algebra(name, args[1:] if name == b"sintercard" else args)
        if name.endswith(b"store"):
            result = self._algebra(name[:-5], args[1:])
            assert isinstance(result, list)
            self.data.pop(args[0], None)
            self.store(args[0], set(result))
            return len(result)
        return key_command(self.data, name, args, "set")

    def _algebra(self, name: bytes, keys: tuple[bytes, ...]) -> Reply:
        sets = [self.set(key) for key in keys]
        if name == b"sdiff":
            result = sets[0].difference(*sets[1:])
        elif name == b"sunion":
            result = set().union(*sets)
        else:
            result = sets[0].intersection(*sets[1:])
        return len(result) if name == b"sintercard" else sorted(result)


def exact(replies: tuple[Reply, ...]) -> list[Reply]:
    """Replies with sets as lists: their order must match too."""
    return [list(r) if isinstance(r, OrderedSet) else r for r in replies]


def normalize(command: tuple[bytes, ...], reply: Reply) -> Reply:
    if command[0] in UNORDERED and isinstance(reply, list | OrderedSet):
        return sorted(reply)
    return reply


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)  # fmt: skip
@given(runs=st.lists(runs, max_size=4), reload_after=st.lists(st.booleans(), max_size=4))
def test_sets_match_a_model(
    runs: list[list[list[list[tuple[bytes, ...]]]]], reload_after: list[bool]
) -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        Store.open(Path(tmp) / "db") as store,
        Store.open(Path(tmp) / "twin") as twin_store,
    ):
        machine, twin = KvStateMachine(store, GROUP), KvStateMachine(twin_store, GROUP)
        model = Model()
        index = 0
        for number, run in enumerate(runs):
            for batch in run:
                entries = []
                for commands in batch:
                    index += 1
                    entries.append((index, encode_operation(Operation(1000, tuple(commands)))))
                results = machine.apply(entries)
                twins = twin.apply(entries)
                for result, twin_result, commands in zip(results, twins, batch, strict=True):
                    assert exact(twin_result.replies) == exact(result.replies)  # same picks
                    for command, reply in zip(commands, result.replies, strict=True):
                        expected = model.run(command, normalize(command, reply))
                        assert normalize(command, reply) == expected, command
            if number < len(reload_after) and reload_after[number]:
                while store.sweep_garbage(3):
                    pass
                machine = KvStateMachine(store, GROUP)
        assert machine.key_count == len(model.data)
        for key, value in model.data.items():
            name = b"get" if isinstance(value, bytes) else b"smembers"
            (index_reply,) = machine.apply(
                [(index + 1, encode_operation(Operation(1000, ((name, key),))))]
            )
            index += 1
            reply = index_reply.replies[0]
            assert (reply if isinstance(value, bytes) else set(reply)) == value  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "db") as s:
        yield s


def test_a_set_command_costs_what_it_touches(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    machine = KvStateMachine(store, GROUP)

    def apply(*commands: tuple[bytes, ...]) -> tuple[Reply, ...]:
        entry = encode_operation(Operation(1000, commands))
        (result,) = machine.apply([(machine.applied_index + 1, entry)])
        return result.replies

    for start in range(0, 20_000, 5000):
        apply((b"sadd", b"big", *(b"m%d" % i for i in range(start, start + 5000))))
    apply((b"sadd", b"small", b"m1", b"m2", b"zz"))
    counter = CountingStore(store)
    counter.install(monkeypatch)
    records_before = data_records(store)
    assert apply((b"sadd", b"big", b"new", b"m7"), (b"srem", b"big", b"m8")) == (1, 1)
    assert apply((b"sismember", b"big", b"m9"), (b"smismember", b"big", b"m1", b"x")) == (
        1,
        [1, 0],
    )
    assert apply((b"scard", b"big"), (b"smove", b"big", b"small", b"m10")) == (20_000, 1)
    assert counter.scans == 0 and counter.gets <= 8
    # SINTER walks the smallest set only: one scan, a lookup per member in the big one.
    (inter,) = apply((b"sinter", b"big", b"small"))
    assert isinstance(inter, OrderedSet) and set(inter) == {b"m1", b"m2"}  # m10 left big
    assert counter.scans == 1 and counter.gets <= 8 + 4
    assert data_records(store) == records_before  # new added, m8 gone, m10 moved
