"""Hashes on the state machine against a Python model (hypothesis).

Random hash and key commands are grouped into entries, entries into apply runs (so later
entries read earlier ones through the transaction's overlay), with garbage sweeps and
reloads of the machine between runs; every reply and the final contents must match a
dict-of-dicts model."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from keyspace_model import key_command

from seshat_trio.kv.operations import Operation, encode_operation
from seshat_trio.kv.parsing import parse_int
from seshat_trio.kv.state_machine import KvStateMachine
from seshat_trio.protocol import ErrorReply, Reply
from seshat_trio.storage import Store

GROUP = 1
WRONGTYPE = ErrorReply("WRONGTYPE Operation against a key holding the wrong kind of value")

keys = st.sampled_from([b"a", b"b", b"c"])
fields = st.sampled_from([b"f0", b"f1", b"f2", b"f3", b""])
values = st.sampled_from([b"1", b"-7", b"x", b"", b"9223372036854775807"])
commands = st.one_of(
    st.tuples(st.just(b"hset"), keys, fields, values),
    st.tuples(st.just(b"hset"), keys, fields, values, fields, values),
    st.tuples(st.just(b"hsetnx"), keys, fields, values),
    st.tuples(st.just(b"hdel"), keys, fields),
    st.tuples(st.just(b"hdel"), keys, fields, fields),
    st.tuples(st.just(b"hget"), keys, fields),
    st.tuples(st.just(b"hmget"), keys, fields, fields),
    st.tuples(st.just(b"hlen"), keys),
    st.tuples(st.just(b"hexists"), keys, fields),
    st.tuples(st.just(b"hstrlen"), keys, fields),
    st.tuples(st.just(b"hgetall"), keys),
    st.tuples(st.just(b"hincrby"), keys, fields, st.sampled_from([b"1", b"-3", b"100"])),
    st.tuples(st.just(b"del"), keys),
    st.tuples(st.just(b"set"), keys, values),
    st.tuples(st.just(b"rename"), keys, keys),
    st.tuples(st.just(b"copy"), keys, keys),
    st.tuples(st.just(b"type"), keys),
    st.tuples(st.just(b"flushall")),
)
# An apply run: entries of commands, applied together.
runs = st.lists(st.lists(st.lists(commands, min_size=1, max_size=3), min_size=1, max_size=4))


class Model:
    def __init__(self) -> None:
        self.data: dict[bytes, dict[bytes, bytes] | bytes] = {}

    def hash(self, key: bytes) -> dict[bytes, bytes] | None:
        value = self.data.get(key)
        if isinstance(value, bytes):
            raise TypeError
        return value

    def run(self, command: tuple[bytes, ...]) -> Reply:
        try:
            return self._run(command[0], command[1:])
        except TypeError:
            return WRONGTYPE

    def _run(self, name: bytes, args: tuple[bytes, ...]) -> Reply:
        data = self.data
        if name == b"hset":
            h = self.hash(args[0]) or {}
            added = 0
            for field, value in zip(args[1::2], args[2::2], strict=True):
                added += field not in h
                h[field] = value
            data[args[0]] = h
            return added
        if name == b"hsetnx":
            h = self.hash(args[0]) or {}
            if args[1] in h:
                return 0
            h[args[1]] = args[2]
            data[args[0]] = h
            return 1
        if name == b"hdel":
            h = self.hash(args[0])
            if h is None:
                return 0
            deleted = sum(h.pop(f, None) is not None for f in args[1:])
            if not h:
                del data[args[0]]
            return deleted
        if name in (b"hget", b"hexists", b"hstrlen"):
            value = (self.hash(args[0]) or {}).get(args[1])
            if name == b"hget":
                return value
            return int(value is not None) if name == b"hexists" else len(value or b"")
        if name == b"hmget":
            h = self.hash(args[0]) or {}
            return [h.get(f) for f in args[1:]]
        if name == b"hlen":
            return len(self.hash(args[0]) or {})
        if name == b"hgetall":
            return dict(self.hash(args[0]) or {})
        if name == b"hincrby":
            h = self.hash(args[0]) or {}
            current = parse_int(h.get(args[1], b"0"))
            if current is None:
                return ErrorReply("ERR hash value is not an integer")
            result = current + int(args[2])
            if result >= 2**63:
                return ErrorReply("ERR increment or decrement would overflow")
            h[args[1]] = b"%d" % result
            data[args[0]] = h
            return result
        return key_command(data, name, args, "hash")


def normalize(command: tuple[bytes, ...], reply: Reply) -> Reply:
    return dict(reply) if command[0] == b"hgetall" and isinstance(reply, dict) else reply


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)  # fmt: skip
@given(runs=st.lists(runs, max_size=4), reload_after=st.lists(st.booleans(), max_size=4))
def test_hashes_match_a_model(
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
                for (_, _), result, commands in zip(entries, results, batch, strict=True):
                    for command, reply in zip(commands, result.replies, strict=True):
                        expected = model.run(command)
                        assert normalize(command, reply) == expected, command
            if number < len(reload_after) and reload_after[number]:
                while store.sweep_garbage(3):
                    pass
                machine = KvStateMachine(store, GROUP)
        assert machine.key_count == len(model.data)
        for key, value in model.data.items():
            name = b"get" if isinstance(value, bytes) else b"hgetall"
            (index_reply,) = machine.apply(
                [(index + 1, encode_operation(Operation(1000, ((name, key),))))]
            )
            index += 1
            assert normalize((name,), index_reply.replies[0]) == value
