"""Differential test of the sorted-set commands: random sequences (hypothesis) against real
Redis 7.0 and a 3-node seshat-trio cluster (leader and followers), every reply compared
(differential.py). Keys share one hash tag so multi-key commands meet in one slot; scores
and bounds come from small pools of Redis's edge cases (inf, -inf, exclusive bounds, bad
floats), and lex ranges run over members of one score and of several."""

from __future__ import annotations

import threading
import time

import attrs
import pytest
import redis
from differential import DIFFERENTIAL, Call, Multi, ScanAll, Side, Step, compare, flush, shape
from differential_commands import call, call_varargs
from harness import ClusterProcesses
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.integration

keys = st.sampled_from([b"{z}a", b"{z}b", b"{z}c", b"{z}s"])
members = st.sampled_from([b"a", b"b", b"c", b"aa", b"", b"m"])
scores = st.sampled_from([b"0", b"1", b"-1", b"2.5", b"inf", b"-inf", b"1e-3", b"1", b"x",
                          b"-0", b"0x10"])  # fmt: skip
same_score = st.just(b"0")
ranks = st.sampled_from([b"0", b"1", b"-1", b"-3", b"2", b"10", b"x"])
score_bounds = st.sampled_from([b"-inf", b"+inf", b"0", b"(0", b"1", b"(1", b"2.5", b"x",
                                b"(inf", b""])  # fmt: skip
lex_bounds = st.sampled_from([b"-", b"+", b"[a", b"(a", b"[b", b"(aa", b"[", b"b"])
counts = st.sampled_from([b"0", b"1", b"2", b"5", b"-1", b"-3", b"x"])
numkeys = st.sampled_from([b"1", b"2", b"3", b"0"])
flag = st.sampled_from([b"NX", b"XX", b"GT", b"LT", b"CH", b"INCR"])
limit = st.tuples(st.just(b"LIMIT"), st.sampled_from([b"0", b"1", b"-1"]),
                  st.sampled_from([b"1", b"2", b"-1", b"0"]))  # fmt: skip
range_options = st.lists(
    st.one_of(st.sampled_from([(b"WITHSCORES",), (b"REV",), (b"BYSCORE",), (b"BYLEX",)]), limit),
    max_size=3,
).map(lambda options: tuple(p for o in options for p in o))
algebra_options = st.lists(
    st.one_of(
        st.sampled_from([(b"WITHSCORES",), (b"AGGREGATE", b"MIN"), (b"AGGREGATE", b"MAX"),
                         (b"AGGREGATE", b"SUM"), (b"WEIGHTS", b"2", b"0.5")]),
        st.tuples(st.just(b"WEIGHTS"), scores),
    ),
    max_size=2,
).map(lambda options: tuple(p for o in options for p in o))  # fmt: skip
pairs = st.tuples(scores, members)


def zadd() -> st.SearchStrategy[Call]:
    return st.tuples(keys, st.lists(flag, max_size=2), st.lists(pairs, min_size=1, max_size=3)).map(
        lambda d: Call((b"ZADD", d[0], *d[1], *(p for pair in d[2] for p in pair)))
    )


def multi_key(
    name: bytes, with_options: st.SearchStrategy[tuple[bytes, ...]]
) -> st.SearchStrategy[Call]:
    return st.tuples(numkeys, st.lists(keys, min_size=1, max_size=3), with_options).map(
        lambda d: Call((name, d[0], *d[1], *d[2]))
    )


