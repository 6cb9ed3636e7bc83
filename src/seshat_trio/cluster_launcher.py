"""Run a local N-node cluster in the foreground: `seshat-trio cluster --nodes 3`.

Node i (1-based) listens on base port + i - 1 for each of client, internal and HTTP
traffic, keeps its data in `<base-dir>/node-i/` and writes stdout and stderr to
`<base-dir>/node-i.log`. Every node is started with `--bootstrap`, the same member list and
the same cluster secret (`<base-dir>/cluster.secret`, made on first use, mode 0600).

Stopping (Ctrl-C, SIGTERM or SIGHUP) sends SIGTERM to each node by PID, waits up to
`grace` seconds, then SIGKILLs stragglers; a second signal skips the wait. Nodes run in
their own sessions, so a terminal's Ctrl-C reaches only the launcher and shutdown happens
once, in that order. A node that dies on its own is reported and the others keep running.
The exit code is 0 only if every node ran until asked and then stopped cleanly.
"""

import itertools
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

import attrs
import trio

from seshat_trio.config.model import MAX_DATA_GROUPS, MAX_PORT, Address, Member

STOP_GRACE_S = 10.0
HOST = "127.0.0.1"
# Exit statuses of a node that stopped as asked: its own graceful exit, or SIGTERM's default.
_CLEAN_EXITS = frozenset({0, -signal.SIGTERM})


@attrs.frozen
class ClusterPlan:
    nodes: int
    base_dir: Path
    groups: int = 1
    client_port: int = 6379
    internal_port: int = 7379
    http_port: int = 8080

    def problems(self) -> list[str]:
        if self.nodes < 1:
            return [f"--nodes must be at least 1, got {self.nodes}"]
        found: list[str] = []
        if not 1 <= self.groups <= MAX_DATA_GROUPS:
            found.append(f"--groups must be 1-{MAX_DATA_GROUPS}, got {self.groups}")
        ranges = {
            "--client-port": self.client_port,
            "--internal-port": self.internal_port,
            "--http-port": self.http_port,
        }
        for flag, first in ranges.items():
            if not 1 <= first <= MAX_PORT - self.nodes + 1:
                last = first + self.nodes - 1
                found.append(f"{flag}: ports {first}-{last} are not all within 1-{MAX_PORT}")
        starts = sorted(ranges.values())
        if any(b - a < self.nodes for a, b in itertools.pairwise(starts)):
            found.append(f"port ranges of {self.nodes} ports from {starts} overlap")
        return found

    def address(self, first_port: int, node_id: int) -> Address:
        return Address(HOST, first_port + node_id - 1)

    def members(self) -> tuple[Member, ...]:
        return tuple(
            Member(i, self.address(self.internal_port, i)) for i in range(1, self.nodes + 1)
        )

    def data_dir(self, node_id: int) -> Path:
        return self.base_dir / f"node-{node_id}"

    def log_path(self, node_id: int) -> Path:
        return self.base_dir / f"node-{node_id}.log"

    @property
    def secret_path(self) -> Path:
        return self.base_dir / "cluster.secret"

    def ensure_secret(self) -> None:
        """Make the cluster secret file unless it exists (readable by this user only)."""
        self.base_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.secret_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return
        with os.fdopen(fd, "w") as secret:
            secret.write(os.urandom(32).hex() + "\n")


ChildArgv = Callable[[ClusterPlan, int], Sequence[str]]


def member_argv(
    node_id: int,
    members: str,
    data_dir: Path,
    *,
    client_addr: Address | str,
    internal_addr: Address | str,
    http_addr: Address | str,
    secret_file: Path | None = None,
    data_groups: int = 1,
) -> list[str]:
    """`python -m seshat_trio serve ...` for a member of a bootstrapped cluster. The same
    command line serves every start: --bootstrap only acts on an empty data dir."""
    secret = [] if secret_file is None else ["--cluster-secret-file", str(secret_file)]
    return [
        sys.executable, "-m", "seshat_trio", "serve",
        "--node-id", str(node_id),
        "--bootstrap",
        "--initial-members", members,
        "--data-dir", str(data_dir),
        "--client-addr", str(client_addr),
        "--internal-addr", str(internal_addr),
        "--http-addr", str(http_addr),
        "--data-groups", str(data_groups),
        *secret,
    ]  # fmt: skip


def serve_argv(plan: ClusterPlan, node_id: int) -> list[str]:
    """The command line of node `node_id` of `plan`."""
    return member_argv(
        node_id,
        ",".join(str(member) for member in plan.members()),
        plan.data_dir(node_id),
        client_addr=plan.address(plan.client_port, node_id),
        internal_addr=plan.address(plan.internal_port, node_id),
        http_addr=plan.address(plan.http_port, node_id),
        secret_file=plan.secret_path,
        data_groups=plan.groups,
    )


def describe_exit(code: int) -> str:
    if code < 0:
        return f"signal {signal.Signals(-code).name}"
    return f"code {code}"


@attrs.define
class _Child:
    node_id: int
    process: trio.Process
    log_path: Path


