"""The port picker keeps test clusters out of the kernel's ephemeral range."""

from __future__ import annotations

import socket
from collections import deque
from pathlib import Path

import pytest

from seshat_trio.testing import ports


def test_ports_come_from_below_the_ephemeral_range() -> None:
    low = ports.ephemeral_range()[0]
    chosen = ports.free_ports(30)
    assert len(set(chosen)) == 30
    assert all(ports.LOWEST_PORT <= port < low for port in chosen)
    first = ports.free_port_block(9)
    assert first >= ports.LOWEST_PORT and first + 9 <= low


def test_chosen_ports_can_be_listened_on() -> None:
    first = ports.free_port_block(3)
    for port in range(first, first + 3):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_ephemeral_range_is_read_from_the_kernel_file(tmp_path: Path) -> None:
    path = tmp_path / "ip_local_port_range"
    path.write_text("40000\t50000\n")
    assert ports.ephemeral_range(path) == (40000, 50000)
    path.write_text("garbage")
    assert ports.ephemeral_range(path) == ports.DEFAULT_EPHEMERAL_RANGE
    assert ports.ephemeral_range(tmp_path / "missing") == ports.DEFAULT_EPHEMERAL_RANGE


def test_a_range_too_low_to_stay_below_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ports, "ephemeral_range", lambda: (20500, 60999))
    with pytest.raises(RuntimeError, match="ephemeral port range starts at 20500"):
        ports.free_port()


def test_a_port_is_not_handed_out_twice_while_remembered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every probe finds its port free (nothing binds them), as between a test's draws and
    # its nodes' binds; only the memory keeps the draws apart.
    monkeypatch.setattr(ports, "candidate_range", lambda: (20000, 20100))
    monkeypatch.setattr(ports, "_handed_out", deque(maxlen=ports.REMEMBERED))
    drawn = [ports.free_port() for _ in range(20)] + ports.free_ports(10)
    first = ports.free_port_block(5)
    drawn += range(first, first + 5)
    assert len(set(drawn)) == len(drawn) == 35
