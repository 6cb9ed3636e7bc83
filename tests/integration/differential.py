"""The differential harness: the same command sequences against real Redis and seshat-trio.

Real Redis (redis-server 7.0, on 127.0.0.1) is the oracle for the semantics: hypothesis
draws sequences of `Step`s, each runs on both sides, and every reply must be equal once
normalized. A step says how its replies compare: exactly (errors included), as a set
(HKEYS: the order of a hash is not part of the contract), by shape (HRANDFIELD: random
picks), or as a whole iteration (SCAN/HSCAN: cursors differ, the keys they visit may not).

On the seshat-trio side every call goes to one node of a cluster, chosen by the step
(leader or follower), so forwarding, read barriers and follower reads are all exercised.

Adding a value type adds strategies (differential_commands.py), nothing here.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs
import redis

from seshat_trio.testing.ports import free_port

Reply = object
Normalize = Callable[[Reply], object]
REDIS_SERVER = "/usr/bin/redis-server"
SCAN_LIMIT = 10_000  # calls one iteration may take: a cursor that never ends is a failure


def plain(reply: Reply) -> object:
    """A reply with errors as ("error", text) and arrays as lists, compared as they are."""
    if isinstance(reply, redis.ResponseError):
        return ("error", str(reply))
    if isinstance(reply, list | tuple):
        return [plain(item) for item in reply]
    return reply


def as_set(reply: Reply) -> object:
    """An array compared as a multiset (the order of a hash's fields is not the contract)."""
    value = plain(reply)
    return sorted(value, key=repr) if isinstance(value, list) else value


def as_map(reply: Reply) -> object:
    """A flat field/value array (RESP2 HGETALL) compared as a map."""
    value = plain(reply)
    if isinstance(value, list):
        return dict(zip(value[0::2], value[1::2], strict=True))
    return value


def shape(reply: Reply) -> object:
    """Random picks: compare what is not random (nil or not, how many, how many distinct)."""
    value = plain(reply)
    if isinstance(value, list):
        return ("array", len(value), len({repr(v) for v in value}))
    return value if value is None or isinstance(value, tuple) else "one"


def sign(reply: Reply) -> object:
    """A time to live: -2, -1, or some positive amount (the clocks differ by milliseconds)."""
    value = plain(reply)
    return "positive" if isinstance(value, int) and value > 0 else value


@attrs.frozen(slots=True)
class Call:
    argv: tuple[bytes, ...]
    normalize: Normalize = plain
    node: int = 0  # which cluster node runs it (0: the leader)


@attrs.frozen(slots=True)
class ScanAll:
    """A whole SCAN-family iteration (`key` None: SCAN itself), compared as a set."""

    command: bytes
    key: bytes | None
    options: tuple[bytes, ...]
    node: int = 0


@attrs.frozen(slots=True)
class Multi:
    """MULTI, the calls queued, EXEC, all on one node; EXEC's replies compared one by one."""

    calls: tuple[Call, ...]
    node: int = 0


Step = Call | ScanAll | Multi


class Side:
    """One system under test: a connection per node (real Redis has one node)."""

    def __init__(self, name: str, ports: Sequence[int]) -> None:
        self.name = name
        self.connections = [
            redis.Connection(host="127.0.0.1", port=port, socket_timeout=20) for port in ports
        ]

    def call(self, node: int, argv: Sequence[bytes]) -> Reply:
        connection = self.connections[node % len(self.connections)]
        connection.send_command(*argv)
        try:
            return connection.read_response()
        except redis.ResponseError as exc:
            return exc

    def run(self, step: Step) -> object:
        if isinstance(step, Call):
            return step.normalize(self.call(step.node, step.argv))
        if isinstance(step, Multi):
            queued = [plain(self.call(step.node, (b"MULTI",)))]
            queued += [plain(self.call(step.node, call.argv)) for call in step.calls]
            done = self.call(step.node, (b"EXEC",))
            if isinstance(done, list):
                return queued, [c.normalize(r) for c, r in zip(step.calls, done, strict=True)]
            return queued, plain(done)
        return self._scan_all(step)

    def _scan_all(self, step: ScanAll) -> object:
        head = (step.command,) if step.key is None else (step.command, step.key)
        cursor = b"0"
        seen: list[object] = []
        for _ in range(SCAN_LIMIT):
            reply = self.call(step.node, (*head, cursor, *step.options))
            if not isinstance(reply, list):
                return plain(reply)
            cursor, items = reply
            if step.key is None:
                seen += items
            else:  # HSCAN: field/value pairs
                seen += zip(items[0::2], items[1::2], strict=True)
            if cursor == b"0":
                return sorted(set(seen), key=repr)
        raise AssertionError(f"{self.name}: {step} did not end after {SCAN_LIMIT} calls")

    def close(self) -> None:
        for connection in self.connections:
            connection.disconnect()


def compare(steps: Sequence[Step], oracle: Side, subject: Side) -> None:
    """Run `steps` on both sides in order; fail at the first reply that differs."""
    for number, step in enumerate(steps):
        expected = oracle.run(step)
        got = subject.run(step)
        assert got == expected, (
            f"step {number} {step}: {oracle.name} answered {expected!r}, {subject.name} {got!r}"
        )


class RedisServer:
    """A real redis-server 7.0 on 127.0.0.1 without persistence, stopped by PID."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which(REDIS_SERVER) is not None

    def start(self, timeout: float = 10.0) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        argv = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.work_dir)]  # fmt: skip
        with open(self.work_dir / "redis.log", "ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if redis.Redis(port=self.port, socket_timeout=1).ping():
                    return
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
