"""The groups comparison's pure parts (bench/groups.py) and the CPU reader; no servers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from bench.model import Run, RunOptions
from bench.peers import Measured

from bench import cli, groups, machine, peers, redis_benchmark, report
from seshat_trio.slots import key_slot

OPTIONS = RunOptions(
    quick=True,
    duration_s=1.0,
    value_size=100,
    keyspace=1000,
    targets=(),
    tools=(),
    commands=(),
    clients=(),
    pipelines=(),
)


def test_clients_are_spread_evenly_over_the_nodes() -> None:
    assert groups.client_shares(50, 3) == [17, 17, 16]
    assert sum(groups.client_shares(7, 3)) == 7


def _cell(system: str, cell: str, rps: float) -> Measured:
    cpu = {"node1": 100.0, "node2": 60.0, "node3": 40.0}
    return Measured(system, cell, rps, 1.0, 9.0, 1000, cpu, ("redis-benchmark -p 1",))


def test_the_groups_table_compares_with_one_group_and_sums_cpu_per_node() -> None:
    found = [
        (1, [_cell("1 group", "SET c=50", 1000.0)], [1, 0, 0]),
        (3, [_cell("3 groups", "SET c=50", 950.0)], [1, 1, 1]),
    ]
    page = groups.render([found], {"git commit": "abc"}, "now", OPTIONS)
    rows = [line for line in page.splitlines() if line.startswith("| 3 ")]
    assert rows == ["| 3 | SET c=50 | 950 | 9.0 | 0.95x | 100 / 60 / 40 | 200 | 1 / 1 / 1 |  |"]
    assert page.startswith(report.GROUPS_START) and page.endswith(report.GROUPS_END)


def test_the_ratio_to_one_group_is_the_median_of_each_rounds_own_ratio() -> None:
    # The machine slows between rounds: the ratio within each round stays 0.9, while a ratio
    # of the medians of ops/s (900 / 1000) would be 0.9 only by luck of the middle round.
    speeds = (1.0, 0.5, 0.8)
    rounds = [
        [
            (1, [_cell("1 group", "SET c=50", 1000.0 * speed)], [1, 0, 0]),
            (3, [_cell("3 groups", "SET c=50", 900.0 * speed * jitter)], [1, 1, 1]),
        ]
        for speed, jitter in zip(speeds, (1.0, 1.1, 0.95), strict=True)
    ]
    assert [round(r, 3) for r in groups.ratios_to_one(rounds, 3, "SET c=50")] == [
        0.9,
        0.99,
        0.855,
    ]
    page = groups.render(rounds, {"git commit": "abc"}, "now", OPTIONS)
    rows = [line for line in page.splitlines() if line.startswith("| 3 ")]
    assert rows[0].split(" | ")[4] == "0.90x (0.90 / 0.99 / 0.85)"
    assert "3 groups against 1, median of the rounds: SET c=50 0.90x" in page
    # A round whose 1-group cluster failed gives no ratio, and the others still do.
    rounds[1] = rounds[1][1:]
    assert len(groups.ratios_to_one(rounds, 3, "SET c=50")) == 2


def test_rounds_reverse_the_order_of_group_counts_every_other_round() -> None:
    assert groups.round_order(0) == groups.GROUP_COUNTS
    assert groups.round_order(1) == groups.GROUP_COUNTS[::-1]
    assert groups.round_order(2) == groups.GROUP_COUNTS


def test_the_matrix_page_keeps_the_groups_and_peers_sections(tmp_path: Path) -> None:
    page = tmp_path / "benchmarks.md"
    page.write_text(
        f"old matrix\n{report.PEERS_START}\npeers\n{report.PEERS_END}\n"
        f"{report.GROUPS_START}\ngroups\n{report.GROUPS_END}\n"
    )
    text = report.write_markdown(_empty_run(), page).read_text()
    assert "old matrix" not in text
    assert f"{report.PEERS_START}\npeers\n{report.PEERS_END}" in text
    assert f"{report.GROUPS_START}\ngroups\n{report.GROUPS_END}" in text


def _empty_run() -> Run:
    return Run(
        started="2026-12-06T00:00:00+00:00",
        finished="2026-12-06T00:00:01+00:00",
        options=OPTIONS,
        machine={},
        results=(),
    )


def test_cpu_seconds_reads_this_process() -> None:
    before = machine.cpu_seconds(os.getpid())
    sum(range(3_000_000))
    assert machine.cpu_seconds(os.getpid()) > before


def test_cluster_aware_clients_go_to_the_primary_of_their_keys_slots() -> None:
    # One group: every client at its leader, the plain test over the whole keyspace.
    assert groups.aware_targets([(0, 16383, 7002)], 100_000) == [groups.Target(7002, 50)]
    ranges = [(0, 5460, 7001), (5461, 10922, 7002), (10923, 16383, 7003)]
    targets = groups.aware_targets(ranges, 100_000)
    assert [(t.port, t.clients, t.keyspace) for t in targets] == [
        (7001, 17, 33_333), (7002, 17, 33_333), (7003, 16, 33_333),
    ]  # fmt: skip
    for (first, last, _), target in zip(ranges, targets, strict=True):
        assert target.tag is not None
        assert first <= key_slot(f"key:{{{target.tag}}}:000000012345".encode()) <= last
    assert [t.clients for t in groups.spread_targets([7001, 7002, 7003])] == [17, 17, 16]
    assert not any(t.tag for t in groups.spread_targets([7001, 7002, 7003]))


def test_slot_ranges_that_leave_a_slot_out_or_overlap_fail_the_cell() -> None:
    whole = [(0, 5460, 7001), (5461, 10922, 7002), (10923, 16383, 7003)]
    assert groups.covering_ranges(whole) == whole
    for bad in (
        whole[1:],  # a group with no reachable voter is left out of CLUSTER SLOTS
        whole[:2],
        [(0, 5460, 7001), (5460, 10922, 7002), (10923, 16383, 7003)],  # overlap
        [(0, 5460, 7001), (5462, 16383, 7002)],  # a gap
        [(0, 16384, 7001)],
        [],
    ):
        with pytest.raises(RuntimeError, match="cover"):
            groups.covering_ranges(bad)


def test_a_tagged_run_sends_its_keys_to_one_slot_without_the_threaded_cluster_mode() -> None:
    def argv(command: str, tag: str | None) -> list[str]:
        return redis_benchmark.command_line(
            7001, command, clients=17, pipeline=1, value_size=4, requests=10, keyspace=10,
            tag=tag,
        )  # fmt: skip

    assert argv("set", "t3")[-3:] == ["SET", "key:{t3}:__rand_int__", "xxxx"]
    assert argv("get", "t3")[-2:] == ["GET", "key:{t3}:__rand_int__"]
    assert "-t" not in argv("get", "t3") and "--cluster" not in argv("set", "t3")
    assert argv("set", None)[5:7] == ["-t", "set"]
    with pytest.raises(ValueError, match="tagged"):
        argv("incr", "t3")


def test_a_run_under_half_the_cell_is_measured_again() -> None:
    # 4,781 requests at 6,341/s (a --cluster run sized from a slow-starting probe): 0.75 s.
    assert groups.too_short(4781, 6341.0, 5.0)
    assert not groups.too_short(38_000, 6341.0, 5.0)
    assert not groups.too_short(100, 0.0, 5.0)  # no rate: nothing to size from


def test_the_cli_hands_rounds_to_the_groups_and_peers_comparisons(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, int]] = []
    for name, module in (("groups", groups), ("peers", peers)):
        monkeypatch.setattr(
            module, "main", lambda *_, name=name, **kw: calls.append((name, kw["rounds"])) or 0
        )
    for argv in (
        ["--groups", "--rounds", "2"],
        ["--groups"],
        ["--peers"],
        ["--peers", "--rounds", "4"],
    ):
        assert cli.main(argv) == 0
    assert calls == [
        ("groups", 2),
        ("groups", groups.ROUNDS),
        ("peers", peers.ROUNDS),
        ("peers", 4),
    ]
