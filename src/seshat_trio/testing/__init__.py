"""Test machinery: a Jepsen-style linearizability checker and a deterministic Raft simulator.

- `history`: the operation records clients produce (`HistoryRecorder`, `Operation`).
- `linearizability`: `check_linearizable(ops)`, a per-key Wing-Gong-Lowe search.
- `raftsim` and its modules: a seeded, single-threaded simulation of Raft groups
  with a faulty network, crashes that lose unsynced state, and invariant checks.
"""

from seshat_trio.testing.history import HistoryRecorder, Operation, OpKind, OpStatus
from seshat_trio.testing.linearizability import CheckResult, check_linearizable

__all__ = [
    "CheckResult",
    "HistoryRecorder",
    "OpKind",
    "OpStatus",
    "Operation",
    "check_linearizable",
]
