"""Sets against real Redis 7.0 (the differential harness, differential.py) and through
redis-py on every node of a 3-node cluster.

The random sequences mix the set commands with strings, hashes and key commands on the
same small pools of keys, so WRONGTYPE, STORE over another type, RENAME/COPY of sets and
emptied sets meet often. Unordered replies compare as sets; SPOP is a `Pop` step (its
random picks are mirrored on the oracle, differential.py).
"""

from __future__ import annotations

import attrs
import pytest
from differential import (
    DIFFERENTIAL,
    Call,
    Multi,
    Pop,
    Reply,
    ScanAll,
    Side,
    Step,
    as_set,
    compare,
    flush,
    plain,
)
from differential_commands import HASHES, KEYSPACE, STRINGS, call, call_varargs, scan_options
from harness import ClusterProcesses
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.integration

KEYS = [b"k1", b"k2", b"{t}k3", b"{t}k4"]
MEMBERS = [b"a", b"b", b"1", b"-2", b"", b"a*"]
keys = st.sampled_from(KEYS)
members = st.sampled_from(MEMBERS)
one_member = st.tuples(members)
one_key = st.tuples(keys)


def randoms(reply: Reply) -> object:
    """SRANDMEMBER: nil or not, one or an array of how many (the picks are random)."""
    value = plain(reply)
    if isinstance(value, list):
        return ("array", len(value))
    return value if value is None or isinstance(value, tuple) else "one"


SETS = [
    call_varargs("SADD", [keys, members], one_member),
    call_varargs("SREM", [keys, members], one_member),
    call("SCARD", keys),
    call("SISMEMBER", keys, members),
    call_varargs("SMISMEMBER", [keys, members], one_member),
    call("SMEMBERS", keys, normalize=as_set),
    call("SRANDMEMBER", keys, normalize=randoms),
    call("SRANDMEMBER", keys, st.sampled_from([b"0", b"1", b"3", b"9", b"-1", b"-4", b"x"]),
         normalize=randoms),
    call("SMOVE", keys, keys, members),
    call_varargs("SINTER", [keys], one_key, normalize=as_set),
    call_varargs("SUNION", [keys], one_key, normalize=as_set),
    call_varargs("SDIFF", [keys], one_key, normalize=as_set),
    call_varargs("SINTERSTORE", [keys, keys], one_key),
    call_varargs("SUNIONSTORE", [keys, keys], one_key),
    call_varargs("SDIFFSTORE", [keys, keys], one_key),
    st.tuples(st.sampled_from([b"1", b"2", b"3", b"0", b"x"]), keys, keys,
              st.sampled_from([(), (b"LIMIT", b"1"), (b"LIMIT", b"0"), (b"LIMIT", b"-1"),
                               (b"FOO",)])).map(
        lambda d: Call((b"SINTERCARD", d[0], d[1], d[2], *d[3]))),
    call("SPOP", keys, st.sampled_from([b"-1", b"x", b"0"])),  # errors and nothing popped
    call("SPOP", keys, st.just(b"1"), st.just(b"2")),  # syntax error
]  # fmt: skip
OTHERS = [call("SET", keys, members), *STRINGS[1:3], *KEYSPACE, *HASHES[:3], HASHES[11]]


pops = st.tuples(keys, st.sampled_from([None, b"1", b"2", b"3", b"10"])).map(lambda d: Pop(*d))
calls = st.one_of(*SETS, *OTHERS)
# SPOP stays out of MULTI: its picks could not be mirrored on the oracle in the same EXEC.
multis = st.lists(calls, min_size=1, max_size=3).map(lambda queued: Multi(tuple(queued)))
scans = st.tuples(keys, scan_options).map(lambda d: ScanAll(b"SSCAN", d[0], d[1]))


@st.composite
def steps(draw: st.DrawFn, nodes: int = 3, max_steps: int = 25) -> list[Step]:
    chosen = draw(st.lists(st.one_of(calls, calls, calls, pops, scans, multis), max_size=max_steps))
    return [attrs.evolve(step, node=draw(st.integers(0, nodes - 1))) for step in chosen]


@DIFFERENTIAL
@given(sequence=steps())
def test_set_replies_match_redis(oracle: Side, subject: Side, sequence: list[Step]) -> None:
    flush(oracle, subject)
    compare(sequence, oracle, subject)


def test_the_pop_step_finds_a_difference(oracle: Side, subject: Side) -> None:
    flush(oracle, subject)
    subject.call(0, (b"SADD", b"k1", b"only-here"))
    oracle.call(0, (b"SADD", b"k1", b"elsewhere"))
    with pytest.raises(AssertionError, match="not all members"):
        Pop(b"k1", None).check(oracle, subject)


@pytest.mark.parametrize("role", ["leader", "follower"])
def test_sets_through_redis_py_on_every_node(shared_cluster: ClusterProcesses, role: str) -> None:
    leader = shared_cluster.leader()
    member = leader if role == "leader" else shared_cluster.followers(leader)[0]
    key, other = f"{{rp-{role}}}s".encode(), f"{{rp-{role}}}t".encode()
    clients = [node.client() for node in shared_cluster.nodes.values()]
    try:
        with member.client() as client:
            assert client.sadd(key, *(b"m%d" % i for i in range(500))) == 500
            assert client.sadd(other, b"m1", b"m2", b"x") == 3
            assert client.sismember(key, b"m7") == 1
            assert client.smismember(key, [b"m7", b"nope"]) == [1, 0]
            assert client.sinter(key, other) == {b"m1", b"m2"}
            assert client.sintercard(2, [key, other], limit=1) == 1
            assert client.sdiffstore(b"%s:d" % other[:-1], other, key) == 1
            assert client.smove(other, key, b"x") is True
            popped = client.spop(key, 100)
            assert len(set(popped)) == 100 and client.scard(key) == 401
            assert len(client.srandmember(key, -600)) == 600
            pipe = client.pipeline(transaction=True)
            pipe.sadd(other, b"y").spop(key).scard(key)
            added, one, left = pipe.execute()
            assert added == 1 and isinstance(one, bytes) and left == 400
        # Every node applied the same pops: each serves the same members from its own state.
        members = [c.smembers(key) for c in clients]
        assert len(members[0]) == 400
        assert all(m == members[0] for m in members)
    finally:
        for c in clients:
            c.close()
