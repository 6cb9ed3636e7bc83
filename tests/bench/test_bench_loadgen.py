"""The load generator's percentile math, error kinds, and a short run against a fake
RESP server on 127.0.0.1 (answers OK, and TRYAGAIN to every 4th command)."""

import errno
import math
from functools import partial

import pytest
import trio
from bench.loadgen import LoadSpec, error_kind, percentile, run_load, summarize
from hypothesis import given
from hypothesis import strategies as st

from seshat_trio.client import RedisReplyError


def test_nearest_rank_percentiles_of_one_to_a_hundred():
    samples = list(range(1, 101))
    assert percentile(samples, 50) == 50
    assert percentile(samples, 90) == 90
    assert percentile(samples, 99) == 99
    assert percentile(samples, 99.9) == 100
    assert percentile(samples, 100) == 100
    assert percentile(samples, 0.5) == 1


def test_percentile_of_a_single_sample_and_bad_input():
    assert percentile([7], 99.9) == 7
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 50)
    with pytest.raises(ValueError, match="must be in"):
        percentile([1], 0)


@given(st.lists(st.integers(0, 10**9), min_size=1, max_size=200), st.floats(0.01, 100))
def test_percentile_is_a_sample_with_at_least_q_percent_at_or_below(samples, q):
    ordered = sorted(samples)
    value = percentile(ordered, q)
    assert value in ordered
    rank = math.ceil(round(q / 100 * len(ordered), 9))
    assert sum(s <= value for s in ordered) >= rank
    assert sum(s < value for s in ordered) < rank


def test_summarize_reports_milliseconds_in_order():
    summary = summarize([1_000_000 * i for i in range(1, 1001)])  # 1..1000 ms
    assert summary == {
        "min": 1.0, "avg": 500.5, "p50": 500.0, "p90": 900.0, "p99": 990.0,
        "p99.9": 999.0, "max": 1000.0,
    }  # fmt: skip
    assert summarize([]) == {}


def test_error_kinds():
    assert error_kind(RedisReplyError("TRYAGAIN leadership moved")) == "TRYAGAIN"
    assert error_kind(RedisReplyError("")) == "error-reply"
    assert error_kind(ConnectionResetError()) == "connection: ConnectionResetError"
    assert error_kind(ConnectionResetError(errno.ECONNRESET, "reset")) == "connection: ECONNRESET"
    assert error_kind(trio.BrokenResourceError()) == "connection: BrokenResourceError"
    wrapped = OSError("all attempts to connect failed")
    wrapped.__cause__ = ExceptionGroup("attempts", [ConnectionRefusedError(errno.ECONNREFUSED, "")])
    assert error_kind(wrapped) == "connection: ECONNREFUSED"


async def _fake_server(stream: trio.SocketStream) -> None:
    """Answers each RESP array command: +OK, except every 4th gets -TRYAGAIN."""
    served = 0
    buffered = b""
    async with stream:
        while data := await stream.receive_some(65536):
            buffered += data
            commands = buffered.count(b"*")  # keys/values in these tests contain no '*'
            buffered = b""
            replies = []
            for _ in range(commands):
                served += 1
                replies.append(b"-TRYAGAIN try later\r\n" if served % 4 == 0 else b"+OK\r\n")
            await stream.send_all(b"".join(replies))


async def test_run_load_counts_successes_and_errors_by_kind(nursery):
    listeners = await nursery.start(partial(trio.serve_tcp, _fake_server, 0, host="127.0.0.1"))
    port = listeners[0].socket.getsockname()[1]
    spec = LoadSpec(port=port, command="set", clients=3, pipeline=4, duration_s=0.3)
    result = await run_load(spec)
    assert result.requests > 0
    # Each batch of 4 is answered in one reply burst; every 4th reply per connection fails.
    assert result.errors == {"TRYAGAIN": result.requests // 3}
    assert result.rps == pytest.approx(result.requests / result.seconds)
    assert 0 < result.latency_ms["p50"] <= result.latency_ms["p99.9"] <= result.latency_ms["max"]
    assert spec.argv()[:3] == ("python", "-m", "bench.loadgen")


async def test_run_load_against_a_closed_port_reports_connection_errors():
    with trio.socket.socket() as sock:
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        spec = LoadSpec(port=port, command="get", clients=2, pipeline=1, duration_s=0.2)
        result = await run_load(spec)
    assert result.requests == 0
    assert result.latency_ms == {}
    assert set(result.errors) == {"connection: ECONNREFUSED"}


async def test_run_load_rejects_commands_it_does_not_drive():
    with pytest.raises(ValueError, match="loadgen drives"):
        await run_load(LoadSpec(port=1, command="incr", clients=1, pipeline=1, duration_s=0.1))
