"""Apply functions for commands on keys regardless of their type."""

from __future__ import annotations

from collections.abc import Callable

from seshat_trio.kv.transaction import Transaction
from seshat_trio.protocol import Reply


def apply_del(tx: Transaction, args: tuple[bytes, ...]) -> Reply:
    return sum(1 for key in args if tx.delete(key))


APPLY: dict[bytes, Callable[[Transaction, tuple[bytes, ...]], Reply]] = {b"del": apply_del}
