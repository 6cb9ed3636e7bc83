"""Free listening ports for the real-process clusters of tests, chaos runs and benchmarks.

Ports come from below the kernel's ephemeral range. A port the kernel handed out for
`bind(0)` lies inside that range, so between the probe and the node's own bind, an
outgoing connection (a starting node dialling its peers) can take it; CI saw exactly that
as "Address already in use". Ports below the range are never chosen for outgoing
connections, so only another listener can race us, and nothing here listens for long.

A probe closes its socket, so a port stays free until its node binds it. A test draws
several ports before starting any node (each node's client, HTTP and internal port), so
without a memory two draws could return the same port: about 15 draws for a 5-node cluster
over ~12,700 candidates clash once in a hundred clusters, and CI saw it as "Address already
in use". This module therefore remembers the ports it handed out recently and never hands
one out twice while it is remembered (per process: the one piece of state here).
"""

from __future__ import annotations

import random
import socket
from collections import deque
from pathlib import Path

HOST = "127.0.0.1"
#: Linux's default ephemeral range, used where /proc does not say.
DEFAULT_EPHEMERAL_RANGE = (32768, 60999)
#: The lowest port handed out: above the registered services most machines run.
LOWEST_PORT = 20000
#: How many random starts are tried before giving up (a busy port is just skipped).
ATTEMPTS = 200
#: How many handed-out ports are remembered: far more than any test holds at once, far
#: fewer than the ~12,700 candidates.
REMEMBERED = 4096

_handed_out: deque[int] = deque(maxlen=REMEMBERED)


def ephemeral_range(path: Path = Path("/proc/sys/net/ipv4/ip_local_port_range")) -> tuple[int, int]:
    """The kernel's ephemeral port range (inclusive)."""
    try:
        low, high = (int(word) for word in path.read_text().split())
    except (OSError, ValueError):
        return DEFAULT_EPHEMERAL_RANGE
    return low, high


def candidate_range() -> tuple[int, int]:
    """The half-open range ports are drawn from: below the ephemeral range."""
    low = ephemeral_range()[0]
    if low - LOWEST_PORT < 1000:
        raise RuntimeError(
            f"the ephemeral port range starts at {low}: too low to keep test ports "
            f"({LOWEST_PORT} and up) out of it"
        )
    return LOWEST_PORT, low


def free_port_block(count: int) -> int:
    """The first of `count` consecutive ports on 127.0.0.1 that are free right now."""
    rng = random.Random()
    low, high = candidate_range()
    for _ in range(ATTEMPTS):
        first = rng.randrange(low, high - count)
        block = range(first, first + count)
        if all(_port_free(port) for port in block):
            _handed_out.extend(block)
            return first
    raise OSError(f"no block of {count} free ports in {low}-{high - 1} after {ATTEMPTS} attempts")


def free_ports(count: int) -> list[int]:
    """`count` distinct ports that are free right now (not necessarily consecutive)."""
    rng = random.Random()
    low, high = candidate_range()
    found: list[int] = []
    for _ in range(ATTEMPTS * count):
        port = rng.randrange(low, high)
        if port not in found and _port_free(port):
            found.append(port)
            if len(found) == count:
                _handed_out.extend(found)
                return found
    raise OSError(f"found only {len(found)} of {count} free ports in {low}-{high - 1}")


def free_port() -> int:
    """One port that is free right now."""
    return free_ports(1)[0]


def _port_free(port: int) -> bool:
    if port in _handed_out:
        return False
    with socket.socket() as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True
