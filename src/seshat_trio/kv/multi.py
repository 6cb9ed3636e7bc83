"""MULTI/EXEC as one replicated operation, and the WATCH check made at apply time.

An EXEC operation's first command is ``(b"exec", key1, fp1, key2, fp2, ...)``: the watched
keys and a fingerprint of the value the client observed when it watched each one. The
queued commands follow. Applying it checks every fingerprint against the stored value at
that log position: if any differs (or a watched key has expired since), no command runs and
EXEC replies with a null array. Otherwise the commands run in order in the same entry; each
gets its own reply (an error in one does not undo the others, as in Redis).

Fingerprints compare values, not modification times: a watched key that is written and then
written back to exactly its observed value and expiry before EXEC does not abort it (Redis
would). This keeps the check a pure function of replicated data, so every node decides it
identically, with no per-key revision to persist.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

from seshat_trio.kv.transaction import Transaction
from seshat_trio.kv.view import is_expired
from seshat_trio.protocol import NULL_ARRAY, Reply
from seshat_trio.storage import StoredValue

EXEC = b"exec"


def fingerprint(value: StoredValue | None) -> bytes:
    """What a client observed for a watched key: b"" when absent."""
    if value is None:
        return b""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(value.kind.to_bytes(2, "big", signed=True))
    digest.update(value.expires_at_ms.to_bytes(8, "big", signed=True))
    digest.update(value.data)
    return digest.digest()


def exec_header(watched: Iterable[tuple[bytes, bytes]]) -> tuple[bytes, ...]:
    return (EXEC, *(part for pair in watched for part in pair))


def watch_holds(tx: Transaction, header: tuple[bytes, ...]) -> bool:
    pairs = header[1:]
    for i in range(0, len(pairs) - 1, 2):
        stored = tx.raw(pairs[i])
        if fingerprint(stored) != pairs[i + 1]:
            return False
        if stored is not None and is_expired(stored, tx.time_ms):
            return False
    return True


def apply_exec(
    tx: Transaction,
    commands: tuple[tuple[bytes, ...], ...],
    run: Callable[[tuple[bytes, ...]], Reply],
) -> Reply:
    if not watch_holds(tx, commands[0]):
        return NULL_ARRAY
    return [run(command) for command in commands[1:]]
