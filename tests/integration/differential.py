"""The differential harness: the same command sequences against real Redis and seshat-trio.

Real Redis (redis-server 7.0, on 127.0.0.1) is the oracle for the semantics: hypothesis
draws sequences of `Step`s, each runs on both sides, and every reply must be equal once
normalized. A step says how its replies compare: exactly (errors included), as a set
(HKEYS: the order of a hash is not part of the contract), by shape (HRANDFIELD: random
picks), or as a whole iteration (SCAN/HSCAN: cursors differ, the keys they visit may not).

On the seshat-trio side every call goes to one node of a cluster, chosen by the step
(leader or follower), so forwarding, read barriers and follower reads are all exercised.

A write that picks at random (SPOP) would leave the two sides holding different data, so
it is a `Pop`: seshat-trio pops, the oracle checks that what was popped was there and as
many as it should be, then removes exactly those, and both sides agree again.

Adding a value type adds strategies (differential_commands.py), nothing here.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs
import redis
from hypothesis import HealthCheck, settings

from seshat_trio.testing.ports import free_port

Reply = object
Normalize = Callable[[Reply], object]
REDIS_SERVER = "/usr/bin/redis-server"
SCAN_LIMIT = 10_000  # calls one iteration may take: a cursor that never ends is a failure
# Bounded for CI (a few tens of seconds); DIFFERENTIAL_EXAMPLES=2000 for a long hunt.
EXAMPLES = int(os.environ.get("DIFFERENTIAL_EXAMPLES", "60"))
#: The hypothesis settings of a differential test (each example runs against real servers).
DIFFERENTIAL = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


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


def how_many(reply: Reply) -> object:
    """Random picks that may repeat (a negative count): as `shape`, without the distinct
    count (how often a pick repeats is random)."""
    value = plain(reply)
    return ("array", len(value)) if isinstance(value, list) else shape(reply)


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


@attrs.frozen(slots=True)
class Pop:
    """SPOP key [count]: seshat-trio's random picks, checked against then applied to the
    oracle (see the module doc). Never inside a `Multi`."""

    key: bytes
    count: bytes | None
    node: int = 0

    def check(self, oracle: Side, subject: Side) -> None:
        argv = (b"SPOP", self.key) if self.count is None else (b"SPOP", self.key, self.count)
        got = plain(subject.call(self.node, argv))
        if isinstance(got, tuple) or got is None:  # an error, or nothing to pop
            expected = plain(oracle.call(0, argv))
            assert got == expected, f"{argv}: redis answered {expected!r}, seshat {got!r}"
            return
        popped = [got] if isinstance(got, bytes) else got
        assert isinstance(popped, list)
        size = plain(oracle.call(0, (b"SCARD", self.key)))
        assert isinstance(size, int)
        wanted = 1 if self.count is None else min(int(self.count), size)
        assert len(popped) == len(set(popped)) == wanted, f"{argv} popped {popped!r} of {size}"
        if popped:
            there = oracle.call(0, (b"SMISMEMBER", self.key, *popped))
            assert there == [1] * len(popped), f"{argv} popped {popped!r}, not all members"
            assert oracle.call(0, (b"SREM", self.key, *popped)) == len(popped)


Step = Call | ScanAll | Multi | Pop


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

    def run(self, step: Call | ScanAll | Multi) -> object:
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
            if step.key is None or step.command == b"SSCAN":  # keys, or a set's members
                seen += items
            else:  # HSCAN, ZSCAN: pairs
                seen += zip(items[0::2], items[1::2], strict=True)
            if cursor == b"0":
                return sorted(set(seen), key=repr)
        raise AssertionError(f"{self.name}: {step} did not end after {SCAN_LIMIT} calls")

    def close(self) -> None:
        for connection in self.connections:
            connection.disconnect()


def flush(*sides: Side) -> None:
    """Start an example from an empty keyspace on every side."""
    for side in sides:
        assert side.call(0, (b"FLUSHALL",)) == b"OK"


def compare(steps: Sequence[Step], oracle: Side, subject: Side) -> None:
    """Run `steps` on both sides in order; fail at the first reply that differs."""
    for number, step in enumerate(steps):
        if isinstance(step, Pop):
            step.check(oracle, subject)
            continue
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
