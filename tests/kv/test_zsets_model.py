"""Sorted sets on the state machine against a Python model (hypothesis).

The model is a dict of {member: score}, ranges taken from its items sorted by (score,
member). Random commands are grouped into entries, entries into apply runs (later entries
read earlier ones through the overlay), with garbage sweeps and reloads between runs; every
reply and the final contents must match."""

from __future__ import annotations

import math
import tempfile
from itertools import dropwhile, takewhile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seshat_trio.kv.operations import Operation, encode_operation
from seshat_trio.kv.state_machine import KvStateMachine
from seshat_trio.protocol import ErrorReply, Pairs, Reply, SimpleString
from seshat_trio.storage import Store

GROUP = 1
OK = SimpleString("OK")
WRONGTYPE = ErrorReply("WRONGTYPE Operation against a key holding the wrong kind of value")

keys = st.sampled_from([b"a", b"b", b"c"])
members = st.sampled_from([b"m0", b"m1", b"m2", b"m3", b"", b"m10"])
scores = st.sampled_from([b"0", b"1", b"-1", b"2.5", b"inf", b"-inf", b"1e300", b"-0"])
indexes = st.sampled_from([b"0", b"1", b"-1", b"-2", b"3", b"100"])
score_bounds = st.sampled_from([b"-inf", b"+inf", b"0", b"(0", b"1", b"(1", b"2.5", b"(inf"])
lex_bounds = st.sampled_from([b"-", b"+", b"[m1", b"(m1", b"[m", b"(m3", b"[", b"(m10"])
flags = st.lists(st.sampled_from([b"NX", b"XX", b"GT", b"LT", b"CH"]), max_size=2, unique=True)
commands = st.one_of(
    st.tuples(st.just(b"zadd"), keys, flags, st.lists(st.tuples(scores, members), min_size=1,
                                                       max_size=3)).map(
        lambda d: (d[0], d[1], *d[2], *(p for pair in d[3] for p in pair))),
    st.tuples(st.just(b"zincrby"), keys, scores, members),
    st.tuples(st.just(b"zrem"), keys, members, members),
    st.tuples(st.just(b"zscore"), keys, members),
    st.tuples(st.just(b"zcard"), keys),
    st.tuples(st.sampled_from([b"zrank", b"zrevrank"]), keys, members),
    st.tuples(st.just(b"zrange"), keys, indexes, indexes),
    st.tuples(st.just(b"zrange"), keys, indexes, indexes, st.just(b"withscores")),
    st.tuples(st.just(b"zrevrange"), keys, indexes, indexes),
    st.tuples(st.sampled_from([b"zrangebyscore", b"zcount", b"zremrangebyscore"]), keys,
              score_bounds, score_bounds),
    st.tuples(st.sampled_from([b"zrangebylex", b"zlexcount", b"zrevrangebylex"]), keys,
              lex_bounds, lex_bounds),
    st.tuples(st.sampled_from([b"zpopmin", b"zpopmax"]), keys, st.sampled_from([b"1", b"2"])),
    st.tuples(st.just(b"zremrangebyrank"), keys, indexes, indexes),
    st.tuples(st.just(b"zunionstore"), keys, st.just(b"2"), keys, keys),
    st.tuples(st.just(b"del"), keys),
    st.tuples(st.just(b"set"), keys, members),
    st.tuples(st.just(b"rename"), keys, keys),
)  # fmt: skip
runs = st.lists(st.lists(st.lists(commands, min_size=1, max_size=3), min_size=1, max_size=4))

Z = dict[bytes, float]


def strtod(text: bytes) -> float:
    return float(text)


def score_bound(text: bytes) -> tuple[float, bool]:
    return (float(text[1:]), True) if text.startswith(b"(") else (float(text), False)


def lex_key(text: bytes) -> tuple[int, bytes, bool]:
    """(kind, string, exclusive): '-' is kind -1, '+' kind 1."""
    if text in (b"-", b"+"):
        return (-1 if text == b"-" else 1), b"", True
    return 0, text[1:], text.startswith(b"(")


