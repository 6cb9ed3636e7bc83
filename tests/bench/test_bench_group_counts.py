"""bench/group_counts.py's pure parts: the hooked command lines (bench/servers.py's, which
bench.chain uses too) and the leader hook, the calls per request, the CPU of one thread
against its process's, and the context switches."""

from __future__ import annotations

import cProfile
import os
import sys
import threading
import time
from pathlib import Path

import pytest
from bench.machine import context_switches, cpu_seconds

from bench import group_counts, servers
from seshat_trio.node import balancer
from seshat_trio.transport.framing import encode_frame


def test_a_profiled_node_runs_the_hook_with_the_same_arguments(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "seshat_trio", "serve", "--node-id", "1"]
    wrap = servers.hooked(tmp_path)
    assert wrap is not None
    code = "import sys\n" + servers.PROFILE_HOOK + servers.RUN_NODE
    assert wrap(argv) == [sys.executable, "-c", code, str(tmp_path), *argv[3:]]


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


def test_hooked_nodes_take_their_hook_arguments_in_the_order_the_code_reads_them(
    tmp_path: Path,
) -> None:
    argv = [sys.executable, "-m", "seshat_trio", "serve", "--node-id", "1"]
    assert servers.hooked() is None
    wrap = servers.hooked(tmp_path, leader=2)
    assert wrap is not None
    wrapped = wrap(argv)
    assert wrapped[:2] == [sys.executable, "-c"]
    assert wrapped[3:] == ["2", str(tmp_path), *argv[3:]]
    code = wrapped[2]
    # LEADER_HOOK pops its node before PROFILE_HOOK pops its directory, then the node runs
    assert code.index(servers.LEADER_HOOK) < code.index(servers.PROFILE_HOOK)
    assert code.endswith(servers.RUN_NODE)


def test_the_leader_hook_makes_every_group_prefer_its_node(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "argv", ["-c", "3", "serve"])
    monkeypatch.setattr(balancer, "preferred_leader", balancer.preferred_leader)
    exec(servers.LEADER_HOOK, {"sys": sys})
    assert sys.argv == ["-c", "serve"]
    assert [balancer.preferred_leader(group, [1, 2, 3]) for group in (1, 2, 3, 4)] == [3] * 4
    assert balancer.preferred_leader(1, [1, 2]) is None


def test_context_switches_count_a_wait_of_this_process() -> None:
    waits, _ = context_switches(os.getpid())
    time.sleep(0.01)  # blocks: a voluntary switch
    assert context_switches(os.getpid())[0] > waits
