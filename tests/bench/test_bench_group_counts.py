"""bench/group_counts.py's pure parts: the profiled command line (bench/servers.py's, which
bench.chain uses too) and the calls per SET."""

from __future__ import annotations

import cProfile
import sys
from pathlib import Path

from bench import group_counts, servers
from seshat_trio.transport.framing import encode_frame


def test_a_profiled_node_runs_the_hook_with_the_same_arguments(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "seshat_trio", "serve", "--node-id", "1"]
    wrapped = servers.profiled(tmp_path)(argv)
    assert wrapped == [sys.executable, "-c", servers.HOOK, str(tmp_path), *argv[3:]]


def test_calls_are_summed_over_the_nodes_and_divided_by_the_sets(tmp_path: Path) -> None:
    for node, frames in enumerate((3, 5)):
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(frames):
            encode_frame(b"x")
        profile.disable()
        profile.dump_stats(str(tmp_path / f"{node}.prof"))
    counted = dict(group_counts.calls_per_set(tmp_path, 4))
    assert counted["frames encoded (every kind)"] == 2.0
    assert counted["log entries proposed"] == 0.0
