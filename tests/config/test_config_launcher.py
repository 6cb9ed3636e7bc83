"""The local cluster launcher, driven with fake node processes (no node implementation)."""

import io
import os
import signal
import sys
from pathlib import Path

import trio

from seshat_trio.cli import build_parser, overrides_from
from seshat_trio.cluster_launcher import (
    ChildArgv,
    ClusterLauncher,
    ClusterPlan,
    serve_argv,
    serve_cluster,
)
from seshat_trio.config import Address, Member, load_config

# A stand-in node: says "ready" once its SIGTERM handler is in place, "bye" on SIGTERM.
POLITE = """
import signal, sys, time
def bye(*_):
    print("bye", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, bye)
print("ready", sys.argv[1], flush=True)
time.sleep(120)
"""
STUBBORN = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
time.sleep(120)
"""
CRASHER = """
import sys
print("ready", flush=True)
sys.exit(3)
"""


def fake(scripts: dict[int, str]) -> ChildArgv:
    def argv(plan: ClusterPlan, node_id: int) -> list[str]:
        return [sys.executable, "-c", scripts.get(node_id, POLITE), str(node_id)]

    return argv


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def wait_ready(plan: ClusterPlan) -> None:
    with trio.fail_after(30):
        for node_id in range(1, plan.nodes + 1):
            while "ready" not in plan.log_path(node_id).read_text():
                await trio.sleep(0.02)


class Run:
    """Runs a launcher in a nursery and keeps its exit code."""

    code: int | None = None

    async def __call__(
        self, launcher: ClusterLauncher, *, task_status: trio.TaskStatus[list[int]]
    ) -> None:
        self.code = await launcher.run(task_status=task_status)


def test_plan_layout(tmp_path: Path) -> None:
    plan = ClusterPlan(3, tmp_path, client_port=7000, internal_port=7100, http_port=7200)
    assert plan.members() == tuple(Member(i, Address("127.0.0.1", 7099 + i)) for i in (1, 2, 3))
    assert plan.data_dir(2) == tmp_path / "node-2"
    assert plan.log_path(2) == tmp_path / "node-2.log"
    assert plan.problems() == []


def test_serve_argv_is_a_valid_bootstrap_config(tmp_path: Path) -> None:
    plan = ClusterPlan(3, tmp_path)
    plan.ensure_secret()
    assert plan.secret_path.stat().st_mode & 0o777 == 0o600
    for node_id in (1, 2, 3):
        argv = serve_argv(plan, node_id)
        assert argv[:4] == [sys.executable, "-m", "seshat_trio", "serve"]
        args = build_parser().parse_args(argv[3:])
        config = load_config(env={}, overrides=overrides_from(args))
        assert config.node.id == node_id and config.cluster.bootstrap
        assert config.cluster.initial_members == plan.members()
        assert config.node.client_addr == Address("127.0.0.1", 6378 + node_id)
        assert config.node.http_addr == Address("127.0.0.1", 8079 + node_id)
        assert config.node.data_dir == tmp_path / f"node-{node_id}"
        assert config.cluster.secret_file == plan.secret_path


async def test_start_and_stop(tmp_path: Path) -> None:
    plan = ClusterPlan(3, tmp_path / "cluster")
    out = io.StringIO()
    launcher = ClusterLauncher(plan, fake({}), out, grace=10)
    run = Run()
    async with trio.open_nursery() as nursery:
        pids = await nursery.start(run, launcher)
        assert len(pids) == 3 and all(alive(pid) for pid in pids)
        await wait_ready(plan)
        launcher.stop()
    assert run.code == 0
    assert not any(alive(pid) for pid in pids)
    for node_id in (1, 2, 3):
        assert plan.log_path(node_id).read_text() == f"ready {node_id}\nbye\n"
    text = out.getvalue()
    assert "redis-cli -p 6379" in text
    assert str(plan.log_path(3)) in text and str(plan.data_dir(3)) in text
    assert text.rstrip().endswith("all nodes stopped")


async def test_unexpected_exit_is_reported_and_others_keep_running(tmp_path: Path) -> None:
    plan = ClusterPlan(3, tmp_path)
    out = io.StringIO()
    launcher = ClusterLauncher(plan, fake({2: CRASHER}), out, grace=10)
    run = Run()
    async with trio.open_nursery() as nursery:
        pids = await nursery.start(run, launcher)
        with trio.fail_after(30):
            while "unexpectedly" not in out.getvalue():
                await trio.sleep(0.02)
        assert (
            f"node 2 (pid {pids[1]}) exited unexpectedly with code 3; log: {plan.log_path(2)}"
            in out.getvalue()
        )
        assert alive(pids[0]) and alive(pids[2])
        await wait_ready(plan)
        launcher.stop()
    assert run.code == 1
    assert "stopping 2 node(s)" in out.getvalue()


async def test_straggler_is_killed_after_grace(tmp_path: Path) -> None:
    plan = ClusterPlan(2, tmp_path)
    out = io.StringIO()
    launcher = ClusterLauncher(plan, fake({1: STUBBORN}), out, grace=0.5)
    run = Run()
    async with trio.open_nursery() as nursery:
        pids = await nursery.start(run, launcher)
        await wait_ready(plan)
        launcher.stop()
    assert run.code == 1
    assert f"node 1 (pid {pids[0]}) did not stop; SIGKILL" in out.getvalue()
    assert not any(alive(pid) for pid in pids)


async def test_second_stop_skips_grace(tmp_path: Path) -> None:
    plan = ClusterPlan(1, tmp_path)
    launcher = ClusterLauncher(plan, fake({1: STUBBORN}), io.StringIO(), grace=600)
    run = Run()
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            await nursery.start(run, launcher)
            await wait_ready(plan)
            launcher.stop()
            await trio.sleep(0.2)
            launcher.stop()
    assert run.code == 1


async def test_all_nodes_dead_ends_launcher(tmp_path: Path) -> None:
    plan = ClusterPlan(2, tmp_path)
    out = io.StringIO()
    launcher = ClusterLauncher(plan, fake({1: CRASHER, 2: CRASHER}), out)
    with trio.fail_after(30):
        assert await launcher.run() == 1
    assert "every node has exited" in out.getvalue()


async def test_start_failure(tmp_path: Path) -> None:
    plan = ClusterPlan(2, tmp_path)
    out = io.StringIO()

    def argv(plan: ClusterPlan, node_id: int) -> list[str]:
        if node_id == 2:
            return [str(tmp_path / "no-such-program")]
        return list(fake({})(plan, node_id))

    with trio.fail_after(30):
        assert await ClusterLauncher(plan, argv, out).run() == 1
    assert f"node 2: cannot start {tmp_path / 'no-such-program'}: No such file" in out.getvalue()


async def test_cancellation_kills_children(tmp_path: Path) -> None:
    plan = ClusterPlan(2, tmp_path)
    launcher = ClusterLauncher(plan, fake({}), io.StringIO())
    async with trio.open_nursery() as nursery:
        pids = await nursery.start(Run(), launcher)
        nursery.cancel_scope.cancel()
    assert not any(alive(pid) for pid in pids)


async def test_sigterm_to_launcher_stops_cluster(tmp_path: Path) -> None:
    plan = ClusterPlan(2, tmp_path)
    out = io.StringIO()
    codes: list[int] = []

    async def serve(*, task_status: trio.TaskStatus[list[int]]) -> None:
        codes.append(
            await serve_cluster(plan, child_argv=fake({}), out=out, task_status=task_status)
        )

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            pids = await nursery.start(serve)
            await wait_ready(plan)
            os.kill(os.getpid(), signal.SIGTERM)
    assert codes == [0]
    assert "received SIGTERM" in out.getvalue()
    assert not any(alive(pid) for pid in pids)
