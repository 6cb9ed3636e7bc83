"""Crash tests with real processes: SIGKILL never loses an acknowledged batch nor exposes
half of one; a crash mid-install leaves the old or the new values, never a mix; a failed
write (a real I/O error) leaves the store usable."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seshat_trio.storage import Store, keys

CHILD = Path(__file__).with_name("storage_child.py")
sys.path.insert(0, str(CHILD.parent))
import storage_child  # noqa: E402


def start(mode: str, path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(CHILD), mode, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill(proc: subprocess.Popen[str]) -> str:
    """SIGKILL the child (by its pid) and return everything it printed."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    out, _ = proc.communicate(timeout=10)
    return out


def read_acks(proc: subprocess.Popen[str], count: int) -> list[str]:
    """The child's lines up to its `count`-th acknowledgement (fewer if it exits first)."""
    assert proc.stdout is not None
    lines: list[str] = []
    acks = 0
    while acks < count:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        acks += line.startswith("ack ")
    return lines


def wait_for_line(proc: subprocess.Popen[str], wanted: str, timeout: float = 10.0) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.strip() == wanted:
            return
    stderr = proc.stderr.read() if proc.stderr else ""
    raise AssertionError(f"child never printed {wanted!r}; stderr: {stderr}")


@pytest.mark.parametrize("seed", range(4))
def test_sigkill_keeps_every_acknowledged_batch_whole(tmp_path: Path, seed: int) -> None:
    path = tmp_path / "db"
    proc = start("acks", path)
    try:
        # Kill once the child has acknowledged enough to test something (on a loaded machine
        # a fixed sleep may see none), at a point in its write loop that varies with the seed.
        early = read_acks(proc, 20)
        time.sleep(random.Random(seed).random() * 0.5)
    finally:
        out = "".join(early) + kill(proc)
    acked = {int(line.split()[1]) for line in out.splitlines() if line.startswith("ack ")}
    assert len(acked) > 20, "the child acknowledged too little to test anything"
    with Store.open(path) as store:
        present = {int(name.removeprefix("seq")) for name in _system_names(store)}
        assert acked <= present, f"lost acknowledged batches: {sorted(acked - present)[:10]}"
        logged: set[int] = set()
        for group in range(1, 9):
            entries = store.log_entries(group, 1, store.last_log_index(group) + 1)
            assert [e.index for e in entries] == list(range(1, len(entries) + 1))
            logged |= {int(e.data) for e in entries}
        for seq in present:  # every batch that is visible at all is visible whole
            group = 1 + seq % 8
            expected = str(seq).encode()
            assert store.get_system(0, f"seq{seq}") == expected
            for key in (f"seq{seq}", f"mirror{seq}"):
                stored = store.get_value(group, key.encode())
                assert stored is not None and stored.data == expected
        assert logged == present


def _system_names(store: Store) -> list[str]:
    prefix = keys.group_prefix(keys.SYSTEM_DATA, 0)
    return [k[len(prefix) :].decode() for k, _ in store._db.iterator(prefix=prefix)]


def _values(path: Path) -> dict[bytes, bytes]:
    with Store.open(path) as store:
        return {k: v.data for k, v in store.iter_values(1)}


def test_crash_while_staging_keeps_the_old_values(tmp_path: Path) -> None:
    path = tmp_path / "db"
    proc = start("stage", path)
    try:
        proc.wait(timeout=30)
    finally:
        kill(proc)
    assert _values(path) == storage_child.OLD
    with Store.open(path) as store:
        # The half-staged generation was purged when the store reopened.
        assert sum(1 for _ in store._db.iterator(prefix=keys.values_prefix(1))) == 3000
        assert store.applied(1) == 0


@pytest.mark.parametrize("seed", range(3))
def test_sigkill_during_install_leaves_old_or_new(tmp_path: Path, seed: int) -> None:
    path = tmp_path / "db"
    proc = start("install", path)
    try:
        wait_for_line(proc, "ready")
        time.sleep(random.Random(seed).random() * 0.3)
    finally:
        out = kill(proc)
    values = _values(path)
    assert values in (storage_child.OLD, storage_child.NEW)
    with Store.open(path) as store:
        assert store.applied(1) == (77 if values == storage_child.NEW else 0)
    if "installed" in out:
        assert values == storage_child.NEW


def test_failed_write_leaves_store_usable(tmp_path: Path) -> None:
    path = tmp_path / "db"
    proc = start("fsize", path)
    try:
        out, err = proc.communicate(timeout=30)
    finally:
        kill(proc)
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("failed write failed on store"), out
    assert lines[1] == "recovered"
    values = _values(path)
    assert values[b"before"] == b"ok"
    assert values[b"after"] == b"ok"
    assert b"big" not in values
