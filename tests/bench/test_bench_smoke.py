"""One end-to-end run of the harness: `python -m bench --quick --only set` against a real
single node, a few seconds in all. Skipped when redis-benchmark is not installed."""

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TIMEOUT_S = 90


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("redis-benchmark") is None, reason="redis-benchmark missing")
def test_quick_set_against_a_single_node(tmp_path):
    argv = [
        sys.executable, "-m", "bench", "--quick", "--only", "set", "--targets", "single",
        "--tools", "redis-benchmark", "--clients", "50", "--pipelines", "1",
        "--duration", "0.5", "--results-dir", str(tmp_path), "--markdown", str(tmp_path / "b.md"),
    ]  # fmt: skip
    process = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        output, _ = process.communicate(timeout=TIMEOUT_S)
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
