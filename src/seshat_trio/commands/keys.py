"""The table rows of the data commands, derived from their registration in seshat_trio.kv.

Each data command is registered once, in its kv module, with its implementation and its
table row (kv/registry.py); this module turns every such row into a `CommandSpec` whose
handler is generic (commands/data.py). Commands registered without a row (internal ones,
or PING/ECHO/TIME, which other modules answer outside MULTI) get none here.
"""

from __future__ import annotations

from seshat_trio.commands.data import build_write, run_read
from seshat_trio.commands.table import (
    CommandSpec,
    KeyFlags,
    KeysProc,
    key_flags,
    register,
    subcommand,
)
from seshat_trio.kv import catalog  # noqa: F401  (registration)
from seshat_trio.kv.registry import READS, WRITES, Row
from seshat_trio.kv.registry import KeysProc as KvKeysProc


def _keys_proc(proc: KvKeysProc) -> KeysProc:
    def keys(argv: list[bytes]) -> list[tuple[int, KeyFlags]]:
        return [(pos, key_flags(flags)) for pos, flags in proc(argv)]

    return keys


def spec(name: bytes, row: Row, *, write: bool) -> CommandSpec:
    first, last, step = row.keys
    return CommandSpec(
        name.decode(),
        row.arity,
        row.flags,
        first,
        last,
        step,
        row.group,
        row.summary,
        row.since,
        row.complexity,
        run=None if write else run_read,
        build=build_write if write else None,
        key_flags=tuple(map(key_flags, row.access)),
        keys_proc=None if row.keys_proc is None else _keys_proc(row.keys_proc),
        acl_categories=row.acl,
        subcommands=tuple(subcommand(*sub) for sub in row.subcommands),
    )


register(
    *(spec(name, c.row, write=False) for name, c in READS.items() if c.row is not None),
    *(spec(name, c.row, write=True) for name, c in WRITES.items() if c.row is not None),
)
