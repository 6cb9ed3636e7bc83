"""Real seshat-trio processes on 127.0.0.1: node and 3-node cluster handles.

Imported by the integration tests as `harness` (a unique module name: several test
directories have a conftest.py, so `from conftest import ...` would be ambiguous).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from seshat_trio.cluster_launcher import member_argv
from seshat_trio.testing.ports import free_port

LOG_TAIL_LINES = 200
T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, every: float = 0.05) -> T:
    """Poll `probe` until it returns something other than None (or False); bounded in time.

    Connection errors count as "not yet": a node may be starting or electing a leader."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = probe()
            if value is not None and value is not False:
                return value
        except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError) as exc:
            last_error = exc
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what}: not within {timeout:g} s (last error: {last_error!r})")
        time.sleep(every)


class NodeProcess:
    """One `seshat-trio serve` child; stopped by PID, never by name."""

    def __init__(self, data_dir: Path, log_path: Path, extra: list[str] | None = None) -> None:
        self.data_dir = data_dir
        self.log_path = log_path
        self.port = free_port()
        self.http_port = free_port()
        self.extra = extra or []
        self.proc: subprocess.Popen[bytes] | None = None
        # The default user's password, for the harness's own clients (probes, INFO).
        self.password: str | None = None

    def argv(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "seshat_trio",
            "serve",
            "--node-id",
            "1",
            "--data-dir",
            str(self.data_dir),
            "--client-addr",
            f"127.0.0.1:{self.port}",
            "--internal-addr",
            f"127.0.0.1:{free_port()}",
            "--http-addr",
            f"127.0.0.1:{self.http_port}",
            *self.extra,
        ]

    def start(self, timeout: float = 15.0) -> None:
        self.launch()
        self.wait_ready(timeout)

    def launch(self) -> None:
        """Start the process without waiting for it to answer (see `wait_ready`)."""
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv(), stdout=log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 15.0) -> None:
        """Wait until the node answers PING on its client port."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"node exited with {self.proc.returncode}: {self.log_path.read_text()}"
                )
            try:
                if self.client().ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise TimeoutError(f"node did not answer PING within {timeout}s")

    def client(self) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1", port=self.port, socket_timeout=10, password=self.password
        )

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signum)

    def wait(self, timeout: float = 15.0) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.signal(signal.SIGKILL)
            self.proc.wait(10)

    def log_sections(self) -> list[tuple[str, str]]:
        return [log_tail(f"node log {self.log_path}", self.log_path)]


class MemberProcess(NodeProcess):
    """One member of a bootstrapped cluster: fixed id and ports across restarts."""

    def __init__(
        self, node_id: int, members: str, internal_port: int, base_dir: Path, extra: list[str]
    ) -> None:
        super().__init__(base_dir / f"node-{node_id}", base_dir / f"node-{node_id}.log", extra)
        self.node_id = node_id
        self.members = members
        self.internal_port = internal_port

    def argv(self) -> list[str]:
        return [
            *member_argv(
                self.node_id,
                self.members,
                self.data_dir,
                client_addr=f"127.0.0.1:{self.port}",
                internal_addr=f"127.0.0.1:{self.internal_port}",
                http_addr=f"127.0.0.1:{self.http_port}",
            ),
            *self.extra,
        ]

    def client(self) -> redis.Redis:
        # Short timeouts: a hung request must fail the test, not stall the module. No
        # retries: redis-py's default backoff would hide (and slow) a dead node, and a
        # silently retried write would blur what was acknowledged.
        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            socket_timeout=5,
            socket_connect_timeout=2,
            retry=Retry(NoBackoff(), retries=0),
            password=self.password,
        )

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def raft_info(self) -> dict[str, object]:
        """The `raft` section of INFO as redis-py parses it (numbers as int)."""
        with self.client() as r:
            fields: dict[str, object] = r.info("raft")
        return fields

    def raft_int(self, field: str) -> int:
        value = self.raft_info()[field]
        assert isinstance(value, int), (field, value)
        return value


class ClusterProcesses:
    """A 3-node cluster on 127.0.0.1 with free ports and data dirs under `base_dir`."""

    def __init__(self, base_dir: Path, size: int = 3, extra: list[str] | None = None) -> None:
        base_dir.mkdir(parents=True, exist_ok=True)
        internal = {i: free_port() for i in range(1, size + 1)}
        members = ",".join(f"{i}=127.0.0.1:{port}" for i, port in internal.items())
        self.nodes = {
            i: MemberProcess(i, members, port, base_dir, extra or [])
            for i, port in internal.items()
        }

    def start(self, timeout: float = 30.0) -> None:
        """Start every member at once (they boot in parallel) and wait for each PING."""
        for member in self.nodes.values():
            member.launch()
        for member in self.nodes.values():
            member.wait_ready(timeout)

    def stop(self) -> None:
        for member in self.nodes.values():
            member.stop()

    def live(self) -> list[MemberProcess]:
        return [member for member in self.nodes.values() if member.alive]

    def agreed_leader(self, among: list[MemberProcess]) -> int | None:
        """The leader id every member of `among` reports, if they agree and it says so."""
        reported = {member.raft_int("group1_leader_id") for member in among}
        if len(reported) != 1:
            return None
        leader_id = reported.pop()
        candidates = {member.node_id: member for member in among}
        if leader_id not in candidates:
            return None
        if candidates[leader_id].raft_info()["group1_role"] != "leader":
            return None
        return leader_id

    def wait_leader(self, timeout: float = 15.0, among: list[MemberProcess] | None = None) -> int:
        """Poll INFO raft until the live members (or `among`) agree on a leader."""
        group = among if among is not None else self.live()
        return wait_for("cluster agrees on a leader", lambda: self.agreed_leader(group), timeout)

    def leader(self, timeout: float = 15.0) -> MemberProcess:
        return self.nodes[self.wait_leader(timeout)]

    def followers(self, leader: MemberProcess) -> list[MemberProcess]:
        return [m for m in self.nodes.values() if m is not leader]

    def log_sections(self) -> list[tuple[str, str]]:
        return [
            log_tail(f"node {i} log {member.log_path}", member.log_path)
            for i, member in self.nodes.items()
        ]


def log_tail(title: str, path: Path, lines: int = LOG_TAIL_LINES) -> tuple[str, str]:
    if not path.exists():
        return title, "(no log file)"
    text = path.read_text(errors="replace").splitlines()
    return f"{title} (last {min(lines, len(text))} of {len(text)} lines)", "\n".join(text[-lines:])


class HasLogs(Protocol):
    def log_sections(self) -> list[tuple[str, str]]: ...


class ClusterFactory:
    """Starts 3-node clusters for one test; `stop_all` SIGKILLs every one by PID."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self.started: list[ClusterProcesses] = []

    def __call__(self, *extra: str) -> ClusterProcesses:
        """A started cluster; `extra` are additional `serve` flags for every member."""
        cluster = ClusterProcesses(
            self.base_dir / f"cluster-{len(self.started)}", extra=list(extra)
        )
        self.started.append(cluster)
        cluster.start()
        return cluster

    def stop_all(self) -> None:
        for cluster in self.started:
            cluster.stop()

    def log_sections(self) -> list[tuple[str, str]]:
        return [section for cluster in self.started for section in cluster.log_sections()]
