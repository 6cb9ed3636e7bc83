"""Apply functions for string commands. Each takes the run's transaction and the command's
arguments (already validated by the command layer) and returns the client reply."""

from __future__ import annotations

from collections.abc import Callable

from seshat_trio.kv.transaction import Transaction
from seshat_trio.protocol import Reply, SimpleString
from seshat_trio.storage import StoredValue

STRING = 0
OK = SimpleString("OK")


def apply_set(tx: Transaction, args: tuple[bytes, ...]) -> Reply:
    key, value = args
    tx.put(key, StoredValue(kind=STRING, data=value, expires_at_ms=0))
    return OK


APPLY: dict[bytes, Callable[[Transaction, tuple[bytes, ...]], Reply]] = {b"set": apply_set}
