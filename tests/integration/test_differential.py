"""Differential test: random command sequences (hypothesis) against real Redis 7.0 and a
3-node seshat-trio cluster, every reply compared (see differential.py). Each example
starts from an empty keyspace on both sides; calls go to the leader or a follower."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from differential import Call, RedisServer, Side, Step, compare
from differential_commands import steps
from harness import ClusterProcesses
from hypothesis import HealthCheck, given, settings

# Bounded for CI (a few tens of seconds); DIFFERENTIAL_EXAMPLES=2000 for a long hunt.
EXAMPLES = int(os.environ.get("DIFFERENTIAL_EXAMPLES", "60"))


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
def test_replies_match_redis(oracle: Side, subject: Side, sequence: list[Step]) -> None:
    for side in (oracle, subject):
        assert side.call(0, (b"FLUSHALL",)) == b"OK"
    compare(sequence, oracle, subject)


def test_the_harness_finds_a_difference(oracle: Side, subject: Side) -> None:
    # A reply that differs must fail the comparison (the harness cannot pass vacuously).
    for side in (oracle, subject):
        side.call(0, (b"FLUSHALL",))
    subject.call(0, (b"SET", b"only-here", b"1"))
    with pytest.raises(AssertionError, match="answered"):
        compare([Call((b"GET", b"only-here"))], oracle, subject)
