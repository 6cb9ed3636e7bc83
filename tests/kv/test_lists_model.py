"""Lists on the state machine against a Python list model (hypothesis).

Random list and key commands are grouped into entries, entries into apply runs (so later
entries read earlier ones through the transaction's overlay), with garbage sweeps and
reloads of the machine between runs; every reply and the final contents must match a
dict-of-lists model."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seshat_trio.kv.operations import Operation, encode_operation
from seshat_trio.kv.state_machine import KvStateMachine
from seshat_trio.protocol import NULL_ARRAY, ErrorReply, Reply, SimpleString
from seshat_trio.storage import Store

GROUP = 1
OK = SimpleString("OK")
WRONGTYPE = ErrorReply("WRONGTYPE Operation against a key holding the wrong kind of value")

keys = st.sampled_from([b"a", b"b", b"c"])
elements = st.sampled_from([b"x", b"y", b"z", b""])
indexes = st.integers(-6, 6).map(lambda i: b"%d" % i)
counts = st.integers(0, 4).map(lambda i: b"%d" % i)
ends = st.sampled_from([b"left", b"right"])
commands = st.one_of(
    st.tuples(st.sampled_from([b"lpush", b"rpush", b"lpushx", b"rpushx"]), keys, elements),
    st.tuples(st.sampled_from([b"lpush", b"rpush"]), keys, elements, elements, elements),
    st.tuples(st.sampled_from([b"lpop", b"rpop"]), keys),
    st.tuples(st.sampled_from([b"lpop", b"rpop"]), keys, counts),
    st.tuples(st.just(b"llen"), keys),
    st.tuples(st.sampled_from([b"lrange", b"ltrim"]), keys, indexes, indexes),
    st.tuples(st.just(b"lindex"), keys, indexes),
    st.tuples(st.just(b"lset"), keys, indexes, elements),
    st.tuples(st.just(b"linsert"), keys, st.sampled_from([b"before", b"after"]), elements,
              elements),
    st.tuples(st.just(b"lrem"), keys, st.integers(-2, 2).map(lambda i: b"%d" % i), elements),
    st.tuples(st.just(b"lpos"), keys, elements, st.just(b"rank"),
              st.sampled_from([b"1", b"2", b"-1", b"-2"]), st.just(b"count"), counts),
    st.tuples(st.just(b"lmove"), keys, keys, ends, ends),
    st.tuples(st.just(b"lmpop"), st.just(b"2"), keys, keys, ends, st.just(b"count"),
              st.sampled_from([b"1", b"3"])),
    st.tuples(st.just(b"blpop"), keys, keys, st.just(b"0")),
    st.tuples(st.just(b"del"), keys),
    st.tuples(st.just(b"set"), keys, elements),
    st.tuples(st.just(b"rename"), keys, keys),
    st.tuples(st.just(b"flushall")),
)  # fmt: skip
runs = st.lists(st.lists(st.lists(commands, min_size=1, max_size=3), min_size=1, max_size=4))


def _clamp(start: int, stop: int, length: int) -> tuple[int, int]:
    start += length if start < 0 else 0
    stop += length if stop < 0 else 0
    start = max(start, 0)
    if start > stop or start >= length:
        return 0, 0
    return start, min(stop, length - 1) + 1


class Model:
    def __init__(self) -> None:
        self.data: dict[bytes, list[bytes] | bytes] = {}

    def list(self, key: bytes) -> list[bytes] | None:
        value = self.data.get(key)
        if isinstance(value, bytes):
            raise TypeError
        return value

    def store(self, key: bytes, value: list[bytes]) -> None:
        if value:
            self.data[key] = value
        else:
            self.data.pop(key, None)

    def run(self, command: tuple[bytes, ...]) -> Reply:
        try:
            return self._run(command[0], command[1:])
        except TypeError:
            return WRONGTYPE

    def _pop(self, key: bytes, end: bytes, count: int) -> list[bytes]:
        lst = self.list(key) or []
        if end == b"left":
            popped, rest = lst[:count], lst[count:]
        else:
            popped, rest = lst[::-1][:count], lst[: max(len(lst) - count, 0)]
        self.store(key, rest)
        return popped

    def _run(self, name: bytes, args: tuple[bytes, ...]) -> Reply:
        key = args[0] if args else b""
        if name in (b"lpush", b"rpush", b"lpushx", b"rpushx"):
            lst = self.list(key)
            if lst is None and name.endswith(b"x"):
                return 0
            lst = lst or []
            for element in args[1:]:
                if name.startswith(b"l"):
                    lst.insert(0, element)
                else:
                    lst.append(element)
            self.store(key, lst)
            return len(lst)
        if name in (b"lpop", b"rpop"):
            end = b"left" if name == b"lpop" else b"right"
            if self.list(key) is None:
                return None if len(args) == 1 else NULL_ARRAY
            if len(args) == 1:
                return self._pop(key, end, 1)[0]
            return self._pop(key, end, int(args[1]))
        if name == b"llen":
            return len(self.list(key) or [])
        if name == b"lrange":
            lst = self.list(key) or []
            return lst[slice(*_clamp(int(args[1]), int(args[2]), len(lst)))]
        if name == b"ltrim":
            lst = self.list(key)
            if lst is not None:
                self.store(key, lst[slice(*_clamp(int(args[1]), int(args[2]), len(lst)))])
            return OK
        if name == b"lindex":
            lst = self.list(key) or []
            index = int(args[1])
            return lst[index] if -len(lst) <= index < len(lst) else None
        if name == b"lset":
            lst = self.list(key)
            if lst is None:
                return ErrorReply("ERR no such key")
            index = int(args[1])
            if not -len(lst) <= index < len(lst):
                return ErrorReply("ERR index out of range")
            lst[index] = args[2]
            return OK
        if name == b"linsert":
            lst = self.list(key)
            if lst is None:
                return 0
            if args[2] not in lst:
                return -1
            lst.insert(lst.index(args[2]) + (args[1] == b"after"), args[3])
            return len(lst)
        if name == b"lrem":
            lst = self.list(key)
            if lst is None:
                return 0
            count, element = int(args[1]), args[2]
            order = list(range(len(lst))) if count >= 0 else list(range(len(lst)))[::-1]
            hits = [i for i in order if lst[i] == element][: abs(count) or None]
            self.store(key, [v for i, v in enumerate(lst) if i not in hits])
            return len(hits)
        if name == b"lpos":
            lst = self.list(key)
            rank, count = int(args[3]), int(args[5])
            if lst is None:
                return []
            order = list(range(len(lst))) if rank > 0 else list(range(len(lst)))[::-1]
            hits = [i for i in order if lst[i] == args[1]][abs(rank) - 1 :]
            return hits[: count or None]
        if name == b"lmove":
            source, dest, wherefrom, whereto = args
            lst = self.list(source)
            if lst is None:
                return None
            self.list(dest)  # its type is checked before anything moves
            (element,) = self._pop(source, wherefrom, 1)
            target = self.list(dest) or []
            target.insert(0 if whereto == b"left" else len(target), element)
            self.store(dest, target)
            return element
        if name == b"lmpop":
            for k in args[1:3]:
                if self.list(k) is not None:
                    return [k, self._pop(k, args[3], int(args[5]))]
            return NULL_ARRAY
        if name == b"blpop":
            for k in args[:2]:
                if self.list(k) is not None:
                    return [k, self._pop(k, b"left", 1)[0]]
            return NULL_ARRAY
        if name == b"del":
            return int(self.data.pop(key, None) is not None)
        if name == b"set":
            self.data[key] = args[1]
            return OK
        if name == b"rename":
            if key not in self.data:
                return ErrorReply("ERR no such key")
            self.data[args[1]] = self.data.pop(key)
            return OK
        assert name == b"flushall"
        self.data.clear()
        return OK


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs=st.lists(runs, max_size=4), reload_after=st.lists(st.booleans(), max_size=4))
def test_lists_match_a_model(
    runs: list[list[list[list[tuple[bytes, ...]]]]], reload_after: list[bool]
) -> None:
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "db") as store:
        machine = KvStateMachine(store, GROUP)
        model = Model()
        index = 0
        for number, run in enumerate(runs):
            for batch in run:
                entries = []
                for commands in batch:
                    index += 1
                    entries.append((index, encode_operation(Operation(1000, tuple(commands)))))
                results = machine.apply(entries)
                for result, commands in zip(results, batch, strict=True):
                    for command, reply in zip(commands, result.replies, strict=True):
                        assert reply == model.run(command), command
            if number < len(reload_after) and reload_after[number]:
                while store.sweep_garbage(3):
                    pass
                machine = KvStateMachine(store, GROUP)
        assert machine.key_count == len(model.data)
        for key, value in model.data.items():
            name = (b"get", key) if isinstance(value, bytes) else (b"lrange", key, b"0", b"-1")
            index += 1
            (final,) = machine.apply([(index, encode_operation(Operation(1000, (name,))))])
            assert final.replies[0] == value
