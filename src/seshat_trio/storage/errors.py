"""The one exception the storage layer raises, and the translation of LevelDB/OS errors into it.

Callers above storage catch only `StorageError`; its message names the store path and, for a
full disk, says so plainly, because that is what an operator has to act on.
"""

from __future__ import annotations

import errno
from pathlib import Path

import plyvel

# What LevelDB and the OS raise; RuntimeError is plyvel's "database is closed".
DB_ERRORS = (plyvel.Error, OSError, RuntimeError)
_DISK_FULL_MARKERS = ("no space left on device", "disk full", "enospc")


class StorageError(Exception):
    """A storage operation failed; the message says what, where and (if known) why."""


def translate(exc: BaseException, action: str, path: Path) -> StorageError:
    """The StorageError for a plyvel/OS error raised while doing `action` on the store at `path`."""
    text = str(exc)
    disk_full = (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or any(
        marker in text.lower() for marker in _DISK_FULL_MARKERS
    )
    reason = "disk full" if disk_full else type(exc).__name__
    return StorageError(f"{action} failed on store {path}: {reason}: {text}")
