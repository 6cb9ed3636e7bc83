"""A reference redis-server 7.0 on 127.0.0.1 for oracle tests (stopped by its PID).

`reference_redis(workdir)` starts a fresh server (no persistence) and yields a client of
it; the calling test is skipped when redis-server is not installed or is not 7.0, the
version whose behaviour this store follows.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from seshat_trio.testing.ports import free_port


@contextlib.contextmanager
def reference_redis(workdir: Path) -> Iterator[redis.Redis]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(port=port, socket_timeout=5)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)
        version = client.info("server")["redis_version"]
        if not str(version).startswith("7.0."):
            pytest.skip(f"the reference is redis 7.0, found {version}")
        yield client
    finally:
        client.close()
        proc.kill()
        proc.wait(10)
