"""The redis-benchmark output parser and request sizing, on outputs captured from
redis-benchmark 7.0.15 against redis-server 7 and seshat-trio (tests/bench/samples/)."""

from pathlib import Path

import pytest
from bench.redis_benchmark import OutputError, parse_csv, row_for

from bench import redis_benchmark

SAMPLES = Path(__file__).parent / "samples"


def sample(name: str) -> str:
    return (SAMPLES / name).read_text()


def test_parses_every_row_of_a_real_csv_run():
    rows = parse_csv(sample("redis7_set_get_incr_mset.csv.out"))
    assert [row.test for row in rows] == ["SET", "GET", "INCR", "MSET (10 keys)"]
    get = rows[1]
    assert get.rps == 41666.67
    assert get.latency_ms == {
        "avg": 0.151, "min": 0.032, "p50": 0.095, "p95": 0.359, "p99": 0.551, "max": 6.279,
    }  # fmt: skip


def test_row_for_finds_mset_by_its_long_name_and_rejects_absent_commands():
    rows = parse_csv(sample("redis7_set_get_incr_mset.csv.out"))
    assert row_for(rows, "mset").rps == 1773.05
    assert row_for(rows, "INCR").latency_ms["p99"] == 12.095
    seshat_rows = parse_csv(sample("seshat_set_get.csv.out"))
    with pytest.raises(OutputError, match="no INCR row"):
        row_for(seshat_rows, "incr")


def test_seshat_output_parses_with_or_without_a_final_newline():
    text = sample("seshat_set_get.csv.out")
    for variant in (text, text.rstrip("\n")):
        rows = parse_csv(variant)
        assert [(row.test, row.rps) for row in rows] == [("SET", 976.56), ("GET", 3401.36)]


def test_progress_noise_before_and_between_rows_is_ignored():
    # Real progress output (carriage-return separated, from -q) glued to a real CSV run.
    noisy = sample("redis7_set_quiet.out") + sample("redis7_set_get_incr_mset.csv.out")
    noisy = noisy.replace('"GET"', 'SET: rps=1753.0 (overall: 1753.0)\r"GET"', 1)
    assert [row.test for row in parse_csv(noisy)] == ["SET", "GET", "INCR", "MSET (10 keys)"]


def test_non_finite_rows_are_dropped():
    text = sample("redis7_set_get_incr_mset.csv.out").replace('"2777.78"', '"-nan"')
    assert [row.test for row in parse_csv(text)] == ["GET", "INCR", "MSET (10 keys)"]


def test_infinite_rate_of_a_sub_millisecond_run_is_kept_for_the_probe():
    # Captured: redis-benchmark -t set -c 1 -P 16 -n 208 --csv against redis-server 7.
    header = sample("seshat_set_get.csv.out").splitlines()[0]
    (row,) = parse_csv(header + '\n"SET","inf","0.030","0.024","0.031","0.055","0.055","0.055"\n')
    assert row.rps == float("inf")
    assert redis_benchmark.next_probe_size(208, row.rps) == 2080
    assert redis_benchmark.requests_for(row.rps, 10, 1, 16) == 100


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("seshat_unknown_command.csv.out", "no result row"),  # header only: server errored
        ("redis7_set_quiet.out", "no CSV header"),  # -q output, not --csv
        ("redis7_set_full.out", "no CSV header"),  # default verbose output
        ("connection_refused.err", "no CSV header"),
    ],
)
def test_outputs_without_results_are_clear_errors(name, message):
    with pytest.raises(OutputError, match=message):
        parse_csv(sample(name))


def test_command_line_is_exact_and_csv():
    argv = redis_benchmark.command_line(
        6380, "set", clients=50, pipeline=16, value_size=100, requests=1234, keyspace=1000
    )
    assert argv == [
        "redis-benchmark", "-h", "127.0.0.1", "-p", "6380", "-t", "set", "-c", "50",
        "-P", "16", "-d", "100", "-n", "1234", "-r", "1000", "--csv",
    ]  # fmt: skip


def test_requests_for_scales_with_rate_and_duration_with_a_floor():
    assert redis_benchmark.requests_for(10_000, 10, 50, 1) == 120_000  # 20% margin
    assert redis_benchmark.requests_for(10, 1, 50, 16) == 50 * 16 * 4
    assert redis_benchmark.requests_for(0, 10, 1, 1) == 100


def test_probe_grows_until_it_lasts_long_enough():
    assert redis_benchmark.next_probe_size(200, 100_000) == 2000  # 2 ms: grow 10x (capped)
    assert redis_benchmark.next_probe_size(1000, 10_000) == 4000  # 0.1 s: ceil(2.5) + 1
    assert redis_benchmark.next_probe_size(1000, 4000) is None  # 0.25 s is enough
    assert redis_benchmark.next_probe_size(1000, 0) is None  # no rate: nothing to grow from


def test_collection_commands_use_redis_benchmarks_tests_or_a_command_of_their_own():
    def argv(command: str) -> list[str]:
        return redis_benchmark.command_line(
            6380, command, clients=50, pipeline=1, value_size=3, requests=10, keyspace=99
        )

    assert argv("sadd")[5:7] == ["-t", "sadd"]
    assert argv("lpop")[5:7] == ["-t", "lpush,lpop"]  # pops the list its LPUSH fills
    assert argv("lrange")[5:7] == ["-t", "lrange_100"]
    big = argv("hset-big")
    assert "-t" not in big and big[-4:] == ["HSET", "bench:hash:big", "f:__rand_int__", "xxx"]
    assert argv("hset-empty")[-3] == "bench:hash:empty"
    assert redis_benchmark.big_hash_field(42) == b"f:000000000042"  # as __rand_int__


def test_collection_rows_are_found_by_their_test_names():
    csv_text = (
        '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms",'
        '"p99_latency_ms","max_latency_ms"\n'
        '"LPUSH (needed to benchmark LRANGE)","20000.00","0.1","0.0","0.1","0.1","0.1","0.1"\n'
        '"LRANGE_100 (first 100 elements)","6000.00","0.1","0.0","0.1","0.1","0.1","0.1"\n'
        '"HSET bench:hash:big f:__rand_int__ xxx","5000.00","0.1","0.0","0.1","0.1","0.1","0.1"\n'
    )
    rows = parse_csv(csv_text)
    assert row_for(rows, "lrange").rps == 6000
    assert row_for(rows, "lpush").rps == 20000
    assert row_for(rows, "hset-big").rps == 5000
