"""EXPIRE with several flags applies the same way in every process: apply reruns the parse
on every node, and a parse that depended on set iteration order (PYTHONHASHSEED) made
replicas diverge for good."""

from __future__ import annotations

import os
import subprocess
import sys

import seshat_trio

# For each case: EXPIRE's reply at apply and the key's expiry afterwards (Redis 7.0.15:
# every flag must hold; a key without a TTL counts as an infinite one).
_SCRIPT = r"""
import tempfile
from pathlib import Path
from seshat_trio.kv.operations import Operation, encode_operation
from seshat_trio.kv.state_machine import KvStateMachine
from seshat_trio.storage import Store

CASES = [
    (None, (b"XX", b"LT")), (500, (b"XX", b"GT")), (None, (b"LT", b"XX")),
    (500, (b"GT", b"XX")), (500, (b"XX", b"LT")), (50, (b"XX", b"GT")),
]
out = []
for ttl, flags in CASES:
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "db") as store:
        sm = KvStateMachine(store, 1)
        commands = [(b"set", b"k", b"v")]
        if ttl is not None:
            commands.append((b"expire", b"k", b"%d" % ttl))
        commands.append((b"expire", b"k", b"100", *flags))
        for index, command in enumerate(commands, 1):
            (result,) = sm.apply([(index, encode_operation(Operation(0, (command,))))])
        value = sm.get(b"k")
        out.append((result.replies, value.expires_at_ms))
print(out)
"""

EXPECTED = [
    ((0,), 0),
    ((0,), 500_000),
    ((0,), 0),
    ((0,), 500_000),
    ((1,), 100_000),
    ((1,), 100_000),
]


def _apply_in_a_process(seed: int) -> str:
    src = os.path.dirname(os.path.dirname(seshat_trio.__file__))
    env = dict(os.environ, PYTHONHASHSEED=str(seed), PYTHONPATH=src)
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_expire_with_xx_and_gt_or_lt_applies_alike_under_every_hash_seed() -> None:
    results = {_apply_in_a_process(seed) for seed in range(6)}
    assert results == {repr(EXPECTED)}
