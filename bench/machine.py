"""Facts about the machine and the software a run measured, for the report.

The git commit is read from `.git` files directly (HEAD, then the loose or packed ref):
the harness never runs git.
"""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from bench import redis_benchmark

_CLK_TCK = os.sysconf("SC_CLK_TCK")

PACKAGES = ("seshat-trio", "trio", "pycapnp", "plyvel", "hiredis")
UNKNOWN = "unknown"


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    try:
        text = cpuinfo.read_text()
    except OSError:
        return platform.processor() or UNKNOWN
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            return value.strip()
    return platform.processor() or UNKNOWN


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """utime + stime of process `pid` so far (of its thread `thread` alone, if given):
    fields 14 and 15 of /proc/PID/stat, counted after the command name's closing paren
    (the name may hold spaces)."""
    stat = f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat"
    fields = Path(stat).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def context_switches(pid: int) -> tuple[int, int]:
    """(voluntary, involuntary) context switches of all of process `pid`'s threads so far,
    from /proc/PID/task/*/status: the first are waits (the thread blocked: nothing to do,
    or a disk sync), the second preemptions (another process took the core)."""
    voluntary = involuntary = 0
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        try:
            text = status.read_text()
        except OSError:  # the thread ended meanwhile
            continue
        for line in text.splitlines():
            key, _, value = line.partition(":")
            if key == "voluntary_ctxt_switches":
                voluntary += int(value)
            elif key == "nonvoluntary_ctxt_switches":
                involuntary += int(value)
    return voluntary, involuntary


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git_dirs(repo: Path) -> tuple[Path, Path] | None:
    """The directory holding `repo`'s HEAD and the one holding its refs: both `repo/.git`,
    or for a linked worktree (`git worktree add`) the directory its `.git` file names and
    that directory's `commondir`."""
    git = repo / ".git"
    if git.is_dir():
        return git, git
    try:
        pointer = git.read_text().strip()
    except OSError:
        return None
    if not pointer.startswith("gitdir: "):
        return None
    own = repo / pointer.removeprefix("gitdir: ")
    try:
        return own, own / (own / "commondir").read_text().strip()
    except OSError:
        return own, own


def git_commit(repo: Path) -> str:
    """HEAD's commit id, resolved by reading files under `repo/.git` (a directory, or a
    worktree's pointer to one)."""
    dirs = _git_dirs(repo)
    if dirs is None:
        return UNKNOWN
    git, common = dirs
    try:
        head = (git / "HEAD").read_text().strip()
    except OSError:
        return UNKNOWN
    if not head.startswith("ref: "):
        return head
    ref = head.removeprefix("ref: ")
    try:
        return (common / ref).read_text().strip()
    except OSError:
        pass
    try:
        packed = (common / "packed-refs").read_text()
    except OSError:
        return UNKNOWN
    for line in packed.splitlines():
        commit, _, name = line.partition(" ")
        if name == ref:
            return commit
    return f"{UNKNOWN} ({ref} has no commit yet)"


def redis_server_version() -> str:
    try:
        done = subprocess.run(
            ["redis-server", "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    return done.stdout.strip() or UNKNOWN


def facts(repo: Path) -> dict[str, str]:
    load1, load5, load15 = os.getloadavg()
    facts = {
        "cores": str(os.cpu_count() or UNKNOWN),
        "cpu": cpu_model(),
        "os": f"{platform.system()} {platform.release()}",
        "load average at start (1/5/15 min)": f"{load1:.2f} / {load5:.2f} / {load15:.2f}",
        "python": platform.python_version(),
    }
    facts.update({name: package_version(name) for name in PACKAGES})
    facts["redis-benchmark"] = redis_benchmark.version() or "not installed"
    facts["redis-server"] = redis_server_version()
    facts["git commit"] = git_commit(repo)
    return facts
