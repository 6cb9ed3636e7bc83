"""JSON round trip, the markdown page and the issue's targets, on a hand-built run."""

import json
from pathlib import Path

from bench.model import ERROR, OK, SKIPPED, Cell, CellResult, Run, RunOptions

from bench import goals, machine, report

OPTIONS = RunOptions(
    quick=True,
    duration_s=1.0,
    value_size=100,
    keyspace=1000,
    targets=("leader", "follower", "redis"),
    tools=("redis-benchmark",),
    commands=("set", "get", "incr"),
    clients=(1, 50),
    pipelines=(1, 16),
)


def result(target, command, clients, pipeline, rps, status=OK, **latency):
    cell = Cell(target, "redis-benchmark", command, clients, pipeline, 100)
    argv = ("redis-benchmark", "-p", "6379", "-t", command, "-c", str(clients), "--csv")
    return CellResult(cell, status, argv=argv, rps=rps, requests=1000, seconds=1.0,
                      latency_ms=latency)  # fmt: skip


def make_run(*results, note=""):
    return Run(
        started="2026-01-02T03:04:05+00:00",
        finished="2026-01-02T03:05:05+00:00",
        options=OPTIONS,
        machine={"cores": "2", "cpu": "Test CPU"},
        results=tuple(results),
        note=note,
    )


GOOD = make_run(
    result("leader", "set", 50, 1, 15_000, p50=2.0, p99=8.0),
    result("leader", "get", 50, 1, 30_000, p50=1.0, p99=4.0),
    result("leader", "set", 50, 16, 90_000, p50=5.0, p99=20.0),
    result("leader", "set", 1, 1, 1_500, p50=0.6, p99=1.5),
    result("follower", "set", 50, 1, 10_000, p50=3.0, p99=9.0),
    result("redis", "set", 50, 1, 20_000, p50=1.0, p99=2.0),
    result("leader", "hset", 50, 1, 14_000, p50=2.0, p99=8.0),
    result("leader", "lpush", 50, 1, 13_000, p50=2.0, p99=8.0),
    result("leader", "lpop", 50, 1, 12_500, p50=2.0, p99=8.0),
    result("leader", "sadd", 50, 1, 12_000, p50=2.0, p99=8.0),
    result("leader", "zadd", 50, 1, 12_000, p50=2.0, p99=8.0),
    result("leader", "hset-big", 50, 1, 13_500, p50=2.0, p99=8.0),
    result("leader", "hset-empty", 50, 1, 14_000, p50=2.0, p99=8.0),
    CellResult(
        Cell("leader", "redis-benchmark", "incr", 50, 1, 100),
        SKIPPED,
        note="the server answers 'unknown command'",
    ),
)


def test_json_round_trips_and_is_plain_json():
    text = report.run_to_json(GOOD)
    assert report.run_from_json(text) == GOOD
    data = json.loads(text)
    first = data["results"][0]
    assert first["cell"]["command"] == "set"
    assert first["rps"] == 15_000
    assert first["argv"][0] == "redis-benchmark"


def test_write_json_creates_the_directory(tmp_path):
    path = report.write_json(GOOD, tmp_path / "results" / "run.json")
    assert report.run_from_json(path.read_text()) == GOOD


def test_every_target_met():
    outcomes = goals.evaluate(GOOD)
    assert [o.met for o in outcomes] == [True] * 7
    assert outcomes[0].measured == "15,000 ops/s, p99 8.00 ms"
    assert outcomes[4].measured == "10,000 vs 15,000 ops/s (67%)"
    assert outcomes[5].measured == "HSET 93%, LPUSH 87%, LPOP 83%, SADD 80%, ZADD 80%"
    assert outcomes[6].measured == "13,500 vs 14,000 ops/s (96%)"
    assert "1,000,000 fields" in outcomes[6].goal


def test_targets_not_met_and_not_measured():
    run = make_run(
        result("leader", "set", 50, 1, 15_000, p50=2.0, p99=11.0),  # p99 too high
        result("leader", "get", 50, 1, 20_000, p50=1.0, p99=4.0),  # too slow
        result("leader", "set", 50, 16, 0, status=ERROR),  # failed: not measured
        result("leader", "set", 1, 1, 900, p50=1.2),
        result("follower", "set", 50, 1, 8_000, p50=3.0, p99=9.0),  # 53% of the leader
    )
    assert [o.met for o in goals.evaluate(run)] == [False, False, None, False, False, None, None]


