"""The systems under test, each started fresh in a temp dir and always stopped by PID.

- `seshat_cluster(n, base_dir)`: n `seshat-trio serve` nodes started by the product's own
  `ClusterLauncher`, returned once a data-group leader is known (`INFO raft`). A 1-node
  cluster is the "single" target.
- `redis_reference(dir)`: `redis-server` with an fsync-per-write AOF, the durable-Redis
  reference, or None if redis-server is not installed.

Stopping: a context manager's exit stops what it started (the launcher SIGTERMs its nodes
by PID and SIGKILLs stragglers; it also SIGKILLs them if cancelled, e.g. by Ctrl-C).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import attrs
import hiredis
import trio

from seshat_trio.client import RedisReplyError, RespClient
from seshat_trio.cluster_launcher import ClusterLauncher, ClusterPlan, serve_argv
from seshat_trio.system.placement import preferred_leader
from seshat_trio.testing.ports import free_port_block

HOST = "127.0.0.1"
LEADER_TIMEOUT_S = 60.0
READY_TIMEOUT_S = 30.0
POLL_S = 0.1
STOP_GRACE_S = 5.0
REDIS_SERVER = "redis-server"


def cluster_plan(nodes: int, base_dir: Path, groups: int = 1) -> ClusterPlan:
    """A plan whose client, internal and HTTP port ranges are free and adjacent."""
    first = free_port_block(3 * nodes)
    plan = ClusterPlan(
        nodes=nodes,
        base_dir=base_dir,
        groups=groups,
        client_port=first,
        internal_port=first + nodes,
        http_port=first + 2 * nodes,
    )
    if problems := plan.problems():
        raise ValueError("; ".join(problems))
    return plan


@attrs.frozen
class Cluster:
    plan: ClusterPlan
    pids: tuple[int, ...]
    leader_id: int

    def client_port(self, node_id: int) -> int:
        return self.plan.client_port + node_id - 1

    @property
    def leader_port(self) -> int:
        return self.client_port(self.leader_id)

    @property
    def follower_port(self) -> int | None:
        for node_id in range(1, self.plan.nodes + 1):
            if node_id != self.leader_id:
                return self.client_port(node_id)
        return None


def parse_info(text: str) -> dict[str, str]:
    """`INFO` text as a dict: `key:value` lines, `# Section` headers and blanks skipped."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("#") or ":" not in line:
            continue
        key, value = line.split(":", 1)
        fields[key.strip()] = value.strip()
    return fields


async def raft_info(port: int) -> dict[str, str] | None:
    try:
        async with await RespClient.connect(HOST, port) as client:
            with trio.move_on_after(2.0):
                reply = await client.call("INFO", "raft")
                if isinstance(reply, bytes):
                    return parse_info(reply.decode("utf-8", "replace"))
    except (OSError, trio.BrokenResourceError, hiredis.ProtocolError):
        # Not up yet, or (a port taken meanwhile by another process) not a RESP server.
        return None
    return None


