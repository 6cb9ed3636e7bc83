"""bench/group_counts.py's pure parts: the profiled command line (bench/servers.py's, which
bench.chain uses too), the calls per request, and the CPU of one thread against its
process's."""

from __future__ import annotations

import cProfile
import os
import sys
import threading
import time
from pathlib import Path

from bench.machine import cpu_seconds

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
    counted = dict(group_counts.calls_per_request(tmp_path, 4))
    assert counted["frames encoded (every kind)"] == 2.0
    assert counted["log entries proposed"] == 0.0


def test_a_threads_cpu_is_its_own_share_of_the_process_cpu() -> None:
    pid, main = os.getpid(), threading.get_native_id()

    def spin() -> None:  # CPU on another thread while this one waits in join()
        end = time.process_time() + 0.3
        while time.process_time() < end:
            pass

    before = cpu_seconds(pid), cpu_seconds(pid, main)
    worker = threading.Thread(target=spin)
    worker.start()
    worker.join()
    process, thread = cpu_seconds(pid) - before[0], cpu_seconds(pid, main) - before[1]
    assert process >= 0.2
    assert thread < process - 0.15
