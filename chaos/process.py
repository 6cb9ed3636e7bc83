"""One seshat-trio node process for the chaos suite: start, SIGKILL, SIGSTOP/SIGCONT,
restart at the same addresses and data dir, INFO raft and resident memory.

Rules: a process is only ever signalled by its own PID; `kill` is idempotent and also works
on a paused (stopped) process; every wait is bounded in time.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path

import trio

from seshat_trio.client import RedisReplyError, RespClient
from seshat_trio.cluster_launcher import member_argv

#: Flags every chaos node gets: short request deadlines so a cut-off node answers
#: NOLEADER/TIMEOUT within seconds instead of the default 30 s.
COMMON_FLAGS = ("--request-timeout-ms", "3000")
INFO_TIMEOUT = 2.0


def status_kb(status: str) -> dict[str, int]:
    """The sizes of a /proc/PID/status text (`VmRSS:  1234 kB` lines), in KiB by field."""
    sizes: dict[str, int] = {}
    for line in status.splitlines():
        field, _, rest = line.partition(":")
        value = rest.split()
        if len(value) == 2 and value[1] == "kB":
            sizes[field] = int(value[0])
    return sizes


class NodeProcess:
    """A cluster member with a fixed id, ports and data dir across restarts."""

    def __init__(
        self,
        node_id: int,
        *,
        base_dir: Path,
        client_port: int,
        internal_port: int,
        http_port: int,
        extra: tuple[str, ...] = (),
        groups: int = 1,
    ) -> None:
        self.node_id = node_id
        self.groups = groups
        self.data_dir = base_dir / f"node-{node_id}"
        self.log_path = base_dir / f"node-{node_id}.log"
        self.client_port = client_port
        self.internal_port = internal_port
        self.http_port = http_port
        self.extra = extra
        self.members = ""  # set by the cluster once the relays have ports
        self.env: dict[str, str] = {}  # extra environment (e.g. libfaketime)
        # The default user's password, when the cluster has one (the harness's own calls).
        self.password: str | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def argv(self) -> list[str]:
        return [
            *member_argv(
                self.node_id,
                self.members,
                self.data_dir,
                client_addr=f"127.0.0.1:{self.client_port}",
                internal_addr=f"127.0.0.1:{self.internal_port}",
                http_addr=f"127.0.0.1:{self.http_port}",
                data_groups=self.groups,
            ),
            *COMMON_FLAGS,
            *self.extra,
        ]

    def launch(self, env: Mapping[str, str] | None = None) -> None:
        """Start the process (not waiting for it to serve); `env` adds variables."""
        if self.alive:
            raise RuntimeError(f"node {self.node_id} is already running (pid {self.pid})")
        self.env = dict(env or {})
        with open(self.log_path, "ab") as log:
            log.write(f"---- chaos: start #{self.starts + 1} of node {self.node_id}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.argv(),
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
            )
        self.starts += 1

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError(f"node {self.node_id} was never started")
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def kill(self) -> None:
        """SIGKILL by PID and reap; no-op when not running."""
        if self.alive:
            assert self.proc is not None
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def pause(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def rss_kb(self) -> int | None:
        """VmRSS from /proc/PID/status, or None when the process is gone."""
        if not self.alive:
            return None
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return None
        return status_kb(status).get("VmRSS")

    async def call(self, *args: bytes | str | int, timeout: float = INFO_TIMEOUT) -> object:
        """One command on a fresh connection; raises on timeout or connection errors."""
        credentials = None if self.password is None else ("default", self.password)
        with trio.fail_after(timeout):
            async with await RespClient.connect(
                "127.0.0.1", self.client_port, credentials=credentials
            ) as client:
                reply: object = await client.call(*args)
                return reply

    async def info(self) -> dict[str, str]:
        """The `INFO raft` section as text fields."""
        reply = await self.call("INFO", "raft")
        if not isinstance(reply, bytes):
            raise TypeError(f"node {self.node_id}: unexpected INFO reply {reply!r}")
        fields: dict[str, str] = {}
        for line in reply.decode().splitlines():
            key, sep, value = line.partition(":")
            if sep:
                fields[key] = value
        return fields

    async def try_info(self) -> dict[str, str] | None:
        """INFO raft, or None if the node does not answer in time."""
        try:
            return await self.info()
        except (OSError, trio.TooSlowError, trio.BrokenResourceError, RedisReplyError):
            return None

    async def wait_serving(self, timeout: float = 20.0) -> None:
        """Wait until the node answers PING; raises if it exits or does not answer in time."""
        with trio.fail_after(timeout):
            while True:
                if not self.alive:
                    raise RuntimeError(
                        f"node {self.node_id} exited with {self.returncode}:\n{self.log_tail()}"
                    )
                try:
                    if await self.call("PING", timeout=1.0) == b"PONG":
                        return
                except (OSError, trio.TooSlowError, trio.BrokenResourceError):
                    pass
                await trio.sleep(0.05)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])