ZSETS = [
    zadd(),
    zadd(),
    call_varargs("ZADD", [keys, same_score, members], st.tuples(same_score, members)),
    call("ZINCRBY", keys, scores, members),
    call_varargs("ZREM", [keys, members], st.tuples(members)),
    call("ZCARD", keys),
    call("ZSCORE", keys, members),
    call_varargs("ZMSCORE", [keys, members], st.tuples(members)),
    call("ZRANK", keys, members),
    call("ZREVRANK", keys, members),
    call("ZCOUNT", keys, score_bounds, score_bounds),
    call("ZLEXCOUNT", keys, lex_bounds, lex_bounds),
    st.tuples(keys, ranks, ranks, range_options).map(lambda d: Call((b"ZRANGE", *d[:3], *d[3]))),
    st.tuples(keys, score_bounds, score_bounds, range_options).map(
        lambda d: Call((b"ZRANGE", *d[:3], b"BYSCORE", *d[3]))),
    st.tuples(keys, lex_bounds, lex_bounds, range_options).map(
        lambda d: Call((b"ZRANGE", *d[:3], b"BYLEX", *d[3]))),
    st.tuples(keys, keys, ranks, ranks, range_options).map(
        lambda d: Call((b"ZRANGESTORE", *d[:4], *d[4]))),
    call("ZREVRANGE", keys, ranks, ranks),
    call("ZRANGEBYSCORE", keys, score_bounds, score_bounds, st.sampled_from([b"WITHSCORES",
                                                                            b"REV"])),
    call("ZREVRANGEBYSCORE", keys, score_bounds, score_bounds),
    call("ZRANGEBYLEX", keys, lex_bounds, lex_bounds),
    call("ZREVRANGEBYLEX", keys, lex_bounds, lex_bounds),
    call("ZREMRANGEBYRANK", keys, ranks, ranks),
    call("ZREMRANGEBYSCORE", keys, score_bounds, score_bounds),
    call("ZREMRANGEBYLEX", keys, lex_bounds, lex_bounds),
    call("ZPOPMIN", keys),
    call("ZPOPMAX", keys, counts),
    multi_key(b"ZMPOP", st.sampled_from([(b"MIN",), (b"MAX", b"COUNT", b"2"),
                                         (b"MIN", b"COUNT", b"0")])),
    call("BZPOPMIN", keys, keys, st.just(b"0.01")),  # blocks 10 ms when both are empty
    call("BZPOPMAX", keys, st.sampled_from([b"0.01", b"-1", b"x"])),
    multi_key(b"BZMPOP", st.sampled_from([(b"MIN",), (b"MAX", b"COUNT", b"2")])).map(
        lambda c: Call((c.argv[0], b"0.01", *c.argv[1:]))),
    call("ZRANDMEMBER", keys, normalize=shape),
    call("ZRANDMEMBER", keys, counts, st.sampled_from([b"WITHSCORES", b"x"]), normalize=shape),
    multi_key(b"ZUNION", algebra_options),
    multi_key(b"ZINTER", algebra_options),
    multi_key(b"ZDIFF", st.sampled_from([(), (b"WITHSCORES",)])),
    multi_key(b"ZINTERCARD", st.sampled_from([(), (b"LIMIT", b"1"), (b"LIMIT", b"-1")])),
    st.tuples(keys, multi_key(b"ZUNIONSTORE", algebra_options)).map(
        lambda d: Call((d[1].argv[0], d[0], *d[1].argv[1:]))),
    st.tuples(keys, multi_key(b"ZINTERSTORE", algebra_options)).map(
        lambda d: Call((d[1].argv[0], d[0], *d[1].argv[1:]))),
    st.tuples(keys, multi_key(b"ZDIFFSTORE", st.just(()))).map(
        lambda d: Call((d[1].argv[0], d[0], *d[1].argv[1:]))),
    call_varargs("SADD", [keys, members], st.tuples(members)),  # sets are inputs too
    call("SET", keys, members),
    call("DEL", keys),
    call("TYPE", keys),
    call("EXISTS", keys),
    call("RENAME", keys, keys),
    call("COPY", keys, keys, st.just(b"REPLACE")),
]  # fmt: skip
calls = st.one_of(*ZSETS)
scans = st.tuples(keys, st.sampled_from([(), (b"COUNT", b"1"), (b"MATCH", b"a*")])).map(
    lambda d: ScanAll(b"ZSCAN", d[0], d[1])
)
multis = st.lists(calls, min_size=1, max_size=3).map(lambda queued: Multi(tuple(queued)))