def _alive(pid: int) -> bool:
    """Whether `pid` still exists; the launcher reaps its children, so an exited node is gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def log_tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return " / ".join(line.strip() for line in text.strip().splitlines()[-lines:])


async def wait_for_leader(
    plan: ClusterPlan,
    pids: Sequence[int] = (),
    timeout_s: float = LEADER_TIMEOUT_S,
    settles_on: int | None = None,
) -> int:
    """The data group's leader id, once a node says it leads and every node agrees, and it
    is the node the leader balancer hands group 1 to (until then leadership is about to
    move, and a cell aimed at "the leader" would measure a follower forwarding): placement's
    choice, or `settles_on` for nodes run `hooked(leader=settles_on)`.

    Raises RuntimeError as soon as one of `pids` has exited (with the tail of its log)."""
    if settles_on is None:
        settles_on = preferred_leader(1, range(1, plan.nodes + 1))
    with trio.move_on_after(timeout_s):
        while True:
            for node_id, pid in enumerate(pids, start=1):
                if not _alive(pid):
                    tail = log_tail(plan.log_path(node_id))
                    raise RuntimeError(f"node {node_id} (pid {pid}) exited: {tail}")
            infos = [await raft_info(plan.client_port + i) for i in range(plan.nodes)]
            leaders = {info.get("group1_leader_id") for info in infos if info is not None}
            roles = [info.get("group1_role") for info in infos if info is not None]
            if len(leaders) == 1 and None not in infos and "leader" in roles:
                (leader,) = leaders
                if leader is not None and leader.isdigit() and int(leader) == settles_on:
                    return int(leader)
            await trio.sleep(POLL_S)
    raise TimeoutError(
        f"no agreed data-group leader within {timeout_s:g} s; node logs under {plan.base_dir}"
    )


@asynccontextmanager
async def seshat_cluster(
    nodes: int,
    base_dir: Path,
    extra: Sequence[str] = (),
    groups: int = 1,
    wrap: Callable[[list[str]], list[str]] | None = None,
    *,
    leader: int | None = None,
) -> AsyncIterator[Cluster]:
    """Start `nodes` fresh nodes with `groups` data groups under `base_dir` (`extra`: more
    `serve` options for each; `wrap`: rewrites each command line, e.g. to profile the
    node, and `leader` is the node a `hooked(leader=...)` wrap has every group prefer);
    yields once group 1 has a leader."""
    plan = cluster_plan(nodes, base_dir, groups)
    base_dir.mkdir(parents=True, exist_ok=True)

    def argv(plan: ClusterPlan, node_id: int) -> list[str]:
        line = [*serve_argv(plan, node_id), *extra]
        return line if wrap is None else wrap(line)

    with (base_dir / "launcher.log").open("w") as launcher_log:
        launcher = ClusterLauncher(plan, argv, out=launcher_log, grace=STOP_GRACE_S)
        async with trio.open_nursery() as nursery:
            pids: list[int] = await nursery.start(launcher.run)
            try:
                leader_id = await wait_for_leader(plan, pids, settles_on=leader)
                yield Cluster(plan=plan, pids=tuple(pids), leader_id=leader_id)
            finally:
                launcher.stop()


@attrs.frozen
class RedisServer:
    port: int
    pid: int
    argv: tuple[str, ...]


def redis_server_argv(port: int, data_dir: Path) -> list[str]:
    """Durable single-node Redis: every write appended to the AOF and fsynced before OK."""
    return [
        REDIS_SERVER, "--port", str(port), "--bind", HOST,
        "--appendonly", "yes", "--appendfsync", "always", "--save", "",
        "--dir", str(data_dir),
    ]  # fmt: skip


async def _wait_ready(port: int, process: trio.Process) -> None:
    with trio.fail_after(READY_TIMEOUT_S):
        while process.returncode is None:
            try:
                async with await RespClient.connect(HOST, port) as client:
                    if await client.call("PING") == b"PONG":
                        return
            except (OSError, trio.BrokenResourceError, RedisReplyError):
                pass
            await trio.sleep(POLL_S)
    raise RuntimeError(f"redis-server exited with {process.returncode} before answering PING")


@asynccontextmanager
async def redis_reference(data_dir: Path) -> AsyncIterator[RedisServer | None]:
    """A fresh durable redis-server under `data_dir`, or None if it is not installed."""
    if shutil.which(REDIS_SERVER) is None:
        yield None
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port_block(1)
    argv = redis_server_argv(port, data_dir)
    with (data_dir / "redis-server.log").open("wb") as log:
        process = await trio.lowlevel.open_process(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        await _wait_ready(port, process)
        yield RedisServer(port=port, pid=process.pid, argv=tuple(argv))
    finally:
        with trio.CancelScope(shield=True):
            await _stop(process)


async def _stop(process: trio.Process) -> None:
    """SIGTERM by PID, then SIGKILL if it has not exited within the grace period."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        with trio.move_on_after(STOP_GRACE_S):
            await process.wait()
    if process.returncode is None:
        process.kill()
        await process.wait()


# The hooks `hooked` runs a node under, as `python -c <code> <hook args...> serve ...`; each
# takes its argument off the command line in turn, then the node's own `main` runs.
# A profiler that SIGUSR1 starts and, sent again, stops and dumps (SIGUSR2 is the node's
# own: it prints every thread's stack).
PROFILE_HOOK = """
import cProfile, os, signal, time
out = sys.argv.pop(1)
profile = cProfile.Profile(time.thread_time)
running = []
def toggle(*_):
    if not running:
        running.append(True)
        profile.enable()
        return
    profile.disable()
    profile.dump_stats(os.path.join(out, f"{os.getpid()}.prof"))
signal.signal(signal.SIGUSR1, toggle)
"""
# Every data group prefers the given node as its leader, so the balancer gathers the
# leaders there: an experiment against placement, which spreads them (bench/group_counts.py).
LEADER_HOOK = """
from seshat_trio.node import balancer
leader = int(sys.argv.pop(1))
balancer.preferred_leader = lambda group, voters: leader if leader in voters else None
"""
RUN_NODE = """
from seshat_trio.cli import main
sys.exit(main(sys.argv[1:]))
"""


def toggle_profiles(pids: Sequence[int], profile_dir: Path | None) -> None:
    """Start, or stop and dump, the profiles of nodes run `hooked(profile_dir)` (no-op
    when not profiling)."""
    if profile_dir is not None:
        for pid in pids:
            os.kill(pid, signal.SIGUSR1)


def hooked(
    profile_dir: Path | None = None, leader: int | None = None
) -> Callable[[list[str]], list[str]] | None:
    """A rewrite of a node's command line that runs it profiled into `profile_dir` and/or
    with every group preferring node `leader`; None when neither is asked for."""
    hooks = [(LEADER_HOOK, leader), (PROFILE_HOOK, profile_dir)]
    chosen = [(code, str(arg)) for code, arg in hooks if arg is not None]
    if not chosen:
        return None
    code = "import sys\n" + "".join(hook for hook, _ in chosen) + RUN_NODE

    def wrap(argv: list[str]) -> list[str]:
        assert argv[1:3] == ["-m", "seshat_trio"], argv
        return [argv[0], "-c", code, *(arg for _, arg in chosen), *argv[3:]]

    return wrap
