"""End-to-end runs of the harness: `python -m bench --quick --only set` against a real
single node, a few seconds in all, and the collection cells on a 3-node cluster's leader.
Skipped when redis-benchmark is not installed."""

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TIMEOUT_S = 90


def run_bench(tmp_path: Path, *options: str, timeout_s: float = TIMEOUT_S) -> bytes:
    """`python -m bench --quick` with results under `tmp_path`; its output (it must pass)."""
    argv = [sys.executable, "-m", "bench", "--quick", *options, "--results-dir", str(tmp_path),
            "--markdown", str(tmp_path / "b.md")]  # fmt: skip
    process = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        output, _ = process.communicate(timeout=timeout_s)
    finally:
        if process.poll() is None:
            # Ctrl-C first: the harness stops its nodes by PID on the way out.
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    assert process.returncode == 0, output.decode(errors="replace")
    return output


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("redis-benchmark") is None, reason="redis-benchmark missing")
def test_quick_set_against_a_single_node(tmp_path):
    run_bench(tmp_path, "--only", "set", "--targets", "single", "--tools", "redis-benchmark",
              "--clients", "50", "--pipelines", "1", "--duration", "0.5")  # fmt: skip
    (json_path,) = tmp_path.glob("*.json")
    run = json.loads(json_path.read_text())
    (cell,) = run["results"]
    assert cell["cell"] == {
        "target": "single", "tool": "redis-benchmark", "command": "set",
        "clients": 50, "pipeline": 1, "value_size": 100,
    }  # fmt: skip
    assert cell["status"] == "ok"
    assert cell["rps"] > 0
    assert cell["argv"][0] == "redis-benchmark"
    assert "single" in (tmp_path / "b.md").read_text()


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("redis-benchmark") is None, reason="redis-benchmark missing")
def test_quick_collections_on_a_cluster_leader(tmp_path):
    # SADD and the big/empty hash cells measure; LPUSH answers "unknown command" until lists
    # exist, and is then skipped with that note rather than failing the run.
    run_bench(tmp_path, "--only", "set,sadd,lpush,hset-big,hset-empty", "--targets", "leader",
              "--tools", "redis-benchmark", "--clients", "20", "--pipelines", "1",
              "--duration", "0.2", "--big-hash", "2500", timeout_s=2 * TIMEOUT_S)  # fmt: skip
    (json_path,) = tmp_path.glob("*.json")
    results = {r["cell"]["command"]: r for r in json.loads(json_path.read_text())["results"]}
    assert [results[c]["status"] for c in ("set", "sadd", "hset-big", "hset-empty")] == ["ok"] * 4
    assert results["lpush"]["status"] in ("ok", "skipped")
    assert "2,500 fields were written" in results["hset-big"]["note"]
    assert results["hset-big"]["argv"][-4:-1] == ["HSET", "bench:hash:big", "f:__rand_int__"]
    page = (tmp_path / "b.md").read_text()
    assert "## Collections beside SET" in page and "HSET into a hash of 2,500 fields" in page
