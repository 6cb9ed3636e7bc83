"""The side-by-side mode's parsers and page writer (bench/peers.py); no servers started."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from bench.peers import Measured

from bench import peers, report

WRK_OUTPUT = """Running 5s test @ http://127.0.0.1:23790
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    11.81ms    5.71ms  49.41ms   81.35%
    Req/Sec     4.33k   773.90     6.15k    64.00%
  Latency Distribution
     50%  850.00us
     75%   13.81ms
     90%   19.11ms
     99%    1.20s
  21607 requests in 5.01s, 8.93MB read
  Non-2xx or 3xx responses: 3
Requests/sec:   4308.49
Transfer/sec:      1.78MB
"""


def test_wrk_output_is_parsed_with_its_units() -> None:
    rps, latency, requests, bad = peers.parse_wrk(WRK_OUTPUT)
    assert rps == pytest.approx(4308.49)
    assert latency == {"p50": pytest.approx(0.85), "p99": pytest.approx(1200.0)}
    assert (requests, bad) == (21607, 3)


def test_wrk_script_draws_keys_from_the_keyspace_and_puts_or_reads() -> None:
    put = peers.wrk_script("set", keyspace=1000, value_size=100)
    assert "/v3/kv/put" in put and "math.random(0, 999)" in put and '"value":"' in put
    read = peers.wrk_script("get", keyspace=10, value_size=100)
    assert "/v3/kv/range" in read and '"value"' not in read


def _measured(system: str, cell: str, rps: float, p50: float = 1.0) -> Measured:
    return Measured(system, cell, rps, p50, 2.0, 100, {"leader": 10.0, "follower": 5.0})


def test_ratios_compare_with_etcd_and_redis() -> None:
    measured = [
        _measured("seshat", "SET c=50", 8000),
        _measured("etcd", "SET c=50", 4000),
        _measured("redis", "SET c=50", 16000),
    ]
    row = peers.ratio_rows(measured)[0]
    assert row[0].startswith("SET c=50") and row[4:] == ["2.00x", "0.50x"]


def test_the_peers_section_is_replaced_in_place(
    tmp_path: Path,
) -> None:
    page = tmp_path / "benchmarks.md"
    page.write_text("# Benchmarks\n\nmatrix\n")
    peers.write_section(page, f"{report.PEERS_START}\nfirst\n{report.PEERS_END}")
    peers.write_section(page, f"{report.PEERS_START}\nsecond\n{report.PEERS_END}")
    text = page.read_text()
    assert text.count(report.PEERS_START) == 1 and "second" in text and "first" not in text
    assert text.startswith("# Benchmarks\n\nmatrix\n")


def test_cpu_meter_counts_the_servers_and_the_finished_load_generator() -> None:
    meter = peers.CpuMeter({"me": os.getpid()})
    meter.start()
    sum(range(2_000_000))  # the "server": this process
    subprocess.run([sys.executable, "-c", "sum(range(3_000_000))"], check=True)
    meter.stop()
    assert meter.used["me"] > 0
    assert meter.client > 0  # the child ran and was reaped within the window
