"""Differential test: random command sequences (hypothesis) against real Redis 7.0 and a
3-node seshat-trio cluster, every reply compared (see differential.py). Each example
starts from an empty keyspace on both sides; calls go to the leader or a follower."""

from __future__ import annotations

import pytest
from differential import DIFFERENTIAL, Call, Side, Step, compare, flush
from differential_commands import steps
from hypothesis import given


@DIFFERENTIAL
@given(sequence=steps())
def test_replies_match_redis(oracle: Side, subject: Side, sequence: list[Step]) -> None:
    flush(oracle, subject)
    compare(sequence, oracle, subject)


def test_the_harness_finds_a_difference(oracle: Side, subject: Side) -> None:
    # A reply that differs must fail the comparison (the harness cannot pass vacuously).
    for side in (oracle, subject):
        side.call(0, (b"FLUSHALL",))
    subject.call(0, (b"SET", b"only-here", b"1"))
    with pytest.raises(AssertionError, match="answered"):
        compare([Call((b"GET", b"only-here"))], oracle, subject)
