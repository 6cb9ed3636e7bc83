"""Which cells a run measures: the collection commands beside SET, on the leader and Redis."""

import pytest
from bench.model import Cell

from bench import matrix


def test_collections_run_with_redis_benchmark_on_the_leader_and_redis_at_the_most_clients():
    cells = matrix.cells(clients=(1, 50), pipelines=(1, 16))
    collection = [c for c in cells if matrix.is_collection(c.command)]
    assert {c.command for c in collection} == {
        "hset", "lpush", "lpop", "sadd", "zadd", "lrange", "hset-big", "hset-empty",
    }  # fmt: skip
    assert {(c.target, c.tool, c.clients) for c in collection} == {
        ("leader", "redis-benchmark", 50), ("redis", "redis-benchmark", 50),
    }  # fmt: skip
    assert {c.pipeline for c in collection} == {1, 16}
    leader = [c.command for c in cells if c.target == "leader" and c.tool == "redis-benchmark"]
    assert leader.index("set") < leader.index("sadd") < leader.index("get")  # beside SET
    assert Cell("leader", "redis-benchmark", "set", 1, 1, 100) in cells


def test_collections_follow_the_chosen_clients_and_skip_other_targets():
    cells = matrix.cells(targets=("follower", "single"), commands=("set", "sadd"), clients=(7,))
    assert all(c.command == "set" for c in cells)
    cells = matrix.cells(targets=("leader",), tools=("loadgen",), commands=("sadd",))
    assert cells == []
    with pytest.raises(ValueError, match="unknown command"):
        matrix.cells(commands=("sadd", "bogus"))
