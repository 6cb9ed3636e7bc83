"""Command strategies for the differential test (differential.py): strings, keys, hashes.

Each strategy draws a `Call` (its normalizer says how its replies compare); `steps` mixes
them with whole SCAN/HSCAN iterations and MULTI/EXEC blocks. Keys, fields and values come
from small pools so that commands meet each other's keys, of every type, often. A new value
type adds its strategies to `CALLS` (and a SCAN-family iteration to `scans` if it has one).
"""

from __future__ import annotations

import attrs
from differential import (
    Call,
    Multi,
    Normalize,
    ScanAll,
    Step,
    as_map,
    as_set,
    how_many,
    plain,
    shape,
    sign,
)
from hypothesis import strategies as st

KEYS = [b"k1", b"k2", b"{t}k3", b"{t}k4"]
FIELDS = [b"f1", b"f2", b"f3", b"", b"f*"]
VALUES = [b"1", b"-7", b"3.5", b"x", b"", b"9223372036854775807", b"1e3", b"10 "]
DISTINCT = [b"0", b"1", b"2", b"5", b"x"]  # counts whose picks are distinct fields
REPEATING = [b"-1", b"-3", b"-9223372036854775808"]  # ... and whose picks may repeat

keys = st.sampled_from(KEYS)
fields = st.sampled_from(FIELDS)
values = st.sampled_from(VALUES)


def call(
    name: str, *parts: st.SearchStrategy[bytes], normalize: Normalize = plain
) -> st.SearchStrategy[Call]:
    """`name` followed by one draw of each part."""
    return st.tuples(*parts).map(lambda args: Call((name.encode(), *args), normalize))


def call_varargs(
    name: str, head: list[st.SearchStrategy[bytes]], repeated: st.SearchStrategy[tuple[bytes, ...]],
    normalize: Normalize = plain, max_size: int = 3,
) -> st.SearchStrategy[Call]:  # fmt: skip
    """`name`, the `head` draws, then 0..max_size draws of `repeated` (flattened)."""
    return st.tuples(st.tuples(*head), st.lists(repeated, max_size=max_size)).map(
        lambda drawn: Call((name.encode(), *drawn[0], *(p for r in drawn[1] for p in r)), normalize)
    )


pairs = st.tuples(fields, values)
one_field = st.tuples(fields)
one_key = st.tuples(keys)

STRINGS = [
    call("SET", keys, values),
    call("GET", keys),
    call("APPEND", keys, values),
    call("INCR", keys),
    call("STRLEN", keys),
    call_varargs("MGET", [keys], one_key),
    call("GETDEL", keys),
]
KEYSPACE = [
    call_varargs("DEL", [keys], one_key),
    call_varargs("EXISTS", [keys], one_key),
    call("TYPE", keys),
    call("RENAME", keys, keys),
    call("RENAMENX", keys, keys),
    call("COPY", keys, keys),
    call("COPY", keys, keys, st.just(b"REPLACE")),
    call("EXPIRE", keys, st.sampled_from([b"100", b"x", b"-1"])),
    call("PERSIST", keys),
    call("TTL", keys, normalize=sign),
    call("DBSIZE"),
    call("RANDOMKEY", normalize=shape),
]
HASHES = [
    call_varargs("HSET", [keys, fields, values], pairs),
    call_varargs("HSET", [keys, fields], pairs),  # an odd count: the arity error
    call_varargs("HMSET", [keys, fields, values], pairs),
    call("HSETNX", keys, fields, values),
    call("HGET", keys, fields),
    call_varargs("HMGET", [keys, fields], one_field),
    call_varargs("HDEL", [keys, fields], one_field),
    call("HEXISTS", keys, fields),
    call("HLEN", keys),
    call("HSTRLEN", keys, fields),
    call("HKEYS", keys, normalize=as_set),
    call("HVALS", keys, normalize=as_set),
    call("HGETALL", keys, normalize=as_map),
    call("HINCRBY", keys, fields, st.sampled_from([b"1", b"-3", b"x", b"9223372036854775807"])),
    call("HINCRBYFLOAT", keys, fields, st.sampled_from([b"1.5", b"-0.25", b"x", b"inf", b"2e2"])),
    call("HRANDFIELD", keys, normalize=shape),
    call("HRANDFIELD", keys, st.sampled_from(DISTINCT), normalize=shape),
    call("HRANDFIELD", keys, st.sampled_from(REPEATING), normalize=how_many),
    call("HRANDFIELD", keys, st.sampled_from(DISTINCT), st.sampled_from([b"WITHVALUES", b"x"]),
         normalize=shape),
    call("HRANDFIELD", keys, st.sampled_from(REPEATING), st.sampled_from([b"WITHVALUES", b"x"]),
         normalize=how_many),
]  # fmt: skip
CALLS = STRINGS + KEYSPACE + HASHES

scan_options = st.lists(
    st.one_of(
        st.tuples(st.just(b"COUNT"), st.sampled_from([b"1", b"3", b"100"])),
        st.tuples(st.just(b"MATCH"), st.sampled_from([b"*", b"k*", b"f?", b"{t}*"])),
    ),
    max_size=2,
).map(lambda options: tuple(p for o in options for p in o))
scans = st.one_of(
    st.tuples(scan_options, st.sampled_from([(), (b"TYPE", b"hash"), (b"TYPE", b"string")])).map(
        lambda drawn: ScanAll(b"SCAN", None, drawn[0] + drawn[1])
    ),
    st.tuples(keys, scan_options).map(lambda drawn: ScanAll(b"HSCAN", drawn[0], drawn[1])),
)
calls = st.one_of(*CALLS)
multis = st.lists(calls, min_size=1, max_size=3).map(lambda queued: Multi(tuple(queued)))


@st.composite
def steps(draw: st.DrawFn, nodes: int = 3, max_steps: int = 25) -> list[Step]:
    """A sequence of steps, each on one of `nodes` cluster nodes."""
    chosen = draw(st.lists(st.one_of(calls, calls, calls, scans, multis), max_size=max_steps))
    return [attrs.evolve(step, node=draw(st.integers(0, nodes - 1))) for step in chosen]