class Model:
    def __init__(self) -> None:
        self.data: dict[bytes, Z | bytes] = {}

    def zset(self, key: bytes) -> Z:
        value = self.data.get(key, {})
        if isinstance(value, bytes):
            raise TypeError
        return value

    def ordered(self, key: bytes) -> list[tuple[bytes, float]]:
        return sorted(self.zset(key).items(), key=lambda item: (item[1], item[0]))

    def run(self, command: tuple[bytes, ...]) -> Reply:
        try:
            return self._run(command[0], command[1:])
        except TypeError:
            return WRONGTYPE

    def _store(self, key: bytes, z: Z) -> None:
        if z:
            self.data[key] = z
        else:
            self.data.pop(key, None)

    def _zadd(self, args: tuple[bytes, ...]) -> Reply:
        key, rest = args[0], list(args[1:])
        options = set()
        while rest and rest[0] in (b"NX", b"XX", b"GT", b"LT", b"CH"):
            options.add(rest.pop(0))
        if {b"NX", b"XX"} <= options:
            return ErrorReply("ERR XX and NX options at the same time are not compatible")
        if (b"NX" in options and options & {b"GT", b"LT"}) or {b"GT", b"LT"} <= options:
            return ErrorReply("ERR GT, LT, and/or NX options at the same time are not compatible")
        z = dict(self.zset(key))
        changed = 0
        added = 0
        for score_text, member in zip(rest[::2], rest[1::2], strict=True):
            score = strtod(score_text)
            if member in z:
                old = z[member]
                if (
                    b"NX" in options
                    or (b"GT" in options and score <= old)
                    or (b"LT" in options and score >= old)
                ):
                    continue
                changed += score != old
                z[member] = score
            elif b"XX" not in options:
                added += 1
                z[member] = score
        self._store(key, z)
        return added + changed if b"CH" in options else added

    def _run(self, name: bytes, args: tuple[bytes, ...]) -> Reply:
        data = self.data
        if name == b"zadd":
            return self._zadd(args)
        if name == b"zincrby":
            z = dict(self.zset(args[0]))
            result = z.get(args[2], 0.0) + strtod(args[1])
            if math.isnan(result):
                return ErrorReply("ERR resulting score is not a number (NaN)")
            z[args[2]] = result
            self._store(args[0], z)
            return result
        if name == b"zrem":
            z = dict(self.zset(args[0]))
            removed = sum(z.pop(m, None) is not None for m in dict.fromkeys(args[1:]))
            self._store(args[0], z)
            return removed
        if name == b"zscore":
            return self.zset(args[0]).get(args[1])
        if name == b"zcard":
            return len(self.zset(args[0]))
        if name in (b"zrank", b"zrevrank"):
            ordered = [m for m, _ in self.ordered(args[0])]
            if name == b"zrevrank":
                ordered.reverse()
            return ordered.index(args[1]) if args[1] in ordered else None
        if name in (b"zrange", b"zrevrange", b"zremrangebyrank"):
            ordered = self.ordered(args[0])
            if name == b"zrevrange":
                ordered.reverse()
            size = len(ordered)
            start, end = int(args[1]), int(args[2])
            start, end = (
                max(start + size if start < 0 else start, 0),
                end + size if end < 0 else end,
            )
            picked = ordered[start : end + 1] if start <= end else []
            if name == b"zremrangebyrank":
                z = dict(self.zset(args[0]))
                for member, _ in picked:
                    del z[member]
                self._store(args[0], z)
                return len(picked)
            return Pairs(picked) if len(args) == 4 else [m for m, _ in picked]
        if name in (b"zrangebyscore", b"zcount", b"zremrangebyscore"):
            (low, low_ex), (high, high_ex) = score_bound(args[1]), score_bound(args[2])
            picked = [
                (m, s) for m, s in self.ordered(args[0])
                if (s > low if low_ex else s >= low) and (s < high if high_ex else s <= high)
            ]  # fmt: skip
            if name == b"zrangebyscore":
                return [m for m, _ in picked]
            if name == b"zremrangebyscore":
                z = dict(self.zset(args[0]))
                for member, _ in picked:
                    del z[member]
                self._store(args[0], z)
            return len(picked)
        if name in (b"zrangebylex", b"zlexcount", b"zrevrangebylex"):
            reverse = name == b"zrevrangebylex"
            low, high = (args[2], args[1]) if reverse else (args[1], args[2])
            lo, hi = lex_key(low), lex_key(high)
            empty = (lo[:2] > hi[:2]) or (lo[:2] == hi[:2] and (lo[2] or hi[2]))

            def above(m: bytes) -> bool:
                return (0, m) > lo[:2] if lo[2] else (0, m) >= lo[:2]

            def below(m: bytes) -> bool:
                return (0, m) < hi[:2] if hi[2] else (0, m) <= hi[:2]

            ordered = [m for m, _ in self.ordered(args[0])]
            if empty or not ordered or not above(ordered[-1]) or not below(ordered[0]):
                picked = []
            else:  # Redis's walk over a small sorted set (listpack), t_zset.c
                enter, stay = (below, above) if reverse else (above, below)
                walk = reversed(ordered) if reverse else ordered
                picked = list(takewhile(stay, dropwhile(lambda m: not enter(m), walk)))
            return len(picked) if name == b"zlexcount" else picked
        if name in (b"zpopmin", b"zpopmax"):
            ordered = self.ordered(args[0])
            if name == b"zpopmax":
                ordered.reverse()
            picked = ordered[: int(args[1])]
            z = dict(self.zset(args[0]))
            for member, _ in picked:
                del z[member]
            self._store(args[0], z)
            return Pairs(picked)
        if name == b"zunionstore":
            first, second = self.zset(args[2]), self.zset(args[3])
            sources = sorted([first, second], key=len)
            union: Z = {}
            for source in sources:
                for member, score in source.items():
                    total = union.get(member, 0.0) + score if member in union else score
                    union[member] = 0.0 if math.isnan(total) else total
            self._store(args[0], union)
            return len(union)
        if name == b"del":
            return int(data.pop(args[0], None) is not None)
        if name == b"set":
            data[args[0]] = args[1]
            return OK
        assert name == b"rename"
        if args[0] not in data:
            return ErrorReply("ERR no such key")
        data[args[1]] = data.pop(args[0])
        return OK


def plain(reply: Reply) -> Reply:
    """No pairs and no members are the same reply on the wire."""
    return [] if isinstance(reply, Pairs) and not reply.items else reply


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs=st.lists(runs, max_size=4), reload_after=st.lists(st.booleans(), max_size=4))
def test_sorted_sets_match_a_model(
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
                        assert plain(reply) == plain(model.run(command)), command
            if number < len(reload_after) and reload_after[number]:
                while store.sweep_garbage(3):
                    pass
                machine = KvStateMachine(store, GROUP)
        assert machine.key_count == len(model.data)
        for key, value in model.data.items():
            command = (
                (b"get", key)
                if isinstance(value, bytes)
                else (b"zrange", key, b"0", b"-1", b"withscores")
            )
            index += 1
            (final,) = machine.apply([(index, encode_operation(Operation(1000, (command,))))])
            expected = value if isinstance(value, bytes) else Pairs(model.ordered(key))
            assert final.replies[0] == expected, key
