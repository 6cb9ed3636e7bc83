"""A single durable node driven by real clients: redis-py, redis-cli, redis-benchmark."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
import redis
from harness import NodeProcess
from redis.cluster import RedisCluster

pytestmark = pytest.mark.integration


def test_basic_commands_through_redis_py(node: NodeProcess) -> None:
    r = node.client()
    assert r.set("greeting", "hello") is True
    assert r.get("greeting") == b"hello"
    assert r.set(b"bin\x00\xff", b"\x00\r\n\xff") is True
    assert r.get(b"bin\x00\xff") == b"\x00\r\n\xff"
    assert r.set("empty", "") is True and r.get("empty") == b""
    assert r.exists("greeting", "missing", "greeting") == 2
    assert r.delete("greeting", "missing") == 1
    assert r.get("greeting") is None
    assert r.echo("hi") == b"hi"
    info = r.info()
    assert info["redis_version"] == "7.0.0" and info["cluster_enabled"] == 1
    assert info["db0"]["keys"] == 2
    # A single node is a one-shard cluster for cluster-aware clients.
    ((first, last, primary),) = r.execute_command("CLUSTER", "SLOTS")
    assert (first, last, primary[:2]) == (0, 16383, [b"127.0.0.1", node.port])
    with RedisCluster(host="127.0.0.1", port=node.port, socket_timeout=10) as cluster:
        assert cluster.set("a", "1") is True
        assert cluster.mget_nonatomic(["a", "nope", "empty"]) == [b"1", None, b""]
    assert "cluster_state:ok\r\n" in r.execute_command("CLUSTER", "INFO").decode()


def test_errors_are_worded_like_redis(node: NodeProcess) -> None:
    r = node.client()
    with pytest.raises(
        redis.ResponseError, match="unknown command 'NOPE', with args beginning with: 'x'"
    ):
        r.execute_command("NOPE", "x")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'get' command"):
        r.execute_command("GET")
    with pytest.raises(redis.ResponseError, match=r"key too large \(max 256 bytes\)"):
        r.set("k" * 257, "v")
    with pytest.raises(redis.ResponseError, match=r"value too large \(max 4194304 bytes\)"):
        r.set("k", "v" * 4194305)
    assert r.set("k" * 256, "v" * 4194304) is True
    # The connection survives command errors.
    assert r.ping() is True


def test_protocol_error_closes_only_that_connection(node: NodeProcess) -> None:
    other = node.client()
    other.set("survivor", "yes")
    with socket.create_connection(("127.0.0.1", node.port), timeout=5) as sock:
        sock.sendall(b"*1\r\n$abc\r\n")
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    assert reply == b"-ERR Protocol error: invalid bulk length\r\n"
    assert other.get("survivor") == b"yes"


def test_inline_commands(node: NodeProcess) -> None:
    with socket.create_connection(("127.0.0.1", node.port), timeout=5) as sock:
        sock.sendall(b'SET inline "hello world"\r\nGET inline\r\n')
        reply = b""
        while reply.count(b"\r\n") < 3:
            reply += sock.recv(4096)
    assert reply == b"+OK\r\n$11\r\nhello world\r\n"


def test_acknowledged_writes_survive_kill_9(node: NodeProcess) -> None:
    r = node.client()
    for i in range(200):
        assert r.set(f"key:{i}", f"value:{i}") is True
    node.signal(signal.SIGKILL)
    node.wait()
    node.start()
    r = node.client()
    assert [r.get(f"key:{i}") for i in range(200)] == [f"value:{i}".encode() for i in range(200)]


def test_sigterm_stops_cleanly_and_keeps_data(node: NodeProcess) -> None:
    r = node.client()
    r.set("k", "v")
    node.signal(signal.SIGTERM)
    assert node.wait() == 0
    node.start()
    assert node.client().get("k") == b"v"


def test_sigusr2_prints_every_thread_stack_and_keeps_serving(node: NodeProcess) -> None:
    """The operator's view into a stuck node: SIGUSR2 dumps the Python stacks into its log
    from the signal handler (no help from the event loop needed); the node goes on."""
    node.signal(signal.SIGUSR2)
    deadline = time.monotonic() + 10
    while "Current thread" not in node.log_path.read_text(errors="replace"):
        assert time.monotonic() < deadline, "no stack dump in the node's log"
        time.sleep(0.05)
    log = node.log_path.read_text(errors="replace")
    assert "File " in log and "seshat_trio" in log
    assert node.client().ping()


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli not installed")
def test_redis_cli(node: NodeProcess) -> None:
    def cli(*args: str) -> str:
        out = subprocess.run(
            ["redis-cli", "-p", str(node.port), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return out.stdout.strip()

    assert cli("SET", "from-cli", "hello world") == "OK"
    assert cli("GET", "from-cli") == "hello world"
    assert cli("DEL", "from-cli") == "1"
    assert cli("PING") == "PONG"
    assert "unknown command" in cli("FOO")


@pytest.mark.skipif(shutil.which("redis-benchmark") is None, reason="redis-benchmark not installed")
def test_redis_benchmark_completes_without_errors(node: NodeProcess) -> None:
    out = subprocess.run(
        [
            "redis-benchmark",
            "-p",
            str(node.port),
            "-t",
            "set,get",
            "-n",
            "3000",
            "-c",
            "20",
            "-d",
            "100",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "SET:" in out.stdout and "GET:" in out.stdout, out.stdout + out.stderr
    assert "error" not in (out.stdout + out.stderr).lower()
    value = node.client().get("key:__rand_int__")
    assert value is not None and len(value) == 100


def test_bad_configuration_exits_2_with_one_line_per_problem(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "seshat_trio",
            "serve",
            "--node-id",
            "0",
            "--client-addr",
            "nope",
            "--data-dir",
            str(tmp_path / "d"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert out.returncode == 2
    assert "node" in out.stderr and "client" in out.stderr