@st.composite
def steps(draw: st.DrawFn, nodes: int = 3, max_steps: int = 30) -> list[Step]:
    chosen = draw(st.lists(st.one_of(calls, calls, calls, scans, multis), max_size=max_steps))
    return [attrs.evolve(step, node=draw(st.integers(0, nodes - 1))) for step in chosen]


@DIFFERENTIAL
@given(sequence=steps())
def test_zset_replies_match_redis(oracle: Side, subject: Side, sequence: list[Step]) -> None:
    flush(oracle, subject)
    compare(sequence, oracle, subject)


def test_redis_py_on_the_leader_and_a_follower(shared_cluster: ClusterProcesses) -> None:
    leader = shared_cluster.leader()
    follower = shared_cluster.followers(leader)[0]
    on_follower, on_leader = follower.client(), leader.client()
    on_leader.flushall()
    # A write sent to a follower is forwarded; both nodes then read it.
    assert on_follower.zadd("{r}board", {"ann": 10, "bob": 7.5, "cy": 12}) == 3
    assert on_follower.zincrby("{r}board", 3, "bob") == 10.5
    for client in (on_leader, on_follower):
        assert client.zrange("{r}board", 0, -1, withscores=True) == [
            (b"ann", 10.0), (b"bob", 10.5), (b"cy", 12.0),
        ]  # fmt: skip
        assert client.zrevrank("{r}board", "ann") == 2
        assert client.zrangebyscore("{r}board", "(10", "+inf") == [b"bob", b"cy"]
    # WATCH/MULTI/EXEC from the follower: the transaction runs whole on the leader.
    with on_follower.pipeline(transaction=True) as pipe:
        pipe.watch("{r}board")
        top = pipe.zrevrange("{r}board", 0, 0)
        pipe.multi()
        pipe.zrem("{r}board", *top)
        pipe.zunionstore("{r}copy", ["{r}board"])
        assert pipe.execute() == [1, 2]
    assert on_leader.zpopmin("{r}copy", 5) == [(b"ann", 10.0), (b"bob", 10.5)]
    assert on_leader.exists("{r}copy") == 0
    assert on_leader.type("{r}board") == b"zset"
    assert on_leader.object("encoding", "{r}board") == b"skiplist"
    assert list(on_follower.scan_iter(_type="zset")) == [b"{r}board"]


def test_resp3_scores_are_doubles_through_redis_py(shared_cluster: ClusterProcesses) -> None:
    leader = shared_cluster.leader()
    follower = shared_cluster.followers(leader)[0]
    node = redis.Redis(port=follower.port, protocol=3, password=follower.password)
    try:
        node.delete("{r}z")
        assert node.zadd("{r}z", {"a": 1.5, "b": float("inf")}) == 2
        assert node.zscore("{r}z", "a") == 1.5
        assert node.execute_command("ZRANGE", "{r}z", 0, -1, "WITHSCORES") == [
            [b"a", 1.5], [b"b", float("inf")],
        ]  # fmt: skip
        assert node.execute_command("ZMPOP", 1, "{r}z", "MAX") == [b"{r}z", [[b"b", float("inf")]]]
    finally:
        node.close()


def test_a_bzpopmin_on_a_follower_is_woken_by_a_zadd_on_the_leader(
    shared_cluster: ClusterProcesses,
) -> None:
    leader = shared_cluster.leader()
    follower = shared_cluster.followers(leader)[0]
    waiting, writer = follower.client(), leader.client()
    writer.delete("{r}queue")
    got: list[object] = []
    thread = threading.Thread(target=lambda: got.append(waiting.bzpopmin("{r}queue", 4)))
    thread.start()
    time.sleep(0.5)
    assert got == []  # still blocked
    assert writer.zadd("{r}queue", {"job": 3}) == 1
    thread.join(5)
    assert got == [(b"{r}queue", b"job", 3.0)]
    assert writer.exists("{r}queue") == 0