def test_collection_targets_fail_on_one_slow_write_and_wait_for_the_rest():
    base = [result("leader", "set", 50, 1, 10_000)]
    slow = make_run(*base, result("leader", "hset", 50, 1, 9_000),
                    result("leader", "sadd", 50, 1, 7_000))  # fmt: skip
    outcome = goals.evaluate(slow)[5]
    assert outcome.met is False
    assert outcome.measured == "HSET 90%, SADD 70% (LPUSH, LPOP, ZADD not measured)"
    partial = goals.evaluate(make_run(*base, result("leader", "sadd", 50, 1, 9_000)))[5]
    assert partial.met is None  # met so far, but not every write was measured
    big = make_run(result("leader", "hset-big", 50, 1, 800),
                   result("leader", "hset-empty", 50, 1, 1_000))  # fmt: skip
    assert goals.evaluate(big)[6].met is False


def test_collections_are_shown_beside_set():
    page = report.render_markdown(GOOD)
    section = page.split("## Collections beside SET", 1)[1].split("##", 1)[0]
    assert "| leader | SADD | 50 | 1 | 12,000 | 2.00 | 8.00 | 15,000 | 80% |" in section
    assert "| leader | HSET into a hash of 1,000,000 fields | 50 | 1 | 13,500 |" in section
    assert "| leader | HSET into an empty hash | 50 | 1 | 14,000 |" in section
    assert "| leader | SET |" not in section
    assert "## Collections" not in report.render_markdown(make_run(GOOD.results[0]))


def test_markdown_page(tmp_path):
    page = report.write_markdown(GOOD, tmp_path / "b.md", chart_name="b.png").read_text()
    assert "**Quick run: about 1 s per cell.**" in page
    assert "`nox -s bench`" in page
    assert (
        "| SET -c 50 -P 1: >= 12,000 ops/s, p99 <= 10 ms | 15,000 ops/s, p99 8.00 ms | met |"
        in page
    )
    assert "![throughput and latency per cell](b.png)" in page
    assert "| leader | SET | 50 | 1 | 15,000 |" in page
    # Ratio to durable Redis on the same cell: 15,000 / 20,000.
    assert "| redis-benchmark | SET | 50 | 1 | 20,000 |  |  | 15,000 | 0.75 |" in page
    assert "leader redis-benchmark INCR -c 50 -P 1: skipped, the server answers" in page
    assert "`redis-benchmark -p 6379 -t set -c 50 --csv`" in page
    assert "| cpu | Test CPU |" in page


def test_markdown_note_and_missing_chart():
    page = report.render_markdown(make_run(note="machine loaded by other work"))
    assert "**Note:** machine loaded by other work" in page
    assert "![" not in page
    assert page.count("| not measured |") == 7


def test_the_commit_is_read_in_a_checkout_and_in_a_linked_worktree(tmp_path: Path) -> None:
    commit = "0123456789abcdef0123456789abcdef01234567"
    main_git = tmp_path / "main" / ".git"
    (main_git / "refs" / "heads").mkdir(parents=True)
    (main_git / "refs" / "heads" / "main").write_text(commit + "\n")
    (main_git / "HEAD").write_text("ref: refs/heads/main\n")
    # `git worktree add ../wt -b side`: the worktree's .git is a file naming its own git
    # dir, whose HEAD names a branch kept (packed here) in the common dir.
    own = main_git / "worktrees" / "wt"
    own.mkdir(parents=True)
    (own / "HEAD").write_text("ref: refs/heads/side\n")
    (own / "commondir").write_text("../..\n")
    (main_git / "packed-refs").write_text(f"# pack-refs\n{commit[::-1]} refs/heads/side\n")
    (tmp_path / "wt").mkdir()
    (tmp_path / "wt" / ".git").write_text(f"gitdir: {own}\n")
    assert machine.git_commit(tmp_path / "main") == commit
    assert machine.git_commit(tmp_path / "wt") == commit[::-1]
    assert machine.git_commit(tmp_path) == machine.UNKNOWN