class ClusterLauncher:
    """Owns the node processes: start them all, watch them, stop them all."""

    def __init__(
        self,
        plan: ClusterPlan,
        child_argv: ChildArgv = serve_argv,
        out: TextIO = sys.stdout,
        grace: float = STOP_GRACE_S,
    ) -> None:
        self._plan = plan
        self._child_argv = child_argv
        self._out = out
        self._grace = grace
        self._children: list[_Child] = []
        self._stop = trio.Event()
        self._grace_scope = trio.CancelScope()
        self._stopping = False
        self._failed = False

    def stop(self) -> None:
        """Begin a graceful stop; called again while stopping, skip the grace period."""
        if self._stop.is_set():
            self._grace_scope.cancel()
        self._stop.set()

    async def run(
        self, *, task_status: trio.TaskStatus[list[int]] = trio.TASK_STATUS_IGNORED
    ) -> int:
        """Start every node, report their PIDs, run until `stop()`; returns the exit code."""
        self._plan.ensure_secret()
        try:
            async with trio.open_nursery() as nursery:
                for node_id in range(1, self._plan.nodes + 1):
                    child = await self._spawn(node_id)
                    if child is None:
                        self._failed = True
                        self._stop.set()
                        break
                    self._children.append(child)
                    nursery.start_soon(self._watch, child)
                self._print_banner()
                task_status.started([child.process.pid for child in self._children])
                await self._stop.wait()
                await self._shutdown()
        finally:
            # Cancelled or crashed: never leave a node running behind us.
            with trio.CancelScope(shield=True):
                for child in self._children:
                    if child.process.returncode is None:
                        child.process.kill()
                        await child.process.wait()
        return 1 if self._failed else 0

    async def _spawn(self, node_id: int) -> _Child | None:
        log_path = self._plan.log_path(node_id)
        argv = list(self._child_argv(self._plan, node_id))
        try:
            with log_path.open("ab") as log_file:
                process = await trio.lowlevel.open_process(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        except OSError as exc:
            self._say(f"node {node_id}: cannot start {argv[0]}: {exc.strerror or exc}")
            return None
        return _Child(node_id, process, log_path)

    async def _watch(self, child: _Child) -> None:
        code = await child.process.wait()
        if self._stopping:
            return
        self._failed = True
        self._say(
            f"node {child.node_id} (pid {child.process.pid}) exited unexpectedly with "
            f"{describe_exit(code)}; log: {child.log_path}"
        )
        if len(self._children) == self._plan.nodes and all(
            c.process.returncode is not None for c in self._children
        ):
            self._say("every node has exited")
            self._stop.set()

    async def _shutdown(self) -> None:
        self._stopping = True
        alive = [c for c in self._children if c.process.returncode is None]
        if alive:
            self._say(f"stopping {len(alive)} node(s) (SIGTERM, up to {self._grace:g} s)")
        for child in alive:
            child.process.send_signal(signal.SIGTERM)
        with self._grace_scope:
            self._grace_scope.deadline = trio.current_time() + self._grace
            for child in alive:
                await child.process.wait()
        for child in alive:
            code = child.process.returncode
            if code is None:
                self._say(f"node {child.node_id} (pid {child.process.pid}) did not stop; SIGKILL")
                child.process.kill()
                await child.process.wait()
                self._failed = True
            elif code not in _CLEAN_EXITS:
                self._say(
                    f"node {child.node_id} stopped with {describe_exit(code)}; "
                    f"log: {child.log_path}"
                )
                self._failed = True
        self._say("all nodes stopped" if not self._failed else "stopped, with problems (above)")

    def _print_banner(self) -> None:
        plan = self._plan
        lines = [f"seshat-trio cluster: {len(self._children)} node(s) under {plan.base_dir}"]
        for child in self._children:
            i = child.node_id
            lines.append(
                f"  node {i}  pid {child.process.pid}"
                f"  client {plan.address(plan.client_port, i)}"
                f"  internal {plan.address(plan.internal_port, i)}"
                f"  http {plan.address(plan.http_port, i)}"
            )
            lines.append(f"          data {plan.data_dir(i)}  log {child.log_path}")
        lines.append(f"connect: redis-cli -p {plan.client_port}")
        lines.append("stop: Ctrl-C (twice to skip the grace period)")
        self._say("\n".join(lines))

    def _say(self, text: str) -> None:
        print(text, file=self._out, flush=True)


async def serve_cluster(
    plan: ClusterPlan,
    *,
    child_argv: ChildArgv = serve_argv,
    out: TextIO = sys.stdout,
    grace: float = STOP_GRACE_S,
    task_status: trio.TaskStatus[list[int]] = trio.TASK_STATUS_IGNORED,
) -> int:
    """Run the cluster until SIGINT, SIGTERM or SIGHUP; returns the exit code."""
    launcher = ClusterLauncher(plan, child_argv, out, grace)
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP) as signals:
        async with trio.open_nursery() as nursery:

            async def stop_on_signal() -> None:
                async for signum in signals:
                    print(f"received {signal.Signals(signum).name}", file=out, flush=True)
                    launcher.stop()

            nursery.start_soon(stop_on_signal)
            code = await launcher.run(task_status=task_status)
            nursery.cancel_scope.cancel()
    return code


def run_cluster(plan: ClusterPlan) -> int:
    """Blocking entry point for the CLI."""
    return trio.run(serve_cluster, plan)
