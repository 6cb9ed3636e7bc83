"""A small filesystem for one node's data dir, to fill it up and give the space back.

It is a size-limited tmpfs mounted at a directory of the test (needs root or
CAP_SYS_ADMIN; `SmallFilesystem.available()` says why not otherwise, and the disk-full
scenario then skips with that reason). `fill` writes a filler file until only
`leave_bytes` remain free, so the node's next writes fail with ENOSPC; `release` deletes it.
The mount is always unmounted on exit (lazily if a killed node's files are still open).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from types import TracebackType

FILL_CHUNK = 1 << 20


class SmallFilesystem:
    """A tmpfs of `size_mb` MiB at `mountpoint`, as a context manager."""

    def __init__(self, mountpoint: Path, size_mb: int) -> None:
        self.mountpoint = mountpoint
        self.size_mb = size_mb
        self.filler = mountpoint / "filler"
        self.mounted = False

    @staticmethod
    def available(probe_dir: Path) -> str | None:
        """None when a tmpfs can be mounted here, else the reason it cannot."""
        probe = probe_dir / "mount-probe"
        probe.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(probe)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            return f"cannot mount a tmpfs: {result.stderr.strip() or result.returncode}"
        subprocess.run(["umount", str(probe)], check=True)
        return None

    def __enter__(self) -> SmallFilesystem:
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={self.size_mb}m", "tmpfs", str(self.mountpoint)],
            check=True,
        )
        self.mounted = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.mountpoint)], check=False)
            self.mounted = False

    def free_bytes(self) -> int:
        st = os.statvfs(self.mountpoint)
        return st.f_bavail * st.f_frsize

    def fill(self, leave_bytes: int) -> int:
        """Write a filler file until at most `leave_bytes` are free; returns its size."""
        written = 0
        with open(self.filler, "ab") as f:
            while (room := self.free_bytes() - leave_bytes) > 0:
                try:
                    f.write(b"\0" * min(FILL_CHUNK, room))
                    f.flush()
                except OSError:
                    break
                written += min(FILL_CHUNK, room)
        return written

    def release(self) -> None:
        """Give the space back."""
        self.filler.unlink(missing_ok=True)
