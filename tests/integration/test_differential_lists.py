"""Differential test of the list commands: random sequences of list, string and key commands
(hypothesis) against real Redis 7.0 and a 3-node seshat-trio cluster, every reply compared
(differential.py). The blocking pops run inside MULTI, where both sides answer them as one
non-blocking attempt; outside it, they get a timeout short enough that an empty list
answers nil on both sides."""

from __future__ import annotations

import os
from collections.abc import Iterator

import attrs
import pytest
from differential import Call, Multi, RedisServer, Side, Step, compare
from differential_commands import KEYSPACE, STRINGS, call, call_varargs, keys
from harness import ClusterProcesses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("DIFFERENTIAL_EXAMPLES", "40"))

elements = st.sampled_from([b"a", b"b", b"", b"1", b"a "])
one_element = st.tuples(elements)
indexes = st.sampled_from([b"0", b"1", b"2", b"-1", b"-2", b"-100", b"100", b"x", b"1.5"])
counts = st.sampled_from([b"0", b"1", b"2", b"5", b"-1", b"x"])
ends = st.sampled_from([b"LEFT", b"RIGHT", b"left", b"up"])
timeouts = st.sampled_from([b"0.01", b"-1", b"x", b"0.001"])


def call_of(*argv: bytes) -> Call:
    return Call(argv)


def with_timeout(step: Call) -> Call:
    return attrs.evolve(step, argv=(*step.argv, b"0.01"))


lpos_options = st.lists(
    st.tuples(st.sampled_from([b"RANK", b"COUNT", b"MAXLEN", b"BOGUS"]),
              st.sampled_from([b"1", b"2", b"-1", b"0", b"x"])),
    max_size=2,
).map(lambda options: tuple(p for o in options for p in o))  # fmt: skip

LISTS = [
    call_varargs("LPUSH", [keys, elements], one_element),
    call_varargs("RPUSH", [keys, elements], one_element),
    call_varargs("LPUSHX", [keys, elements], one_element),
    call_varargs("RPUSHX", [keys, elements], one_element),
    call("LPOP", keys),
    call("RPOP", keys),
    call("LPOP", keys, counts),
    call("RPOP", keys, counts),
    call("LLEN", keys),
    call("LRANGE", keys, indexes, indexes),
    call("LINDEX", keys, indexes),
    call("LSET", keys, indexes, elements),
    call("LINSERT", keys, st.sampled_from([b"BEFORE", b"AFTER", b"x"]), elements, elements),
    call("LREM", keys, counts, elements),
    call("LTRIM", keys, indexes, indexes),
    st.tuples(keys, elements, lpos_options).map(lambda d: call_of(b"LPOS", d[0], d[1], *d[2])),
    call("LMOVE", keys, keys, ends, ends),
    call("RPOPLPUSH", keys, keys),
    st.tuples(st.lists(keys, min_size=1, max_size=3), ends, st.sampled_from([(), (b"COUNT", b"2"),
              (b"COUNT", b"0")])).map(
        lambda d: call_of(b"LMPOP", b"%d" % len(d[0]), *d[0], d[1], *d[2])),
    call_varargs("BLPOP", [keys], st.tuples(keys), max_size=2).map(with_timeout),
    call_varargs("BRPOP", [keys], st.tuples(keys), max_size=2).map(with_timeout),
    call("BLMOVE", keys, keys, ends, ends, timeouts),
    call("BRPOPLPUSH", keys, keys, timeouts),
    st.tuples(timeouts, st.lists(keys, min_size=1, max_size=2), ends).map(
        lambda d: call_of(b"BLMPOP", d[0], b"%d" % len(d[1]), *d[1], d[2])),
]  # fmt: skip


calls = st.one_of(*LISTS, *STRINGS[:2], *KEYSPACE[:5])
multis = st.lists(calls, min_size=1, max_size=3).map(lambda queued: Multi(tuple(queued)))


@st.composite
def steps(draw: st.DrawFn, nodes: int = 3, max_steps: int = 25) -> list[Step]:
    chosen = draw(st.lists(st.one_of(calls, calls, calls, multis), max_size=max_steps))
    return [attrs.evolve(step, node=draw(st.integers(0, nodes - 1))) for step in chosen]


@pytest.fixture(scope="module")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Side]:
    if not RedisServer.available():
        pytest.skip("redis-server 7.0 is not installed (.ci/run installs it)")
    server = RedisServer(tmp_path_factory.mktemp("redis-oracle"))
    try:
        server.start()
        side = Side("redis", [server.port])
        yield side
        side.close()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def subject(shared_cluster: ClusterProcesses) -> Iterator[Side]:
    leader = shared_cluster.leader()
    followers = shared_cluster.followers(leader)
    side = Side("seshat", [node.port for node in [leader, *followers]])
    yield side
    side.close()


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(sequence=steps())
def test_list_replies_match_redis(oracle: Side, subject: Side, sequence: list[Step]) -> None:
    for side in (oracle, subject):
        assert side.call(0, (b"FLUSHALL",)) == b"OK"
    compare(sequence, oracle, subject)
