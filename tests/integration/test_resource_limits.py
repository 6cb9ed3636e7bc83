"""The issue's resource attacks on a real node: memory stays bounded, health keeps answering.

- Six connections send the header of a 59 MiB SET and hold (RSS went 45 -> 379 MiB): each
  is refused at its header now, since no request may exceed the largest write.
- Forty connections each hold almost a whole 4 MiB SET: maxmemory-clients closes the largest
  holders so that all of them together stay under the cap, and the request read deadline
  closes the rest.
- Thirty-two (and more) slow HTTP connections trickle request heads: /health and /ready
  keep answering at once.
"""

from __future__ import annotations

import contextlib
import re
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from harness import NodeProcess, wait_for

pytestmark = pytest.mark.integration

MIB = 1 << 20


def rss_mib(node: NodeProcess) -> float:
    assert node.proc is not None
    status = Path(f"/proc/{node.proc.pid}/status").read_text()
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    assert found is not None
    return int(found.group(1)) / 1024


def http_get(node: NodeProcess, path: str, timeout: float = 2.0) -> int:
    url = f"http://127.0.0.1:{node.http_port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def limit_hits(node: NodeProcess) -> dict[str, int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{node.http_port}/metrics", timeout=5) as r:
        text = r.read().decode()
    return {
        m.group(1): int(float(m.group(2)))
        for m in re.finditer(r'^seshat_limit_hits_total\{limit="([^"]+)"\} (\S+)$', text, re.M)
    }


def set_header(size: int) -> bytes:
    return b"*3\r\n$3\r\nSET\r\n$4\r\nbig!\r\n$%d\r\n" % size


@contextlib.contextmanager
def sockets(port: int, count: int) -> Iterator[list[socket.socket]]:
    opened = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(count)]
    try:
        yield opened
    finally:
        for sock in opened:
            sock.close()


def is_closed(sock: socket.socket, wait: float = 5.0) -> bool:
    sock.settimeout(wait)
    try:
        while sock.recv(1 << 16):
            pass
    except (ConnectionResetError, BrokenPipeError):
        pass
    except TimeoutError:
        return False
    return True


@pytest.fixture
def limited_node(tmp_path: Path) -> Iterator[NodeProcess]:
    handle = NodeProcess(
        tmp_path / "data",
        tmp_path / "node.log",
        ["--maxmemory-clients", "64mb", "--request-read-timeout-ms", "4000", "--timeout", "3"],
    )
    try:
        handle.start()
        wait_for("healthy", lambda: http_get(handle, "/health") == 200, timeout=15)
        yield handle
    finally:
        handle.stop()


def test_headers_of_huge_writes_are_refused_at_once(limited_node: NodeProcess) -> None:
    before = rss_mib(limited_node)
    with sockets(limited_node.port, 6) as held:
        for sock in held:
            sock.sendall(set_header(59 * MIB))
        for sock in held:
            sock.settimeout(5)
            reply = sock.recv(200)
            assert reply.startswith(b"-ERR Protocol error: request too large (max 4259840 bytes")
            assert is_closed(sock)
    assert rss_mib(limited_node) - before < 20
    assert limit_hits(limited_node)["max_request_bytes"] == 6
    assert http_get(limited_node, "/health") == 200


def test_many_held_writes_stay_under_maxmemory_clients(limited_node: NodeProcess) -> None:
    before = rss_mib(limited_node)
    peak = before
    body = b"x" * (4 * MIB - 64 * 1024)
    with sockets(limited_node.port, 40) as held:
        for sock in held:
            with contextlib.suppress(OSError):  # closed by the node meanwhile
                sock.sendall(set_header(4 * MIB) + body)
            peak = max(peak, rss_mib(limited_node))
        time.sleep(0.5)
        peak = max(peak, rss_mib(limited_node))
        # The node is fine: it answers its health check and other clients.
        assert http_get(limited_node, "/health") == 200
        with limited_node.client() as r:
            assert r.ping() is True
        evicted = limit_hits(limited_node).get("maxmemory_clients", 0)
        assert evicted >= 40 - 64 // 4  # at most ~16 of ~4 MiB fit under 64 MiB
        # The rest are cut off by the idle timeout (3 s) or the request read deadline (4 s).
        def cut_off() -> int:
            hits = limit_hits(limited_node)
            reasons = ("maxmemory_clients", "timeout", "request_read_timeout")
            return sum(hits.get(reason, 0) for reason in reasons)

        wait_for("held requests cut off", lambda: cut_off() >= 40, timeout=10)
        assert all(is_closed(sock) for sock in held)
    # 64 MiB of input at most, plus what reading it costs; it was 330 MiB for six 59 MiB
    # headers before.
    assert peak - before < 64 + 60, (before, peak)


def test_idle_clients_are_closed_after_timeout(limited_node: NodeProcess) -> None:
    with sockets(limited_node.port, 1) as (idle,):
        idle.sendall(b"*1\r\n$4\r\nPING\r\n")
        idle.settimeout(5)
        assert idle.recv(100) == b"+PONG\r\n"
        started = time.monotonic()
        assert is_closed(idle, wait=10)
        assert 3 <= time.monotonic() - started < 6
    assert limit_hits(limited_node)["timeout"] >= 1


def test_slow_http_connections_do_not_take_health_offline(limited_node: NodeProcess) -> None:
    with sockets(limited_node.http_port, 64) as slow:
        for sock in slow:
            sock.sendall(b"GET /health HTTP/1.1\r\nX-Slow: ")
        for _ in range(5):
            for path in ("/health", "/ready", "/metrics"):
                started = time.monotonic()
                assert http_get(limited_node, path) == 200
                assert time.monotonic() - started < 1.0
        hits = limit_hits(limited_node)
        assert hits["http_slow_connection_evicted"] >= 32


def test_maxmemory_refuses_growth_and_loses_nothing(limited_node: NodeProcess) -> None:
    with limited_node.client() as r:
        assert r.set("kept", "v") is True
        used = r.info("memory")["used_memory"]
        assert used > 10 * MIB and r.info("memory")["maxmemory_policy"] == "noeviction"
        assert r.config_set("maxmemory", "1mb") is True
        assert r.config_get("maxmemory") == {"maxmemory": str(1 << 20)}
        for attempt in (lambda: r.set("new", "v"), lambda: r.append("kept", "x")):
            try:
                attempt()
            except redis.ResponseError as exc:
                assert str(exc) == "command not allowed when used memory > 'maxmemory'."
            else:
                raise AssertionError("a write that grows the data went through")
        assert r.get("kept") == b"v"  # nothing lost, reads still served
        assert r.delete("kept") == 1  # and deletions still run
        assert limit_hits(limited_node)["maxmemory"] == 2
        assert r.config_set("maxmemory", "0") is True
        assert r.set("new", "v") is True


def test_the_issues_glob_pattern_answers_at_once(limited_node: NodeProcess) -> None:
    """KEYS and SCAN MATCH with `a*a*...*b` against a 40-byte key hung the node for
    minutes (a backtracking regex); now the reply comes well within the client's 10 s
    timeout and the node keeps serving."""
    pattern = "a*" * 19 + "b"
    with limited_node.client() as r:
        assert r.set("a" * 40, "v") is True
        assert r.keys(pattern) == []
        assert r.scan(0, match=pattern, count=100) == (0, [])
        assert r.keys("a*" * 19 + "a") == [b"a" * 40]
        assert r.ping() is True
    assert http_get(limited_node, "/health") == 200
